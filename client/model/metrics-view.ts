// The daemon's metrics as the metrics webview takes them: a time series sample (a row of
// `<dataDir>/metrics/<batch>.jsonl`, written every few seconds) or a live snapshot (announced
// every second) both become a SeriesPoint; a snapshot also gives the counters on top.
import type { Adjustment, BatchMetricsSnapshot } from '../../server/protocol/metrics.js';
import type { Batch } from '../../server/protocol/openai.js';
import { sampleOf } from '../../server/display/metrics-sample.js';
import {
  ERROR_CLASSES,
  type BatchView,
  type ErrorClass,
  type AdjustmentView,
  type MetricsCounters,
  type PoolView,
  type SeriesPoint,
} from '../webview/messages.js';
import { isTerminal } from './format.js';

export function batchView(batch: Batch): BatchView {
  return {
    id: batch.id,
    status: batch.status,
    model: batch.model,
    pausedReason: batch.paused_reason,
    total: batch.request_counts.total,
    completed: batch.request_counts.completed,
    failed: batch.request_counts.failed,
    over: isTerminal(batch),
  };
}

const numberOrNull = (value: unknown): number | null =>
  typeof value === 'number' && Number.isFinite(value) ? value : null;

function errorsOf(byClass: unknown): Record<ErrorClass, number> {
  const source = typeof byClass === 'object' && byClass !== null ? (byClass as Record<string, unknown>) : {};
  return Object.fromEntries(ERROR_CLASSES.map((name) => [name, numberOrNull(source[name]) ?? 0])) as Record<
    ErrorClass,
    number
  >;
}

/** A row of the time series file; null for a row without its time (another version's, or torn). */
export function pointOfSample(sample: Record<string, unknown>): SeriesPoint | null {
  const t = numberOrNull(sample.t);
  if (t === null) return null;
  return {
    t,
    requestsPerSecond: numberOrNull(sample.requestsPerSecond),
    latencyP50: numberOrNull(sample.latencyP50),
    latencyP95: numberOrNull(sample.latencyP95),
    latencyP99: numberOrNull(sample.latencyP99),
    promptTokens: numberOrNull(sample.promptTokens),
    cachedTokens: numberOrNull(sample.cachedTokens),
    completionTokens: numberOrNull(sample.completionTokens),
    contextUtilisation: numberOrNull(sample.contextUtilisation),
    trims: numberOrNull(sample.trims),
    vramUsedMiB: numberOrNull(sample.vramUsedMiB),
    errors: errorsOf(sample.errors),
  };
}

/** A live snapshot as the row the daemon would write for it. */
export const pointOfSnapshot = (snapshot: BatchMetricsSnapshot): SeriesPoint => pointOfSample(sampleOf(snapshot))!;

const sum = (values: Record<string, number>): number =>
  Object.values(values).reduce((total, value) => total + value, 0);

export function countersOf(snapshot: BatchMetricsSnapshot): MetricsCounters {
  const { performance, tokens, context, vram, errors, progress } = snapshot;
  return {
    done: progress?.done ?? null,
    total: progress?.total ?? null,
    // The recent pace while it runs; the whole run's once nothing finished lately (or it is over).
    requestsPerSecond: performance.window.requestsPerSecond || performance.run.requestsPerSecond,
    run: { requestsPerSecond: performance.run.requestsPerSecond, seconds: performance.run.seconds },
    promptTokens: tokens.prompt,
    cachedTokens: tokens.cached,
    completionTokens: tokens.completion,
    cachedShare: tokens.uncachedSaving.share,
    errors: errors.total,
    retries: sum(errors.retriesByClass),
    etaSeconds: performance.etaSeconds,
    latencyP50: performance.latencyMs.p50,
    latencyP95: performance.latencyMs.p95,
    numCtx: context.numCtx,
    trims: context.trims.total,
    vramUsedMiB: vram?.usedMiB ?? null,
    vramTotalMiB: vram?.totalMiB ?? null,
    vramSpilled: vram?.spilled ?? false,
  };
}

/** "gpu-b: concurrency 2, num_ctx 8192 (out of memory)": the endpoint named where the pool has several. */
export function adjustmentText(adjustment: Adjustment): string {
  const { endpoint, concurrency, numCtx, reason } = adjustment;
  const limits = `concurrency ${concurrency}${numCtx === undefined ? '' : `, num_ctx ${numCtx}`}`;
  return `${endpoint ? `${endpoint}: ` : ''}${limits} (${reason})`;
}

export function poolOf(snapshot: BatchMetricsSnapshot): PoolView {
  return {
    endpoints: (snapshot.endpoints ?? []).map((status) => ({
      name: status.name,
      engine: status.engine,
      up: status.up,
      down: status.down,
      inFlight: status.inFlight,
      concurrency: status.concurrency,
      requestsPerSecond: status.requestsPerSecond,
      answered: status.answered,
      errors: status.errors,
      hedgesWon: status.hedgesWon,
    })),
    adjustments: snapshot.adjustments.map((adjustment): AdjustmentView => ({
      at: adjustment.at,
      text: adjustmentText(adjustment),
    })),
  };
}
