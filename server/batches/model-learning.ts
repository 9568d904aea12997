// What the daemon learns about a model from the batches it runs, kept in the store per model:
// how its tokenizer compares with our estimate (calibration), the limits that held after it ran
// out of memory (per GPU set: what holds on one machine says nothing of another), and its pace
// for estimates such as Convert CSV's ETA.
import { Calibration } from '../context/calibration.js';
import { LEARNED_LIMIT_SHARE, learnedNumCtx } from '../context/num-ctx.js';
import type { LearnedLimits, ModelStats, Store } from '../store/store.js';
import type { Clock } from './clock.js';

/** A completed run shorter than this says too little about a model's pace. */
const MIN_REQUESTS_TO_LEARN = 20;

/** The limits a run kept to when it ended, and the VRAM it peaked at. */
export interface HeldLimits {
  concurrency: number;
  numCtx: number | undefined;
  /** The num_ctx the run was planned with: a lower one held means num_ctx had to come down. */
  plannedNumCtx: number | undefined;
  vramPeakMiB: number | null;
}

export class ModelLearning {
  constructor(
    private readonly store: Store,
    private readonly clock: Clock,
  ) {}

  /** A copy of what was learned about a model (for estimates). */
  stats(model: string): ModelStats {
    return { ...this.store.data.models[model] };
  }

  /** The limits learned for a model on these GPUs, if it ever ran out of memory on them. */
  limits(model: string, hardware: string): LearnedLimits | undefined {
    return this.statsOf(model).limits?.[hardware];
  }

  /** The model's calibration as learned so far; the run goes on teaching it. */
  calibration(model: string): Calibration {
    return new Calibration(this.statsOf(model).calibration);
  }

  keepCalibration(model: string, calibration: Calibration): void {
    this.statsOf(model).calibration = calibration.toJSON() ?? undefined;
  }

  /**
   * What a batch that ran out of memory teaches the next ones: the most concurrency that held (its
   * run's answers in a row without running out of memory, not the lowest it fell to); a share of
   * the num_ctx that held, when num_ctx itself had to come down; and a share of the VRAM it peaked at.
   */
  learnLimits(model: string, hardware: string, held: HeldLimits): void {
    const limits: LearnedLimits = { concurrency: held.concurrency, learnedAt: this.clock.now() };
    if (held.numCtx !== undefined && held.numCtx < (held.plannedNumCtx ?? Infinity))
      limits.numCtx = learnedNumCtx(held.numCtx);
    if (held.vramPeakMiB !== null) limits.vramMiB = Math.floor(held.vramPeakMiB * LEARNED_LIMIT_SHARE);
    (this.statsOf(model).limits ??= {})[hardware] = limits;
  }

  /** Keeps the model's pace for estimates (convert's ETA); a short run says too little. */
  learnThroughput(model: string | null, concurrency: number, answered: number, seconds: number): void {
    if (!model || answered < MIN_REQUESTS_TO_LEARN || seconds <= 0) return;
    Object.assign(this.statsOf(model), {
      requestsPerSecond: answered / seconds,
      concurrency,
      measuredAt: this.clock.now(),
    });
  }

  private statsOf(model: string): ModelStats {
    return (this.store.data.models[model] ??= {});
  }
}
