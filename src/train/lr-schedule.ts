/**
 * Learning-rate schedules, per optimizer update. The rate of update `step`
 * (1 for the first) is `base · lrFactor(schedule, step, warmup)`, where
 * `base` starts at --lr and is lowered by plateau decay (--lr-decay), so the
 * two compose: the schedule shapes each epoch's updates, the decay scales
 * the whole curve down after a bad epoch.
 *
 *   constant:     1 (no warmup)
 *   inverse-sqrt: step/warmup while step < warmup, then √(warmup/step)  (fairseq's, from 0)
 *   noam:         min(step^-0.5, step·warmup^-1.5) · warmup^0.5
 *
 * With --lr as the peak (reached at step = warmup), noam's formula is the
 * same curve as inverse-sqrt; the name is accepted for users of OpenNMT and
 * Sockeye, where d_model^-0.5 · factor plays the part of --lr.
 */
import type { LrScheduleName } from '../model/training.js';

export type { LrScheduleName };

/** The schedule names, as the option table lists them. */
export const LR_SCHEDULES: readonly LrScheduleName[] = ['constant', 'inverse-sqrt', 'noam'];

/** The multiplier of the base learning rate at update `step` (≥ 1). */
export function lrFactor(schedule: LrScheduleName, step: number, warmupSteps: number): number {
  const s = Math.max(1, step), w = warmupSteps;
  switch (schedule) {
    case 'constant':
      return 1;
    case 'inverse-sqrt':
      return s < w ? s / w : Math.sqrt(w / s);
    case 'noam':
      return Math.min(s ** -0.5, s * w ** -1.5) * w ** 0.5;
  }
}
