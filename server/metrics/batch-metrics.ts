// Live metrics of one batch, fed plain events by whoever runs it: tokens, context, VRAM, rates,
// latency percentiles, errors and adaptive adjustments. Memory stays the same however long the
// batch runs (a 13-hour, 170k-request batch): windowed rates come from a ring of per-second
// buckets and percentiles from a fixed log-scale histogram, never from a list of answers.
// toJSON() is the compact aggregate a store keeps so the figures survive a daemon restart.
// Every time-dependent figure reads an injectable clock (or an event's `at`), so tests never sleep.
import { bucketAtRank, nearestRank } from '../common/percentile.js';
import type { TrimStrategy } from '../context/trim.js';
import type {
  Adjustment,
  BatchMetricsSnapshot,
  BatchVram,
  LatencySummary,
  Progress,
  Rates,
} from '../protocol/metrics.js';

export type ErrorClass = 'oom' | 'timeout' | 'engine' | 'validation' | 'context';

export const ERROR_CLASSES: readonly ErrorClass[] = ['oom', 'timeout', 'engine', 'validation', 'context'];

const CLASS_BY_CODE = new Map<string, ErrorClass>([
  ['out_of_memory', 'oom'],
  ['timeout', 'timeout'],
  ['request_timeout', 'timeout'],
  ['context_length_exceeded', 'context'],
  ['duplicate_custom_id', 'validation'],
  ['model_mismatch', 'validation'],
  ['url_mismatch', 'validation'],
  ['line_too_large', 'validation'],
]);

/** Lines for requests a cancelled or expired batch never ran, and tries we aborted ourselves: not failures. */
const NOT_ERRORS = new Set(['batch_cancelled', 'batch_expired', 'aborted']);

/** The class of an error line's code; null for codes that are no failure at all (see NOT_ERRORS). */
export function errorClassOf(code: string): ErrorClass | null {
  if (NOT_ERRORS.has(code)) return null;
  return CLASS_BY_CODE.get(code) ?? (code.startsWith('invalid_') ? 'validation' : 'engine');
}

export interface AnsweredEvent {
  latencyMs: number;
  /** Prompt tokens the engine reports, cached ones included. */
  promptTokens: number;
  completionTokens: number;
  cachedTokens: number;
  /** Our own count of the prompt before sending, to see how far the estimate is off. */
  estimatedPromptTokens?: number;
  /** When the answer came (ms since the epoch); default the clock. */
  at?: number;
}

export interface TrimmedEvent {
  strategy: TrimStrategy;
  dropped: number;
  tokensBefore: number;
  tokensAfter: number;
}

export interface ContextEvent {
  numCtx: number;
  promptTokens: number;
}

export interface VramEvent {
  usedMiB: number | null;
  totalMiB: number | null;
  /** Part of the model is in system RAM. */
  spilled: boolean;
}

/** The persisted form of LatencyHistogram: counts of the buckets from `offset` on, zeros trimmed at both ends. */
export interface HistogramState {
  offset: number;
  counts: number[];
  sum: number;
  min: number | null;
  max: number | null;
}

/** The aggregate toJSON() gives and fromJSON() takes: a few KB however long the batch ran. */
export interface BatchMetricsState {
  version: 1;
  /** Time the run has been measured, across restarts. */
  activeMs: number;
  answered: number;
  tokens: { prompt: number; completion: number; cached: number; estimated: number; estimatedReported: number };
  context: {
    numCtx: number | null;
    current: number | null;
    peak: number | null;
    trims: number;
    byStrategy: Partial<Record<TrimStrategy, number>>;
    droppedMessages: number;
    tokensRemoved: number;
  };
  vram: Omit<BatchVram, 'utilisation'> | null;
  latency: HistogramState;
  errors: Record<ErrorClass, number>;
  retries: Record<ErrorClass, number>;
  progress: Progress | null;
  adjustments: Adjustment[];
}

export interface BatchMetricsOptions {
  /** Milliseconds since the epoch; default Date.now. */
  now?: () => number;
  /** Span of the windowed rates, in whole seconds (default 60). */
  windowSeconds?: number;
}

