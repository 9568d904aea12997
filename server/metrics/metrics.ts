// Prometheus metrics (prom-client): totals are read from the batches at scrape time, so they
// always match the output and error files; request latency is observed as answers come back.
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Engine } from '../engines/engine.js';
import { waitsForResume, type Batch, type BatchStatus } from '../protocol/openai.js';
import type { BatchMetricsSnapshot } from '../protocol/metrics.js';
import { addEndpointMetrics, type EndpointStatusSource } from './endpoint-metrics.js';

/** What the exporter reads from the batch service (declared here, so metrics/ stays below batches/). */
export interface MetricsSource {
  allBatches(): readonly Batch[];
  /** Every batch's metrics snapshot. */
  allMetrics(): ReadonlyArray<{ id: string; snapshot: BatchMetricsSnapshot }>;
  readonly runningBatchId: string | null;
  /** `answered`: a request's answer came back after `seconds`. */
  on(event: 'answered', listener: (seconds: number) => void): unknown;
}

const STATUSES: BatchStatus[] = [
  'validating',
  'failed',
  'in_progress',
  'finalizing',
  'completed',
  'expired',
  'cancelling',
  'cancelled',
];

/** A counter whose value is a sum over all batches, set at every scrape. */
function summedCounter(
  registry: Registry,
  name: string,
  help: string,
  batches: () => readonly Batch[],
  value: (batch: Batch) => number,
) {
  return new Counter({
    name,
    help,
    registers: [registry],
    collect() {
      this.reset();
      this.inc(batches().reduce((sum, batch) => sum + value(batch), 0));
    },
  });
}

/** `endpoints`: the pool, whose endpoints get a series each (labels `endpoint` and `engine`). */
export function createMetrics(service: MetricsSource, engine: Engine, endpoints?: EndpointStatusSource): Registry {
  const registry = new Registry();
  const batches = (): readonly Batch[] => service.allBatches();

  new Gauge({
    name: 'ollama_batch_batches',
    help: 'Batches by status.',
    labelNames: ['status'],
    registers: [registry],
    collect() {
      const counts = new Map(STATUSES.map((status) => [status, 0]));
      for (const batch of batches()) counts.set(batch.status, (counts.get(batch.status) ?? 0) + 1);
      for (const [status, count] of counts) this.set({ status }, count);
    },
  });
  summedCounter(
    registry,
    'ollama_batch_requests_completed_total',
    'Requests answered (lines in output files).',
    batches,
    (batch) => batch.request_counts.completed,
  );
  summedCounter(
    registry,
    'ollama_batch_requests_failed_total',
    'Requests failed (lines in error files).',
    batches,
    (batch) => batch.request_counts.failed,
  );
  summedCounter(
    registry,
    'ollama_batch_prompt_tokens_total',
    'Prompt tokens, cached ones included.',
    batches,
    (batch) => batch.usage.input_tokens,
  );
  summedCounter(
    registry,
    'ollama_batch_cached_tokens_total',
    "Prompt tokens served from the engine's KV cache.",
    batches,
    (batch) => batch.usage.input_tokens_details.cached_tokens,
  );
  summedCounter(
    registry,
    'ollama_batch_completion_tokens_total',
    'Generated tokens.',
    batches,
    (batch) => batch.usage.output_tokens,
  );
  new Gauge({
    name: 'ollama_batch_queue_depth',
    help: 'Batches validated and waiting for their turn (the running one excluded).',
    registers: [registry],
    collect() {
      const running = service.runningBatchId;
      this.set(
        batches().filter(
          (batch) => ['in_progress', 'finalizing', 'cancelling'].includes(batch.status) && batch.id !== running,
        ).length,
      );
    },
  });
  new Gauge({
    name: 'ollama_batch_paused',
    help: 'Batches paused, by why: waiting for their engine, for room on a full disk, or for a resume after a failed pilot check.',
    labelNames: ['reason'],
    registers: [registry],
    collect() {
      const paused = batches().filter((batch) => batch.paused_reason !== null);
      this.set({ reason: 'disk_full' }, paused.filter((batch) => batch.paused_reason!.startsWith('disk full')).length);
      this.set(
        { reason: 'engine_unreachable' },
        paused.filter((batch) => batch.paused_reason!.startsWith('engine unreachable')).length,
      );
      this.set({ reason: 'pilot_check' }, paused.filter(waitsForResume).length);
    },
  });
  new Gauge({
    name: 'ollama_batch_engine_up',
    help: '1 when the engine answers, else 0.',
    labelNames: ['engine'],
    registers: [registry],
    async collect() {
      this.set({ engine: engine.name }, (await engine.ping().catch(() => false)) ? 1 : 0);
    },
  });
  const latency = new Histogram({
    name: 'ollama_batch_request_duration_seconds',
    help: 'Time from sending a request to the engine to its answer (successful tries).',
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300],
    registers: [registry],
  });
  service.on('answered', (seconds) => latency.observe(seconds));
  addContextMetrics(registry, service);
  if (endpoints) addEndpointMetrics(registry, endpoints);
  return registry;
}

