/**
 * The training loop: teacher-forced batches through the training model,
 * backward, clipping, optimizer update; validation loss and per-token
 * accuracy after every epoch. Everything that decides what happens next —
 * data order, dropout randomness, optimizer slots, position in the epoch —
 * is in `TrainerState`, so a run restored from a checkpoint continues
 * exactly as if it had never stopped. No file I/O here: checkpoints are
 * handed to a callback.
 */
import { Rng, noGrad, clearTape, clipGradNorm, createOptimizer, type Optimizer, type OptimizerState } from '../engine/index.js';
import { planEpoch, makeBatch, type ExampleList } from '../data/batching.js';
import type { TranslationModel } from '../model/model.js';
import { TRAIN_DEFAULTS, validateTrainOptions, type TrainOptions } from './options.js';
import type { EpochRecord } from '../model/training.js';
import { S2SError } from '../errors.js';

export type { EpochRecord };

export interface TrainerState {
  /** Completed epochs. */
  epoch: number;
  /** Batches done in the current epoch. */
  batchInEpoch: number;
  /** Optimizer updates so far. */
  step: number;
  /** Data-order RNG state at the start of the current epoch (the plan is recomputed from it). */
  epochRngState: number[];
  /** Data-order RNG state now (the next epoch starts from it). */
  dataRngState: number[];
  dropoutRngState: number[];
  /** Running sums of the current epoch. */
  epochLossSum: number;
  epochTokens: number;
  epochSeconds: number;
  history: EpochRecord[];
  /** Best value of the monitored metric so far, and its epoch. */
  best: { value: number; epoch: number } | null;
  /** Epochs since the monitored metric last improved. */
  badEpochs: number;
  /** True when early stopping or the time budget ended the run. */
  stoppedEarly: boolean;
  /** Wall-clock seconds spent training and validating, over all sessions of the run. */
  elapsedSeconds: number;
  /** Batches skipped for a non-finite loss or gradient (nanPolicy skip-batch). */
  skippedBatches: number;
  optimizer: OptimizerState | null;
}

/** Progress after one batch (`onBatch`). */
export interface BatchProgress {
  epoch: number;
  batch: number;
  batches: number;
  step: number;
  loss: number;
  tokensPerSecond: number;
}

export interface TrainerCallbacks {
  onBatch?(p: BatchProgress): void;
  onEpoch?(r: EpochRecord): void;
  /** Called at checkpoint points with a snapshot of the state; may be async (the loop waits). */
  onCheckpoint?(state: TrainerState, reason: 'step' | 'epoch' | 'end'): void | Promise<void>;
  /** Polled between batches; returning true stops cleanly after a checkpoint. */
  shouldStop?(): boolean;
  /** Validation BLEU of the current weights (needs decoding, which lives above this layer). */
  validationBleu?(): number;
  /** The monitored metric improved: the current weights are the best so far. */
  onBest?(state: TrainerState): void | Promise<void>;
}

/** Training stopped on a NaN or infinite loss or gradient (nanPolicy 'stop'). */
export class NonFiniteLossError extends S2SError {
  constructor(readonly step: number, readonly loss: number) {
    super(
      `${Number.isFinite(loss) ? 'a gradient became non-finite' : `training loss became ${loss}`} at step ${step}; the last good checkpoint is kept. ` +
        'Try a lower learning rate (--lr) or gradient clipping (--clip-norm), or skip such batches with --nan-policy skip-batch.',
    );
    this.name = 'NonFiniteLossError';
  }
}

export interface Evaluation {
  loss: number;
  accuracy: number;
  tokens: number;
}

/** Teacher-forced loss and per-token accuracy (padding excluded), without gradients. */
export function evaluateLoss(model: TranslationModel, examples: ExampleList, batchSize: number): Evaluation {
  if (examples.length === 0) return { loss: NaN, accuracy: NaN, tokens: 0 };
  const plan = planEpoch(examples, { batchSize, shuffle: false }, new Rng(0));
  let lossSum = 0, tokens = 0, correct = 0;
  noGrad(() => {
    for (const indices of plan) {
      const r = model.forward(makeBatch(examples, indices));
      lossSum += r.loss.item() * r.tokens;
      tokens += r.tokens;
      correct += r.correct;
    }
  });
  return { loss: lossSum / tokens, accuracy: correct / tokens, tokens };
}

