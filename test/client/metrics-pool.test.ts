// The metrics panel's pool: a live snapshot's endpoints and adjustments as the webview gets them,
// each adjustment naming its endpoint where the pool has several.
import assert from 'node:assert/strict';
import { adjustmentText, poolOf } from '../../client/model/metrics-view.js';
import { BatchMetrics } from '../../server/metrics/batch-metrics.js';
import { POOL, T0 } from '../support/endpoint-status.js';

function snapshotWithAdjustments() {
  const metrics = new BatchMetrics({ now: () => T0 });
  metrics.adjusted({ reason: 'out of memory', concurrency: 2, numCtx: 8192, endpoint: 'ollama@gpu-b:11434' });
  metrics.adjusted({ reason: 'VRAM 95% full', concurrency: 3 });
  return metrics.snapshot();
}

describe('metrics panel pool', () => {
  it('gives each endpoint of the snapshot its state and figures, in the pool’s order', () => {
    const pool = poolOf({ ...snapshotWithAdjustments(), endpoints: POOL });
    assert.deepEqual(pool.endpoints, [
      {
        name: 'ollama@gpu-a:11434',
        engine: 'ollama',
        up: true,
        down: null,
        inFlight: 3,
        concurrency: 4,
        requestsPerSecond: 2.46,
        answered: 1234,
        errors: 2,
        hedgesWon: 5,
      },
      {
        name: 'ollama@gpu-b:11434',
        engine: 'ollama',
        up: false,
        down: { reason: 'connect ECONNREFUSED 10.0.0.2:11434', since: T0 - 90_000 },
        inFlight: 0,
        concurrency: 2,
        requestsPerSecond: null,
        answered: 56,
        errors: 7,
        hedgesWon: 0,
      },
      {
        name: 'vllm',
        engine: 'openai',
        up: true,
        down: null,
        inFlight: 16,
        concurrency: 16,
        requestsPerSecond: 12.5,
        answered: 20_001,
        errors: 0,
        hedgesWon: 0,
      },
    ]);
  });

  it('has no endpoints for a snapshot without them (a finished batch’s record)', () => {
    assert.deepEqual(poolOf(snapshotWithAdjustments()).endpoints, []);
  });

  it('words the adjustments, oldest first, naming the endpoint where one is given', () => {
    assert.deepEqual(poolOf(snapshotWithAdjustments()).adjustments, [
      { at: T0, text: 'ollama@gpu-b:11434: concurrency 2, num_ctx 8192 (out of memory)' },
      { at: T0, text: 'concurrency 3 (VRAM 95% full)' },
    ]);
    assert.equal(
      adjustmentText({ at: T0, reason: 'answers slower', concurrency: 1, endpoint: 'vllm' }),
      'vllm: concurrency 1 (answers slower)',
    );
  });
});
