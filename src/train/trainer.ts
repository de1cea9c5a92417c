/**
 * The training loop: teacher-forced batches through the training model,
 * backward, clipping, optimizer update; validation loss and per-token
 * accuracy after every epoch. Everything that decides what happens next —
 * data order, dropout randomness, optimizer slots, position in the epoch —
 * is in `TrainerState`, so a run restored from a checkpoint continues
 * exactly as if it had never stopped. No file I/O here: checkpoints are
 * handed to a callback.
 */
import { Rng, noGrad, clearTape, clipGradNorm, createOptimizer, Adam, type Optimizer, type OptimizerState } from '../engine/index.js';
import { planEpoch, makeBatch, splitIndices, type ExampleList } from '../data/batching.js';
import { ReplicaPool } from './replica-pool.js';
import { lrFactor } from './lr-schedule.js';
import type { TranslationModel, RunOptions } from '../model/model.js';
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
  /**
   * The learning rate before the schedule's factor: --lr, lowered by plateau
   * decay. Absent in checkpoints made before schedules: the optimizer's rate.
   */
  baseLearningRate?: number;
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

/**
 * Teacher-forced loss and per-token accuracy (padding excluded), without
 * gradients; the plain NLL (no label smoothing), whatever the training loss is.
 * Batches of `batchSize` sentences, or of `batchTokens` padded tokens when > 0.
 */
