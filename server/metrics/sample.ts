// A row of a batch's metrics time series (`<dataDir>/metrics/<batch>.jsonl`): the daemon writes
// one from the running batch's snapshot every few seconds; the charts read these rows.
import type { BatchMetricsSnapshot } from './batch-metrics.js';
import type { Sample } from './time-series.js';

/** One row of the time series: what the panel charts. */
export function sampleOf(snapshot: BatchMetricsSnapshot): Sample {
  const { performance, tokens, context, vram, errors } = snapshot;
  return {
    t: snapshot.at,
    done: snapshot.progress?.done ?? 0,
    requestsPerSecond: performance.window.requestsPerSecond,
    promptTokensPerSecond: performance.window.promptTokensPerSecond,
    completionTokensPerSecond: performance.window.completionTokensPerSecond,
    latencyP50: performance.latencyMs.p50,
    latencyP95: performance.latencyMs.p95,
    latencyP99: performance.latencyMs.p99,
    promptTokens: tokens.prompt,
    cachedTokens: tokens.cached,
    completionTokens: tokens.completion,
    contextCurrent: context.current,
    contextUtilisation: context.utilisation,
    trims: context.trims.total,
    vramUsedMiB: vram?.usedMiB ?? null,
    errors: errors.byClass,
  };
}
