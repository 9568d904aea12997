// What the daemon tells its clients about a running batch and the machine: a batch's metrics
// snapshot (announced every second and answered by batch/metrics), the rows of its time series,
// and the GPUs' reading that daemon/status carries. Plain data: the daemon's metrics and GPU
// modules keep their own types, checked against these where the daemon sends them (rpc/).
import type { EndpointStatus } from './endpoints.js';

export type ErrorClass = 'oom' | 'timeout' | 'engine' | 'validation' | 'context';

export type TrimStrategy = 'sliding-window' | 'importance' | 'hybrid' | 'aggressive';
export const TRIM_STRATEGIES: readonly TrimStrategy[] = ['sliding-window', 'importance', 'hybrid', 'aggressive'];

/** A limit the running batch changed by itself. */
export interface Adjustment {
  /** When, in ms since the epoch. */
  at: number;
  reason: string;
  concurrency: number;
  /** The num_ctx it runs at from then on; absent where the engine's default holds. */
  numCtx?: number;
  /** The endpoint whose limits changed, where the pool has more than one. */
  endpoint?: string;
}

export interface Progress {
  done: number;
  total: number;
}

/** Per-second rates over a span; null while the span is empty. */
export interface Rates {
  seconds: number;
  requestsPerSecond: number | null;
  promptTokensPerSecond: number | null;
  completionTokensPerSecond: number | null;
}

export interface LatencySummary {
  count: number;
  min: number | null;
  max: number | null;
  mean: number | null;
  /** Within 1% of the exact nearest-rank percentile. */
  p50: number | null;
  p95: number | null;
  p99: number | null;
}

/** The VRAM a running batch sees. */
export interface BatchVram {
  usedMiB: number | null;
  totalMiB: number | null;
  peakUsedMiB: number | null;
  /** usedMiB ÷ totalMiB. */
  utilisation: number | null;
  spilled: boolean;
  everSpilled: boolean;
}

export interface BatchMetricsSnapshot {
  /** When it was taken (ms since the epoch). */
  at: number;
  tokens: {
    prompt: number;
    completion: number;
    cached: number;
    /** What the KV cache spared the engine: share = cached ÷ prompt (null before any prompt), tokens = cached. */
    uncachedSaving: { share: number | null; tokens: number };
    /** Reported ÷ estimated prompt tokens over answers that carried an estimate: 1 is exact, above 1 the estimate is low. */
    estimateRatio: number | null;
  };
  context: {
    numCtx: number | null;
    current: number | null;
    peak: number | null;
    /** peak ÷ numCtx. */
    utilisation: number | null;
    trims: {
      total: number;
      byStrategy: Partial<Record<TrimStrategy, number>>;
      droppedMessages: number;
      tokensRemoved: number;
    };
  };
  vram: BatchVram | null;
  performance: {
    /** Answers and their tokens over the last `windowSeconds` (shorter while the run is younger). */
    window: Rates;
    /** ... over the whole run, the time the daemon was down excluded. */
    run: Rates;
    latencyMs: LatencySummary;
    /** Remaining requests ÷ the recent finishing rate (the run's when nothing finished lately); null when unknown. */
    etaSeconds: number | null;
  };
  progress: Progress | null;
  errors: {
    /** Final failures. */
    total: number;
    byClass: Record<ErrorClass, number>;
    /** Tries that failed and were retried. */
    retriesByClass: Record<ErrorClass, number>;
  };
  /** The last few adjustments, oldest first. */
  adjustments: Adjustment[];
  /** The pool's endpoints as the batch runs on them (live while it runs; absent in a finished batch's record). */
  endpoints?: EndpointStatus[];
}

/**
 * A row of a batch's time series (`<dataDir>/metrics/<batch>.jsonl`): what the metrics panel
 * charts. A type, not an interface, so that it is a plain JSON record.
 */
export type MetricsSample = {
  t: number;
  done: number;
  requestsPerSecond: number | null;
  promptTokensPerSecond: number | null;
  completionTokensPerSecond: number | null;
  latencyP50: number | null;
  latencyP95: number | null;
  latencyP99: number | null;
  promptTokens: number;
  cachedTokens: number;
  completionTokens: number;
  contextCurrent: number | null;
  contextUtilisation: number | null;
  trims: number;
  vramUsedMiB: number | null;
  errors: Record<ErrorClass, number>;
};

/** A batch's metrics, and its time series when asked for. */
export interface BatchMetricsReport {
  id: string;
  snapshot: BatchMetricsSnapshot;
  /** The file's rows as they are: a row another version wrote may lack fields or hold others. */
  series?: Array<Record<string, unknown>>;
}

export interface GpuReading {
  index: number;
  name: string;
  /** null where nvidia-smi says [N/A] or [Not Supported]. */
  usedMiB: number | null;
  totalMiB: number | null;
  utilizationPercent: number | null;
}

/** A model the engine holds in memory. */
export interface ModelMemory {
  name: string;
  sizeBytes: number;
  vramBytes: number;
  /** num_ctx it was loaded with, where Ollama reports it. */
  contextLength?: number;
  /** Part of the model is in system RAM. */
  spilled: boolean;
  /** That part, 0..1. */
  spilledShare: number;
}

export type VramPressure = 'normal' | 'warning' | 'critical';

/** The GPUs (nvidia-smi) and the engine's loaded models (Ollama's /api/ps) at one poll. */
export interface GpuSnapshot {
  /** When the poll finished (ms since the epoch). */
  at: number;
  /** null unless status is 'ok'. */
  gpus: GpuReading[] | null;
  /** 'not-available': no nvidia-smi on this machine; 'error': it failed this time (see error). */
  status: 'ok' | 'not-available' | 'error';
  error?: string;
  /** Loaded models ([] without a source, or when /api/ps failed: see modelsError). */
  models: ModelMemory[];
  modelsError?: string;
  /** The fullest GPU's used / total; null without a reading. */
  usedShare: number | null;
  /** The most VRAM any one GPU had in use, over every poll so far. */
  peakUsedMiB: number | null;
  /** From usedShare; kept as it was while no reading comes in. */
  pressure: VramPressure;
  /** Sentences for a user: VRAM nearly full, models spilled to system RAM. */
  warnings: string[];
}
