// Out-of-memory answers lower the concurrency, and a run of answers without one raises it back,
// step by step: a batch on an engine with room for K requests at once settles at K, not at 1,
// and K is what it learns for the next batch.
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { BatchRun, type RunnerOptions } from '../../server/batches/runner.js';
import { EngineError, type ChatRequest, type ChatResult, type Engine } from '../../server/engines/engine.js';
import type { Adjustment } from '../../server/protocol/metrics.js';
import { batchLines, tempDir } from '../support/batch-files.js';
import { EnginePool } from '../../server/pool/pool.js';

/** Time one answer takes, so that requests overlap as on a real engine. */
const ANSWER_MS = 4;

/** An engine with memory for `room` requests at once: one more in flight runs out of memory. */
class MemoryBoundEngine implements Engine {
  readonly name = 'ollama' as const;
  private inFlight = 0;
  constructor(private readonly room: number) {}

  async chat(request: ChatRequest, signal: AbortSignal): Promise<ChatResult> {
    this.inFlight++;
    try {
      if (this.inFlight > this.room)
        throw new EngineError(
          'transient',
          'out_of_memory',
          'llama runner process has terminated: cudaMalloc failed: out of memory',
          500,
        );
      await sleep(ANSWER_MS, undefined, { signal });
      return {
        content: '{"score":1}',
        finishReason: 'stop',
        promptTokens: 12,
        completionTokens: 4,
        model: request.model,
      };
    } finally {
      this.inFlight--;
    }
  }
  async listModels(): Promise<string[]> {
    return ['tiny'];
  }
  async slots(): Promise<undefined> {
    return undefined;
  }
  async modelFacts(): Promise<Record<string, never>> {
    return {};
  }
  async countPromptTokens(): Promise<number> {
    return 12;
  }
  async ping(): Promise<boolean> {
    return true;
  }
  async close(): Promise<void> {}
}

describe('out of memory: lowered, then recovered', function () {
  this.timeout(60_000);

  it('falls after out-of-memory answers, climbs back to what the memory holds, stays there, and learns it', async () => {
    const room = 3;
    const lines = 400;
    const dir = tempDir();
    const files = {
      input: join(dir, 'input.jsonl'),
      output: join(dir, 'output.jsonl'),
      error: join(dir, 'error.jsonl'),
    };
    writeFileSync(files.input, batchLines(lines, { model: 'tiny' }));
    const options: RunnerOptions = {
      concurrency: 8,
      requestTimeoutMs: 10_000,
      maxAttempts: 6,
      backoffBaseMs: 1,
      backoffMaxMs: 4,
    };
    const adjustments: Adjustment[] = [];
    let failures = 0;
    const run = new BatchRun(
      files,
      EnginePool.of(new MemoryBoundEngine(room)).endpoints.map((endpoint) => ({ endpoint, model: 'tiny' })),
      options,
      {
        onProgress: () => {},
        onPause: () => {},
        onAnswered: () => {},
        onFailed: (_code, final) => void (final && failures++),
        onAdjusted: (adjustment) => void adjustments.push(adjustment),
      },
      null,
    );

    assert.equal(await run.run(), 'completed');
    assert.equal(failures, 0, 'every out-of-memory answer was retried to an answer');
    assert.equal(readFileSync(files.output, 'utf8').trim().split('\n').length, lines);

    const levels = adjustments.map((adjustment) => adjustment.concurrency);
    const lowered = adjustments.filter((adjustment) => adjustment.reason.startsWith('out of memory'));
    assert.ok(lowered.length > 0 && Math.min(...levels) < room, `it fell below ${room}: ${levels.join(' → ')}`);
    const raised = adjustments.findIndex(
      (adjustment) =>
        adjustment.concurrency === room &&
        /^recovered after \d+ answers without running out of memory: concurrency raised$/.test(adjustment.reason),
    );
    assert.ok(
      raised >= 0,
      `it climbed back to ${room}: ${adjustments.map((adjustment) => `${adjustment.concurrency} (${adjustment.reason})`).join('; ')}`,
    );
    const after = levels.slice(raised);
    assert.ok(
      after.every((level) => level === room || level === room + 1),
      `and stayed at ${room}, trying ${room + 1} now and then: ${after.join(' → ')}`,
    );
    assert.ok(
      lowered.length <= 8,
      `trying one more is ever rarer: ${lowered.length} times out of memory in ${lines} lines`,
    );
    assert.equal(run.heldLimits.concurrency, room, 'the most that held is what the next batch learns');
  });
});