export const MAX_ADJUSTMENTS = 50;
const DEFAULT_WINDOW_SECONDS = 60;

// The histogram's buckets grow by 2%: bucket i holds [MIN·γ^i, MIN·γ^(i+1)) and reports its
// geometric middle, at most √1.02 − 1 ≈ 0.995% from any value in it. The nearest-rank value
// lies in the bucket where the counts reach its rank, so each percentile is within 1% of the
// exact one (below MIN_MS, within MIN_MS). Up to a day: 1,157 buckets, ~9 KB in memory.
const GROWTH = 1.02;
const LOG_GROWTH = Math.log(GROWTH);
const MIN_MS = 0.01;
const MAX_MS = 24 * 3600 * 1000;
const BUCKETS = Math.ceil(Math.log(MAX_MS / MIN_MS) / LOG_GROWTH) + 1;

class LatencyHistogram {
  private readonly counts = new Float64Array(BUCKETS);
  private count = 0;
  private sum = 0;
  private min = Infinity;
  private max = -Infinity;

  record(ms: number): void {
    if (!Number.isFinite(ms)) return;
    const value = Math.max(0, ms);
    const index = value <= MIN_MS ? 0 : Math.min(BUCKETS - 1, Math.floor(Math.log(value / MIN_MS) / LOG_GROWTH));
    this.counts[index]!++;
    this.count++;
    this.sum += value;
    this.min = Math.min(this.min, value);
    this.max = Math.max(this.max, value);
  }

  /** Nearest-rank percentile: the value at rank ⌈p·count⌉ of the sorted latencies. */
  percentile(p: number): number | null {
    if (this.count === 0) return null;
    const index = bucketAtRank(this.counts, nearestRank(p, this.count));
    // The exact value lies within [min, max], so clamping only brings the answer closer.
    return Math.min(this.max, Math.max(this.min, MIN_MS * GROWTH ** (index + 0.5)));
  }

  summary(): LatencySummary {
    const empty = this.count === 0;
    return {
      count: this.count,
      min: empty ? null : this.min,
      max: empty ? null : this.max,
      mean: empty ? null : this.sum / this.count,
      p50: this.percentile(0.5),
      p95: this.percentile(0.95),
      p99: this.percentile(0.99),
    };
  }

  toJSON(): HistogramState {
    const first = this.counts.findIndex((count) => count > 0);
    const last = this.counts.findLastIndex((count) => count > 0);
    return {
      offset: Math.max(0, first),
      counts: first === -1 ? [] : Array.from(this.counts.subarray(first, last + 1)),
      sum: this.sum,
      min: this.count === 0 ? null : this.min,
      max: this.count === 0 ? null : this.max,
    };
  }

  static fromJSON(state: HistogramState): LatencyHistogram {
    const histogram = new LatencyHistogram();
    histogram.counts.set(state.counts, state.offset);
    histogram.count = state.counts.reduce((sum, count) => sum + count, 0);
    histogram.sum = state.sum;
    histogram.min = state.min ?? Infinity;
    histogram.max = state.max ?? -Infinity;
    return histogram;
  }
}

interface Counts {
  answered: number;
  /** Answered plus finally failed: the pace the ETA needs. */
  finished: number;
  promptTokens: number;
  completionTokens: number;
}

const noCounts = (): Counts => ({ answered: 0, finished: 0, promptTokens: 0, completionTokens: 0 });

/** What happened within one second of the clock, for the windowed rates. */
type SecondBucket = Counts & { second: number };

function rates(seconds: number, counts: Counts): Rates {
  const per = (value: number): number | null => (seconds > 0 ? value / seconds : null);
  return {
    seconds,
    requestsPerSecond: per(counts.answered),
    promptTokensPerSecond: per(counts.promptTokens),
    completionTokensPerSecond: per(counts.completionTokens),
  };
}

const finishRate = (seconds: number, counts: Counts): number => (seconds > 0 ? counts.finished / seconds : 0);

const zeroByClass = (): Record<ErrorClass, number> => ({ oom: 0, timeout: 0, engine: 0, validation: 0, context: 0 });

/** The persisted state but for what has its own keeper: the run's time and the latencies. */
type Aggregate = Omit<BatchMetricsState, 'version' | 'activeMs' | 'latency'>;

