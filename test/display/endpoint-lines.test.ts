// The pool's endpoints as `status` and Check Engine word them: one endpoint keeps the one line
// it always had; several get a row each, a down one with its reason.
import assert from 'node:assert/strict';
import { engineCheck, engineLines } from '../../server/display/endpoint-lines.js';
import type { DaemonInfo } from '../../server/protocol/methods.js';
import { POOL, T0, endpointStatus } from '../support/endpoint-status.js';

const NOW = T0;

const info = (given: Partial<Pick<DaemonInfo, 'engine' | 'endpoints'>>): Pick<DaemonInfo, 'engine' | 'endpoints'> => ({
  engine: { name: 'ollama', url: 'http://gpu-a:11434', up: true, models: ['gemma3:12b', 'qwen3:8b'] },
  ...given,
});

const daemon = (given: Partial<DaemonInfo>): DaemonInfo => ({
  pid: 42,
  version: '1.2.3',
  dataDir: '/data',
  socket: '/data/daemon.sock',
  runningBatchId: null,
  http: 'http://127.0.0.1:8787',
  gpu: null,
  config: {},
  ...info({}),
  ...given,
});

describe('endpoint lines', () => {
  it('one endpoint: the one engine line, its figures added once it has worked', () => {
    const before = 'engine ollama at http://gpu-a:11434 (up; models: gemma3:12b, qwen3:8b)';
    assert.deepEqual(engineLines(info({}), NOW), [before], 'a daemon that tells no endpoints');
    const idle = endpointStatus({ name: 'ollama@gpu-a:11434', url: 'http://gpu-a:11434' });
    assert.deepEqual(engineLines(info({ endpoints: [idle] }), NOW), [before]);
    assert.deepEqual(engineLines(info({ endpoints: [POOL[0]!] }), NOW), [
      `${before}, 3/4 in flight, 2.5 req/s, 1,234 answered, 2 errors, 5 of 6 hedges won`,
    ]);
    const down = POOL[1]!;
    assert.deepEqual(
      engineLines(info({ engine: { name: 'ollama', url: down.url, up: false, models: [] }, endpoints: [down] }), NOW),
      [
        'engine ollama at http://gpu-b:11434 (not answering since 22:11:50 UTC: connect ECONNREFUSED 10.0.0.2:11434), 0/2 in flight, 56 answered, 7 errors',
      ],
    );
  });

  it('several endpoints: a line of the pool, then a row each with its figures and a down one’s reason', () => {
    const lines = engineLines(info({ endpoints: POOL }), NOW);
    assert.deepEqual(lines, [
      'engines: 3 endpoints, 2 up; models on ollama@gpu-a:11434: gemma3:12b, qwen3:8b',
      '  ENDPOINT            ENGINE  URL                  STATE  IN FLIGHT  REQ/S  ANSWERED  ERRORS  HEDGES WON',
      '  ollama@gpu-a:11434  ollama  http://gpu-a:11434   up           3/4    2.5     1,234       2           5',
      '  ollama@gpu-b:11434  ollama  http://gpu-b:11434   down         0/2      -        56       7           0  since 22:11:50 UTC: connect ECONNREFUSED 10.0.0.2:11434',
      '  vllm                openai  http://vllm:8000/v1  up         16/16   12.5    20,001       0           0',
    ]);
  });

  it('a down time of another day gives its date', () => {
    const old = { ...POOL[1]!, down: { reason: 'timeout', since: T0 - 3 * 86_400_000 } };
    assert.match(engineLines(info({ endpoints: [POOL[0]!, old] }), NOW)[3]!, /since 2023-11-11 22:13:20 UTC: timeout$/);
  });

  it('Check Engine: every endpoint, up or down with why, and its models where known', () => {
    const vllm = { ...POOL[2]!, models: ['Qwen/Qwen3-8B'] };
    const embedded = endpointStatus({ name: 'llama-cpp', engine: 'llama-cpp', url: null });
    const check = engineCheck(daemon({ endpoints: [POOL[0]!, POOL[1]!, vllm, embedded] }), NOW);
    assert.equal(check.allUp, false);
    assert.equal(check.message, '3 of 4 endpoints are up.');
    assert.deepEqual(check.detail, [
      '✓ ollama@gpu-a:11434 (ollama at http://gpu-a:11434): up, 3/4 in flight, 2.5 req/s, 1,234 answered, 2 errors, 5 of 6 hedges won; models: gemma3:12b, qwen3:8b',
      '✗ ollama@gpu-b:11434 (ollama at http://gpu-b:11434): down since 22:11:50 UTC: connect ECONNREFUSED 10.0.0.2:11434',
      '✓ vllm (openai at http://vllm:8000/v1): up, 16/16 in flight, 12.5 req/s, 20,001 answered, 0 errors; models: Qwen/Qwen3-8B',
      '✓ llama-cpp (llama-cpp (in-process)): up, 0/4 in flight, 0 answered, 0 errors',
      'GPU: not read yet',
      'Daemon 1.2.3, pid 42; data in /data; HTTP API http://127.0.0.1:8787/v1',
    ]);
    assert.equal(engineCheck(daemon({ endpoints: [POOL[0]!, POOL[2]!] }), NOW).allUp, true);
  });

  it('Check Engine with one endpoint: the engine and its models, or why it does not answer', () => {
    const up = engineCheck(daemon({ endpoints: [POOL[0]!] }), NOW);
    assert.deepEqual(up.message, 'engine ollama at http://gpu-a:11434 is up.');
    assert.equal(up.allUp, true);
    assert.equal(up.detail[0], 'Models: gemma3:12b, qwen3:8b');
    const down = engineCheck(
      daemon({ engine: { name: 'ollama', url: 'http://gpu-b:11434', up: false, models: [] }, endpoints: [POOL[1]!] }),
      NOW,
    );
    assert.equal(down.allUp, false);
    assert.equal(down.message, 'engine ollama at http://gpu-b:11434 does not answer.');
    assert.match(
      down.detail[0]!,
      /^The engine does not answer \(connect ECONNREFUSED 10\.0\.0\.2:11434\): is it running/,
    );
  });
});