/** Errors by class, retries, trims, and the running batch's context, VRAM and pace (from the batch metrics). */
function addContextMetrics(registry: Registry, service: MetricsSource): void {
  const byLabel = (
    name: string,
    help: string,
    label: string,
    counts: (snapshot: BatchMetricsSnapshot) => Record<string, number>,
  ) =>
    new Counter({
      name,
      help,
      labelNames: [label],
      registers: [registry],
      collect() {
        this.reset();
        const sums = new Map<string, number>();
        for (const { snapshot } of service.allMetrics())
          for (const [key, count] of Object.entries(counts(snapshot))) sums.set(key, (sums.get(key) ?? 0) + count);
        for (const [key, sum] of sums) this.inc({ [label]: key }, sum);
      },
    });
  byLabel(
    'ollama_batch_errors_total',
    'Requests that ended in an error line, by class (oom, timeout, engine, validation, context).',
    'class',
    (s) => s.errors.byClass,
  );
  byLabel(
    'ollama_batch_retries_total',
    'Tries that failed and were tried again, by class.',
    'class',
    (s) => s.errors.retriesByClass,
  );
  byLabel(
    'ollama_batch_trims_total',
    'Conversations trimmed to fit the context, by strategy.',
    'strategy',
    (s) => s.context.trims.byStrategy,
  );
  const running = (value: (snapshot: BatchMetricsSnapshot) => number | null) =>
    function (this: Gauge) {
      this.reset();
      const id = service.runningBatchId;
      const snapshot = id ? service.allMetrics().find((report) => report.id === id)?.snapshot : undefined;
      const measured = snapshot ? value(snapshot) : null;
      if (measured !== null) this.set(measured);
    };
  const gauges: Array<[string, string, (snapshot: BatchMetricsSnapshot) => number | null]> = [
    ['ollama_batch_context_num_ctx', "The running batch's context window.", (s) => s.context.numCtx],
    [
      'ollama_batch_context_utilisation',
      "The running batch's largest prompt ÷ its context window.",
      (s) => s.context.utilisation,
    ],
    [
      'ollama_batch_vram_used_mib',
      'VRAM in use on the fullest GPU while the batch runs.',
      (s) => s.vram?.usedMiB ?? null,
    ],
    [
      'ollama_batch_requests_per_second',
      "The running batch's answers per second, over the last minute.",
      (s) => s.performance.window.requestsPerSecond,
    ],
    ['ollama_batch_eta_seconds', "The running batch's time left at its recent pace.", (s) => s.performance.etaSeconds],
  ];
  for (const [name, help, value] of gauges) new Gauge({ name, help, registers: [registry], collect: running(value) });
}