const freshAggregate = (): Aggregate => ({
  answered: 0,
  tokens: { prompt: 0, completion: 0, cached: 0, estimated: 0, estimatedReported: 0 },
  context: { numCtx: null, current: null, peak: null, trims: 0, byStrategy: {}, droppedMessages: 0, tokensRemoved: 0 },
  vram: null,
  errors: zeroByClass(),
  retries: zeroByClass(),
  progress: null,
  adjustments: [],
});

const ratio = (part: number | null, whole: number | null): number | null =>
  part === null || !whole ? null : part / whole;

export class BatchMetrics {
  private readonly now: () => number;
  private readonly windowSeconds: number;
  private readonly ring: SecondBucket[];
  /** When this process began measuring; the run's time before it is priorActiveMs. */
  private readonly sessionStart: number;
  private priorActiveMs = 0;
  private latency = new LatencyHistogram();
  private state = freshAggregate();

  constructor(options: BatchMetricsOptions = {}) {
    this.now = options.now ?? Date.now;
    this.windowSeconds = options.windowSeconds ?? DEFAULT_WINDOW_SECONDS;
    this.ring = Array.from({ length: this.windowSeconds }, () => ({ second: -Infinity, ...noCounts() }));
    this.sessionStart = this.now();
  }

  /** Metrics that go on from a persisted aggregate (after a daemon restart); the windowed rates start empty. */
  static fromJSON(state: BatchMetricsState, options: BatchMetricsOptions = {}): BatchMetrics {
    if (state.version !== 1) throw new Error(`unknown batch metrics version ${String(state.version)}`);
    const { version: _version, activeMs, latency, ...aggregate } = structuredClone(state);
    const metrics = new BatchMetrics(options);
    metrics.priorActiveMs = activeMs;
    metrics.latency = LatencyHistogram.fromJSON(latency);
    metrics.state = aggregate;
    return metrics;
  }

  answered(event: AnsweredEvent): void {
    const { state } = this;
    state.answered++;
    state.tokens.prompt += event.promptTokens;
    state.tokens.completion += event.completionTokens;
    state.tokens.cached += event.cachedTokens;
    if (event.estimatedPromptTokens !== undefined) {
      state.tokens.estimated += event.estimatedPromptTokens;
      state.tokens.estimatedReported += event.promptTokens;
    }
    this.latency.record(event.latencyMs);
    const bucket = this.bucketAt(event.at ?? this.now());
    if (!bucket) return;
    bucket.answered++;
    bucket.finished++;
    bucket.promptTokens += event.promptTokens;
    bucket.completionTokens += event.completionTokens;
  }

  /** A request that failed for good (its error line is written). */
  failed(errorClass: ErrorClass, at = this.now()): void {
    this.state.errors[errorClass]++;
    const bucket = this.bucketAt(at);
    if (bucket) bucket.finished++;
  }

  /** A try that failed and will be tried again. */
  retried(errorClass: ErrorClass): void {
    this.state.retries[errorClass]++;
  }

  trimmed(event: TrimmedEvent): void {
    const { context } = this.state;
    context.trims++;
    context.byStrategy[event.strategy] = (context.byStrategy[event.strategy] ?? 0) + 1;
    context.droppedMessages += event.dropped;
    context.tokensRemoved += event.tokensBefore - event.tokensAfter;
  }

  context(event: ContextEvent): void {
    const { context } = this.state;
    context.numCtx = event.numCtx;
    context.current = event.promptTokens;
    context.peak = Math.max(context.peak ?? 0, event.promptTokens);
  }

  vram(event: VramEvent): void {
    const previous = this.state.vram;
    const peak = previous?.peakUsedMiB ?? null;
    this.state.vram = {
      usedMiB: event.usedMiB,
      totalMiB: event.totalMiB,
      peakUsedMiB: event.usedMiB === null ? peak : Math.max(peak ?? 0, event.usedMiB),
      spilled: event.spilled,
      everSpilled: event.spilled || (previous?.everSpilled ?? false),
    };
  }

