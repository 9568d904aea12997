// The metrics of the running batch: fed by the runner's hooks and the VRAM monitor, announced
// every second, sampled into the batch's time series every few seconds, and kept in the store
// as a compact aggregate so that a resumed batch goes on counting.
import { join } from 'node:path';
import type { VramSnapshot } from '../gpu/vram-monitor.js';
import { BatchMetrics, errorClassOf, type BatchMetricsState } from '../metrics/batch-metrics.js';
import type { Adjustment, BatchMetricsSnapshot } from '../protocol/metrics.js';
import { sampleOf } from '../display/metrics-sample.js';
import { TimeSeriesWriter } from '../metrics/time-series.js';
import type { TrimStrategy } from '../context/trim.js';
import type { Answered } from './runner.js';

/** Seconds between two samples of the time series. */
const SAMPLE_EVERY_TICKS = 5;

export const timeSeriesPath = (metricsDir: string, batchId: string): string => join(metricsDir, `${batchId}.jsonl`);

export function restoreMetrics(state: BatchMetricsState | undefined): BatchMetrics {
  if (!state) return new BatchMetrics();
  try {
    return BatchMetrics.fromJSON(state);
  } catch {
    return new BatchMetrics(); // an aggregate from another version: start counting again
  }
}

export class LiveBatchMetrics {
  readonly metrics: BatchMetrics;
  private readonly series: TimeSeriesWriter;
  private ticks = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    readonly batchId: string,
    saved: BatchMetricsState | undefined,
    metricsDir: string,
    private readonly announce: (snapshot: BatchMetricsSnapshot) => void,
  ) {
    this.metrics = restoreMetrics(saved);
    this.series = new TimeSeriesWriter(timeSeriesPath(metricsDir, batchId));
  }

  start(intervalMs: number): void {
    this.timer = setInterval(() => void this.tick(), intervalMs);
    this.timer.unref();
  }

  /** Stops announcing; the last sample goes to the time series. */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.tick(true);
  }

  private async tick(sample = ++this.ticks % SAMPLE_EVERY_TICKS === 0): Promise<void> {
    const snapshot = this.metrics.snapshot();
    this.announce(snapshot);
    if (sample) await this.series.append(sampleOf(snapshot)).catch(() => undefined); // a full disk must not stop the batch
  }

  answered(answer: Answered): void {
    const { metrics } = this;
    metrics.answered({ ...answer, at: Date.now() });
    if (answer.numCtx !== undefined) metrics.context({ numCtx: answer.numCtx, promptTokens: answer.promptTokens });
    if (answer.trim)
      metrics.trimmed({
        strategy: answer.trim.strategy as TrimStrategy,
        dropped: answer.trim.dropped,
        tokensBefore: answer.trim.tokens_before,
        tokensAfter: answer.trim.tokens_after,
      });
  }

  failed(code: string, final: boolean): void {
    const errorClass = errorClassOf(code);
    if (!errorClass) return;
    if (final) this.metrics.failed(errorClass);
    else this.metrics.retried(errorClass);
  }

  adjusted(adjustment: Adjustment): void {
    this.metrics.adjusted(adjustment);
  }

  vram(snapshot: VramSnapshot): void {
    const fullest = snapshot.gpus?.reduce((a, b) =>
      (a.usedMiB ?? 0) / (a.totalMiB ?? 1) >= (b.usedMiB ?? 0) / (b.totalMiB ?? 1) ? a : b,
    );
    this.metrics.vram({
      usedMiB: fullest?.usedMiB ?? null,
      totalMiB: fullest?.totalMiB ?? null,
      spilled: snapshot.models.some((model) => model.spilled && model.vramBytes > 0),
    });
  }
}
