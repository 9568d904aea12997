// The pool's endpoints in Prometheus: one series per endpoint, labelled with its name and engine
// kind, read from the pool's live statuses at scrape time (counters count since the daemon started).
import { Counter, Gauge, type Registry } from 'prom-client';
import type { EndpointStatus } from '../protocol/endpoints.js';

/** What the exporter reads of the pool (declared here, so metrics/ stays below the pool's users). */
export interface EndpointStatusSource {
  statuses(): EndpointStatus[];
}

const LABELS = ['endpoint', 'engine'] as const;

const SERIES: Array<{
  kind: 'gauge' | 'counter';
  name: string;
  help: string;
  value: (status: EndpointStatus) => number;
}> = [
  {
    kind: 'gauge',
    name: 'ollama_batch_endpoint_up',
    help: '1 while the endpoint answers its health check, else 0.',
    value: (s) => (s.up ? 1 : 0),
  },
  {
    kind: 'gauge',
    name: 'ollama_batch_endpoint_in_flight',
    help: 'Requests in flight on the endpoint.',
    value: (s) => s.inFlight,
  },
  {
    kind: 'gauge',
    name: 'ollama_batch_endpoint_concurrency',
    help: 'The most requests the endpoint takes at once now (lowered after out-of-memory or VRAM pressure).',
    value: (s) => s.concurrency,
  },
  {
    kind: 'counter',
    name: 'ollama_batch_endpoint_answers_total',
    help: 'Answers the endpoint gave.',
    value: (s) => s.answered,
  },
  {
    kind: 'counter',
    name: 'ollama_batch_endpoint_errors_total',
    help: 'Tries on the endpoint that failed.',
    value: (s) => s.errors,
  },
  {
    kind: 'counter',
    name: 'ollama_batch_endpoint_hedges_total',
    help: "Lines of the batch's tail re-sent to this endpoint while another endpoint had them (hedges).",
    value: (s) => s.hedged,
  },
  {
    kind: 'counter',
    name: 'ollama_batch_endpoint_hedges_won_total',
    help: 'Hedged lines this endpoint answered first.',
    value: (s) => s.hedgesWon,
  },
  {
    kind: 'counter',
    name: 'ollama_batch_endpoint_prompt_tokens_total',
    help: 'Prompt tokens the endpoint read.',
    value: (s) => s.promptTokens,
  },
  {
    kind: 'counter',
    name: 'ollama_batch_endpoint_completion_tokens_total',
    help: 'Tokens the endpoint generated.',
    value: (s) => s.completionTokens,
  },
];

const labels = (status: EndpointStatus) => ({ endpoint: status.name, engine: status.engine });

export function addEndpointMetrics(registry: Registry, source: EndpointStatusSource): void {
  // Each collect starts afresh: an endpoint taken out of the configuration leaves no stale series.
  for (const { kind, name, help, value } of SERIES) {
    const options = { name, help, labelNames: LABELS, registers: [registry] };
    if (kind === 'gauge')
      new Gauge({
        ...options,
        collect() {
          this.reset();
          for (const status of source.statuses()) this.set(labels(status), value(status));
        },
      });
    else
      new Counter({
        ...options,
        collect() {
          this.reset();
          for (const status of source.statuses()) this.inc(labels(status), value(status));
        },
      });
  }
}