  adjusted(event: Omit<Adjustment, 'at'> & { at?: number }): void {
    const { adjustments } = this.state;
    adjustments.push({ ...event, at: event.at ?? this.now() });
    if (adjustments.length > MAX_ADJUSTMENTS) adjustments.splice(0, adjustments.length - MAX_ADJUSTMENTS);
  }

  progress(progress: Progress): void {
    this.state.progress = { done: progress.done, total: progress.total };
  }

  snapshot(): BatchMetricsSnapshot {
    const now = this.now();
    const { state } = this;
    const { tokens, context, vram } = state;
    const failures = ERROR_CLASSES.reduce((sum, errorClass) => sum + state.errors[errorClass], 0);
    const runSeconds = this.activeMs(now) / 1000;
    const runCounts: Counts = {
      answered: state.answered,
      finished: state.answered + failures,
      promptTokens: tokens.prompt,
      completionTokens: tokens.completion,
    };
    const recent = this.windowCounts(now);
    return {
      at: now,
      tokens: {
        prompt: tokens.prompt,
        completion: tokens.completion,
        cached: tokens.cached,
        uncachedSaving: { share: ratio(tokens.cached, tokens.prompt), tokens: tokens.cached },
        estimateRatio: ratio(tokens.estimatedReported, tokens.estimated),
      },
      context: {
        numCtx: context.numCtx,
        current: context.current,
        peak: context.peak,
        utilisation: ratio(context.peak, context.numCtx),
        trims: {
          total: context.trims,
          byStrategy: { ...context.byStrategy },
          droppedMessages: context.droppedMessages,
          tokensRemoved: context.tokensRemoved,
        },
      },
      vram: vram && { ...vram, utilisation: ratio(vram.usedMiB, vram.totalMiB) },
      performance: {
        window: rates(recent.seconds, recent.counts),
        run: rates(runSeconds, runCounts),
        latencyMs: this.latency.summary(),
        etaSeconds: this.eta(finishRate(recent.seconds, recent.counts), finishRate(runSeconds, runCounts)),
      },
      progress: state.progress && { ...state.progress },
      errors: { total: failures, byClass: { ...state.errors }, retriesByClass: { ...state.retries } },
      adjustments: state.adjustments.map((adjustment) => ({ ...adjustment })),
    };
  }

  toJSON(): BatchMetricsState {
    return {
      version: 1,
      activeMs: this.activeMs(this.now()),
      latency: this.latency.toJSON(),
      ...structuredClone(this.state),
    };
  }

  private activeMs(now: number): number {
    return this.priorActiveMs + Math.max(0, now - this.sessionStart);
  }

  /** The ring's bucket for the second of `at`; null when `at` is older than the window. */
  private bucketAt(at: number): SecondBucket | null {
    const second = Math.floor(at / 1000);
    const bucket = this.ring[second % this.windowSeconds]!;
    // The slot already holds a later second, so `at` is at least a window older than the newest event.
    if (bucket.second > second) return null;
    if (bucket.second < second) Object.assign(bucket, { second, ...noCounts() });
    return bucket;
  }

  /**
   * Sums the buckets of the last `windowSeconds` seconds, the current one included, over the
   * time they cover: from the window's first second (or the session's start, if later) to now.
   */
  private windowCounts(now: number): { seconds: number; counts: Counts } {
    const nowSecond = Math.floor(now / 1000);
    const firstSecond = nowSecond - this.windowSeconds + 1;
    const counts = noCounts();
    for (const bucket of this.ring) {
      if (bucket.second < firstSecond || bucket.second > nowSecond) continue;
      counts.answered += bucket.answered;
      counts.finished += bucket.finished;
      counts.promptTokens += bucket.promptTokens;
      counts.completionTokens += bucket.completionTokens;
    }
    const from = Math.max(firstSecond * 1000, this.sessionStart);
    return { seconds: Math.max(0, now - from) / 1000, counts };
  }

  private eta(windowRate: number, runRate: number): number | null {
    const { progress } = this.state;
    if (!progress) return null;
    const remaining = Math.max(0, progress.total - progress.done);
    if (remaining === 0) return 0;
    const rate = windowRate > 0 ? windowRate : runRate;
    return rate > 0 ? remaining / rate : null;
  }
}
