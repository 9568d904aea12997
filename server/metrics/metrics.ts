// Prometheus metrics (prom-client): totals are read from the batches at scrape time, so they
// always match the output and error files; request latency is observed as answers come back.
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { BatchService } from '../batches/service.js';
import type { Engine } from '../engines/engine.js';
import type { Batch, BatchStatus } from '../openai/types.js';

const STATUSES: BatchStatus[] = ['validating', 'failed', 'in_progress', 'finalizing', 'completed', 'expired', 'cancelling', 'cancelled'];

/** A counter whose value is a sum over all batches, set at every scrape. */
function summedCounter(registry: Registry, name: string, help: string, batches: () => readonly Batch[], value: (batch: Batch) => number) {
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

export function createMetrics(service: BatchService, engine: Engine): Registry {
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
  summedCounter(registry, 'ollama_batch_requests_completed_total', 'Requests answered (lines in output files).', batches, (batch) => batch.request_counts.completed);
  summedCounter(registry, 'ollama_batch_requests_failed_total', 'Requests failed (lines in error files).', batches, (batch) => batch.request_counts.failed);
  summedCounter(registry, 'ollama_batch_prompt_tokens_total', 'Prompt tokens, cached ones included.', batches, (batch) => batch.usage.input_tokens);
  summedCounter(registry, 'ollama_batch_cached_tokens_total', 'Prompt tokens served from the engine\'s KV cache.', batches, (batch) => batch.usage.input_tokens_details.cached_tokens);
  summedCounter(registry, 'ollama_batch_completion_tokens_total', 'Generated tokens.', batches, (batch) => batch.usage.output_tokens);
  new Gauge({
    name: 'ollama_batch_queue_depth',
    help: 'Batches validated and waiting for their turn (the running one excluded).',
    registers: [registry],
    collect() {
      const running = service.runningBatchId;
      this.set(batches().filter((batch) => ['in_progress', 'finalizing', 'cancelling'].includes(batch.status) && batch.id !== running).length);
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
  return registry;
}