export class Trainer {
  readonly options: TrainOptions;
  readonly optimizer: Optimizer;
  state: TrainerState;
  private readonly dataRng: Rng;
  private readonly dropoutRng: Rng;

  constructor(
    readonly model: TranslationModel,
    readonly data: { train: ExampleList; validation: ExampleList },
    options: Partial<TrainOptions>,
    readonly callbacks: TrainerCallbacks = {},
  ) {
    this.options = { ...TRAIN_DEFAULTS, ...options };
    validateTrainOptions(this.options);
    if (data.train.length === 0) throw new S2SError('no training examples (is the training split empty?)');
    this.optimizer = createOptimizer(this.options.optimizer, model.parameters(), this.options.learningRate);
    this.dataRng = new Rng(this.options.seed * 2 + 1);
    this.dropoutRng = new Rng(this.options.seed * 2 + 2);
    this.state = {
      epoch: 0, batchInEpoch: 0, step: 0,
      epochRngState: this.dataRng.getState(), dataRngState: this.dataRng.getState(), dropoutRngState: this.dropoutRng.getState(),
      epochLossSum: 0, epochTokens: 0, epochSeconds: 0, history: [],
      best: null, badEpochs: 0, stoppedEarly: false, skippedBatches: 0, elapsedSeconds: 0, optimizer: null,
    };
  }

  /** Restores a state saved by a checkpoint (weights are restored separately). */
  restore(state: TrainerState): void {
    this.state = structuredClone(state);
    this.dataRng.setState(state.dataRngState);
    this.dropoutRng.setState(state.dropoutRngState);
    if (state.optimizer) this.optimizer.setState(state.optimizer);
  }

  /** A consistent copy of everything needed to continue. */
  snapshot(): TrainerState {
    return {
      ...structuredClone({ ...this.state, optimizer: null }),
      dataRngState: this.dataRng.getState(),
      dropoutRngState: this.dropoutRng.getState(),
      optimizer: this.optimizer.getState(),
    };
  }

  get done(): boolean {
    return this.state.epoch >= this.options.epochs || this.state.stoppedEarly;
  }

