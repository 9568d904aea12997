// The pool's endpoints on /metrics: a series per endpoint, labelled by its name and engine kind,
// read at each scrape from the pool's statuses.
import assert from 'node:assert/strict';
import { Registry } from 'prom-client';
import { OllamaEngine } from '../../server/engines/ollama.js';
import { addEndpointMetrics } from '../../server/metrics/endpoint-metrics.js';
import { createMetrics, type MetricsSource } from '../../server/metrics/metrics.js';
import type { EndpointStatus } from '../../server/protocol/endpoints.js';
import { POOL, endpointStatus } from '../support/endpoint-status.js';

/** The exposition's sample lines of one metric: `{labels} value` by metric. */
function samples(text: string, name: string): string[] {
  return text
    .split('\n')
    .filter((line) => line.startsWith(`${name}{`) || line.startsWith(`${name} `))
    .map((line) => line.slice(name.length));
}

describe('endpoint metrics', () => {
  it('gives each endpoint its up, in flight, concurrency, answers, errors, hedges and tokens', async () => {
    const registry = new Registry();
    addEndpointMetrics(registry, { statuses: () => POOL });
    const text = await registry.metrics();
    const labels = (status: EndpointStatus) => `{endpoint="${status.name}",engine="${status.engine}"}`;
    const expected: Array<[string, (status: EndpointStatus) => number]> = [
      ['ollama_batch_endpoint_up', (s) => (s.up ? 1 : 0)],
      ['ollama_batch_endpoint_in_flight', (s) => s.inFlight],
      ['ollama_batch_endpoint_concurrency', (s) => s.concurrency],
      ['ollama_batch_endpoint_answers_total', (s) => s.answered],
      ['ollama_batch_endpoint_errors_total', (s) => s.errors],
      ['ollama_batch_endpoint_hedges_total', (s) => s.hedged],
      ['ollama_batch_endpoint_hedges_won_total', (s) => s.hedgesWon],
      ['ollama_batch_endpoint_prompt_tokens_total', (s) => s.promptTokens],
      ['ollama_batch_endpoint_completion_tokens_total', (s) => s.completionTokens],
    ];
    for (const [name, value] of expected) {
      assert.deepEqual(
        samples(text, name),
        POOL.map((status) => `${labels(status)} ${value(status)}`),
        name,
      );
      assert.match(text, new RegExp(`# TYPE ${name} ${name.endsWith('_total') ? 'counter' : 'gauge'}\\n`));
    }
    assert.match(text, /ollama_batch_endpoint_up\{endpoint="ollama@gpu-b:11434",engine="ollama"\} 0\n/);
    assert.match(text, /ollama_batch_endpoint_prompt_tokens_total\{endpoint="vllm",engine="openai"\} 15000000\n/);
  });

  it('reads the statuses afresh at each scrape: new figures, and no series for an endpoint gone', async () => {
    let pool = POOL;
    const registry = new Registry();
    addEndpointMetrics(registry, { statuses: () => pool });
    assert.equal(samples(await registry.metrics(), 'ollama_batch_endpoint_answers_total').length, 3);
    pool = [{ ...POOL[0]!, answered: POOL[0]!.answered + 10, inFlight: 0 }];
    const text = await registry.metrics();
    assert.deepEqual(samples(text, 'ollama_batch_endpoint_answers_total'), [
      `{endpoint="ollama@gpu-a:11434",engine="ollama"} 1244`,
    ]);
    assert.deepEqual(samples(text, 'ollama_batch_endpoint_in_flight'), [
      `{endpoint="ollama@gpu-a:11434",engine="ollama"} 0`,
    ]);
  });

  it('escapes a name that holds quotes and backslashes, so the exposition stays readable', async () => {
    const registry = new Registry();
    addEndpointMetrics(registry, {
      statuses: () => [endpointStatus({ name: 'box "a"\\1', engine: 'llama-cpp', url: null })],
    });
    assert.deepEqual(samples(await registry.metrics(), 'ollama_batch_endpoint_up'), [
      '{endpoint="box \\"a\\"\\\\1",engine="llama-cpp"} 1',
    ]);
  });

  it("is on the daemon's /metrics registry where the pool is given, beside the default engine's", async () => {
    const noBatches: MetricsSource = {
      allBatches: () => [],
      allMetrics: () => [],
      runningBatchId: null,
      on: () => undefined,
    };
    // Nothing listens on port 9: the default engine is down, as the pool says of gpu-b.
    const engine = new OllamaEngine({ url: 'http://127.0.0.1:9' });
    const pooled = await createMetrics(noBatches, engine, { statuses: () => POOL }).metrics();
    assert.match(pooled, /^ollama_batch_engine_up\{engine="ollama"\} 0$/m);
    assert.equal(samples(pooled, 'ollama_batch_endpoint_up').length, 3);
    const alone = await createMetrics(noBatches, engine).metrics();
    assert.doesNotMatch(alone, /ollama_batch_endpoint_/);
  });
});