export function evaluateLoss(model: TranslationModel, examples: ExampleList, batchSize: number, batchTokens = 0): Evaluation {
  if (examples.length === 0) return { loss: NaN, accuracy: NaN, tokens: 0 };
  const plan = planEpoch(examples, { batchSize, maxTokens: batchTokens, shuffle: false }, new Rng(0));
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
    const o = this.options;
    this.optimizer = o.optimizer === 'adam'
      ? new Adam(model.parameters(), { learningRate: o.learningRate, beta1: o.adamBeta1, beta2: o.adamBeta2 })
      : createOptimizer(o.optimizer, model.parameters(), o.learningRate);
    this.dataRng = new Rng(this.options.seed * 2 + 1);
    this.dropoutRng = new Rng(this.options.seed * 2 + 2);
    this.state = {
      epoch: 0, batchInEpoch: 0, step: 0,
      epochRngState: this.dataRng.getState(), dataRngState: this.dataRng.getState(), dropoutRngState: this.dropoutRng.getState(),
      epochLossSum: 0, epochTokens: 0, epochSeconds: 0, history: [],
      best: null, badEpochs: 0, stoppedEarly: false, skippedBatches: 0, elapsedSeconds: 0,
      baseLearningRate: this.options.learningRate, optimizer: null,
    };
  }

  /** Restores a state saved by a checkpoint (weights are restored separately). */
  restore(state: TrainerState): void {
    this.state = structuredClone(state);
    this.dataRng.setState(state.dataRngState);
    this.dropoutRng.setState(state.dropoutRngState);
    if (state.optimizer) this.optimizer.setState(state.optimizer);
    this.state.baseLearningRate ??= state.optimizer?.learningRate ?? this.options.learningRate;
  }

  /** The learning rate of update `step` (1-based): the base rate times the schedule's factor. */
  private rateAt(step: number): number {
    const o = this.options;
    return (this.state.baseLearningRate ?? o.learningRate) * lrFactor(o.lrSchedule, step, o.warmupSteps);
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
    // Not an object literal at the call, so models whose RunOptions lack labelSmoothing still type-check.
    const runOptions = { training: true, rng: this.dropoutRng, labelSmoothing: this.options.labelSmoothing };
    const pool = this.options.dataParallel > 1 ? new ReplicaPool(this.model, this.options.dataParallel - 1) : null;
    try {
      return await this.epochs(pool, runOptions);
    } finally {
      await pool?.close();
    }
  }

  private async epochs(pool: ReplicaPool | null, runOptions: RunOptions): Promise<TrainerState> {
    const { batchSize, batchTokens, clipNorm, checkpointEvery, accumulate } = this.options;
    const params = this.model.parameters();
    let lastYield = Date.now();
    while (!this.done) {
      // The plan is a function of the RNG state at the epoch start, so a resumed run recomputes the same plan.
      this.dataRng.setState(this.state.epochRngState);
      const plan = planEpoch(this.data.train, { batchSize, maxTokens: batchTokens }, this.dataRng);
      this.state.dataRngState = this.dataRng.getState();
      const epochNo = this.state.epoch + 1;
      let t0 = performance.now();
      const budget = this.options.maxMinutes > 0 ? this.options.maxMinutes * 60 : Infinity;
      // One optimizer update per group of `accumulate` consecutive batches of the plan (the last may be shorter);
      // checkpoints fall between groups, so batchInEpoch is always a group boundary.
      for (let b = this.state.batchInEpoch; b < plan.length;) {
        if ((this.state.elapsedSeconds ?? 0) >= budget) {
          // Time is up: close this (partial) epoch with a validation so the best model is kept.
          this.state.stoppedEarly = true;
          break;
        }
        // With data parallelism each batch is dealt into parts, one per replica (the first is this thread's).
        const group = plan.slice(b, b + accumulate).map((indices) =>
          pool ? splitIndices(this.data.train, indices, pool.workers + 1).map((part) => makeBatch(this.data.train, part)) : [makeBatch(this.data.train, indices)]);
        const tokensPerBatch = group.map((parts) => parts.reduce((n, part) => n + part.tokens, 0));
        const groupTokens = tokensPerBatch.reduce((n, t) => n + t, 0);
        this.optimizer.zeroGrad();
        pool?.syncParameters();
        const losses: number[] = [];
        let loss = NaN, finite = true;
        for (const parts of group) {
          if (!pool) {
            const batch = parts[0];
            const r = this.model.forward(batch, runOptions);
            loss = r.loss.item();
            if (!Number.isFinite(loss)) {
              finite = false;
              clearTape();
              break;
            }
            // Each batch's loss is a mean over its tokens: weighting by tokens/groupTokens makes the summed
            // gradient that of the group's mean, as one big batch would give.
            if (group.length === 1) r.loss.backward();
            else r.loss.backward(Float32Array.of(batch.tokens / groupTokens));
          } else {
            loss = await pool.pass(this.model, parts, groupTokens, runOptions, this.dropoutRng);
            if (!Number.isFinite(loss)) {
              finite = false;
              break;
            }
          }
          losses.push(loss);
        }
        if (finite) finite = Number.isFinite(clipGradNorm(params, clipNorm > 0 ? clipNorm : Infinity));
        if (!finite) {
          if (this.options.nanPolicy === 'stop') throw new NonFiniteLossError(this.state.step + 1, loss);
          this.optimizer.zeroGrad();
          this.state.skippedBatches = (this.state.skippedBatches ?? 0) + group.length;
        } else {
          this.optimizer.learningRate = this.rateAt(this.state.step + 1);
          this.optimizer.update();
          this.state.step++;
          losses.forEach((l, i) => {
            this.state.epochLossSum += l * tokensPerBatch[i];
            this.state.epochTokens += tokensPerBatch[i];
          });
        }
        b += group.length;
        this.state.batchInEpoch = b;
        const now = performance.now();
        this.state.epochSeconds += (now - t0) / 1000;
        this.state.elapsedSeconds = (this.state.elapsedSeconds ?? 0) + (now - t0) / 1000;
        t0 = now;
        this.callbacks.onBatch?.({
          epoch: epochNo, batch: b, batches: plan.length, step: this.state.step,
          loss: this.state.epochLossSum / this.state.epochTokens,
          tokensPerSecond: this.state.epochTokens / Math.max(1e-9, this.state.epochSeconds),
        });
        if (checkpointEvery > 0 && this.state.step % checkpointEvery === 0 && b < plan.length) {
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
      // Validation runs on this thread alone: with its kernels' threads back while the replicas wait.
      const validate = (): [ReturnType<typeof evaluateLoss> | null, number | null] => [
        this.data.validation.length > 0 ? evaluateLoss(this.model, this.data.validation, batchSize, batchTokens) : null,
        this.options.bleuSamples > 0 && this.callbacks.validationBleu ? this.callbacks.validationBleu() : null,
      ];
      const [val, bleu] = pool ? pool.withAllThreads(validate) : validate();
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
      // The decay lowers the base rate (floored), so it scales the schedule's whole remaining curve.
      this.state.baseLearningRate = Math.max(o.minLearningRate, (this.state.baseLearningRate ?? this.optimizer.learningRate) * o.lrDecay);
      this.optimizer.learningRate = this.rateAt(Math.max(1, this.state.step));
    }
    if (o.patience > 0 && this.state.badEpochs >= o.patience) this.state.stoppedEarly = true;
  }
}