  async run(): Promise<TrainerState> {
    const { batchSize, clipNorm, checkpointEvery } = this.options;
    const params = this.model.parameters();
    let lastYield = Date.now();
    while (!this.done) {
      // The plan is a function of the RNG state at the epoch start, so a resumed run recomputes the same plan.
      this.dataRng.setState(this.state.epochRngState);
      const plan = planEpoch(this.data.train, { batchSize }, this.dataRng);
      this.state.dataRngState = this.dataRng.getState();
      const epochNo = this.state.epoch + 1;
      let t0 = performance.now();
      const budget = this.options.maxMinutes > 0 ? this.options.maxMinutes * 60 : Infinity;
      for (let b = this.state.batchInEpoch; b < plan.length; b++) {
        if ((this.state.elapsedSeconds ?? 0) >= budget) {
          // Time is up: close this (partial) epoch with a validation so the best model is kept.
          this.state.stoppedEarly = true;
          break;
        }
        const batch = makeBatch(this.data.train, plan[b]);
        this.optimizer.zeroGrad();
        const r = this.model.forward(batch, { training: true, rng: this.dropoutRng });
        const loss = r.loss.item();
        let finite = Number.isFinite(loss);
        if (finite) {
          r.loss.backward();
          finite = Number.isFinite(clipGradNorm(params, clipNorm > 0 ? clipNorm : Infinity));
        } else clearTape();
        if (!finite) {
          if (this.options.nanPolicy === 'stop') throw new NonFiniteLossError(this.state.step + 1, loss);
          this.optimizer.zeroGrad();
          this.state.skippedBatches = (this.state.skippedBatches ?? 0) + 1;
        } else {
          this.optimizer.update();
          this.state.step++;
          this.state.epochLossSum += loss * r.tokens;
          this.state.epochTokens += r.tokens;
        }
        this.state.batchInEpoch = b + 1;
        const now = performance.now();
        this.state.epochSeconds += (now - t0) / 1000;
        this.state.elapsedSeconds = (this.state.elapsedSeconds ?? 0) + (now - t0) / 1000;
        t0 = now;
        this.callbacks.onBatch?.({
          epoch: epochNo, batch: b + 1, batches: plan.length, step: this.state.step,
          loss: this.state.epochLossSum / this.state.epochTokens,
          tokensPerSecond: this.state.epochTokens / Math.max(1e-9, this.state.epochSeconds),
        });
        if (checkpointEvery > 0 && this.state.step % checkpointEvery === 0 && b + 1 < plan.length) {
          await this.callbacks.onCheckpoint?.(this.snapshot(), 'step');
        }
        if (Date.now() - lastYield > 100) {
          await new Promise((resolve) => setTimeout(resolve, 0)); // let signals and timers run
          lastYield = Date.now();
          t0 = performance.now();
        }
        if (this.callbacks.shouldStop?.()) {
          await this.callbacks.onCheckpoint?.(this.snapshot(), 'step');
          return this.snapshot();
        }
      }
      const tVal = performance.now();
      const val = this.data.validation.length > 0 ? evaluateLoss(this.model, this.data.validation, batchSize) : null;
      const bleu = this.options.bleuSamples > 0 && this.callbacks.validationBleu ? this.callbacks.validationBleu() : null;
      this.state.elapsedSeconds = (this.state.elapsedSeconds ?? 0) + (performance.now() - tVal) / 1000;
      const record: EpochRecord = {
        epoch: epochNo,
        step: this.state.step,
        trainLoss: this.state.epochLossSum / Math.max(1, this.state.epochTokens),
        valLoss: val ? val.loss : null,
        valAccuracy: val ? val.accuracy : null,
        valBleu: bleu,
        seconds: this.state.epochSeconds,
        tokensPerSecond: this.state.epochTokens / Math.max(1e-9, this.state.epochSeconds),
        learningRate: this.optimizer.learningRate,
      };
      this.state.history.push(record);
      this.state.epoch = epochNo;
      this.state.batchInEpoch = 0;
      this.state.epochLossSum = 0;
      this.state.epochTokens = 0;
      this.state.epochSeconds = 0;
      this.state.epochRngState = this.state.dataRngState;
      this.callbacks.onEpoch?.(record);
      await this.afterValidation(record);
      await this.callbacks.onCheckpoint?.(this.snapshot(), this.done ? 'end' : 'epoch');
      if (this.callbacks.shouldStop?.()) break;
    }
    return this.snapshot();
  }

  /** Best-model tracking, learning-rate decay on plateau and early stopping. */
  private async afterValidation(record: EpochRecord): Promise<void> {
    const o = this.options;
    const value = o.monitor === 'bleu' ? record.valBleu : record.valLoss;
    if (value === null || !Number.isFinite(value)) {
      await this.callbacks.onBest?.(this.snapshot()); // nothing to compare: the latest is the best we know
      return;
    }
    const best = this.state.best;
    const improved = !best || (o.monitor === 'bleu' ? value > best.value : value < best.value);
    if (improved) {
      this.state.best = { value, epoch: record.epoch };
      this.state.badEpochs = 0;
      await this.callbacks.onBest?.(this.snapshot());
      return;
    }
    this.state.badEpochs++;
    if (o.lrDecay < 1 && this.state.badEpochs % o.lrPatience === 0) {
      this.optimizer.learningRate = Math.max(o.minLearningRate, this.optimizer.learningRate * o.lrDecay);
    }
    if (o.patience > 0 && this.state.badEpochs >= o.patience) this.state.stoppedEarly = true;
  }
}
