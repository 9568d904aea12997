// Real batches through the real daemon process, with real inference: the Ollama engine through
// the Ollama emulator (driven by the real `ollama` client inside the daemon), and the in-process
// llama-cpp engine.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { BatchOutputLine } from '../../server/openai/types.js';
import { batchLines, tempDir } from '../support/batch-files.js';
import {
  filePath,
  isFinished,
  startDaemonProcess,
  submit,
  waitForBatch,
  type DaemonProcess,
} from '../support/daemon-process.js';
import { tinyModelPath } from '../support/models.js';
import type { RunningEmulator } from '../support/ollama-emulator/server.js';
import { startTinyEmulator } from '../support/tiny-emulator.js';
import { assertBatchShape, assertExactlyOnce, assertSuccessLine } from '../support/shapes.js';

const LINES = 200;
const ids = Array.from({ length: LINES }, (_, index) => `req-${index + 1}`);

async function runAndCheck(daemon: DaemonProcess, model: string): Promise<BatchOutputLine[]> {
  const input = join(tempDir(), 'input.jsonl');
  writeFileSync(input, batchLines(LINES, { model, maxTokens: 8 }));
  const created = await submit(daemon.connection, input);
  assertBatchShape(created);
  assert.equal(created.status, 'validating');
  const batch = await waitForBatch(daemon.connection, created.id, isFinished);
  assert.equal(batch.status, 'completed', JSON.stringify(batch.errors));
  assertBatchShape(batch);
  for (const stamp of ['in_progress_at', 'finalizing_at', 'completed_at'] as const)
    assert.ok(batch[stamp]! >= batch.created_at, stamp);
  assert.equal(batch.model, model);
  const { output, errors } = assertExactlyOnce(
    ids,
    await filePath(daemon.connection, batch.output_file_id),
    await filePath(daemon.connection, batch.error_file_id),
    batch,
  );
  assert.equal(errors.length, 0);
  output.forEach(assertSuccessLine);
  assert.equal(
    batch.usage.input_tokens,
    output.reduce((sum, line) => sum + (line.response!.body as any).usage.prompt_tokens, 0),
  );
  assert.ok(batch.usage.output_tokens > 0);
  return output;
}

describe('a 200-line batch through the daemon', function () {
  this.timeout(300_000);
  let emulator: RunningEmulator | undefined;
  let daemon: DaemonProcess | undefined;

  afterEach(async () => {
    await daemon?.stop();
    await emulator?.close();
    daemon = emulator = undefined;
  });

  it('runs on the Ollama engine (emulator with real inference), every line answered', async () => {
    emulator = await startTinyEmulator();
    daemon = await startDaemonProcess(tempDir(), ['--engine', 'ollama', '--ollama-url', emulator.url]);
    const output = await runAndCheck(daemon, 'tiny');
    assert.ok(emulator.stats.inFlightMax <= 4, 'at most the default concurrency in flight');
    // The shared system prompt is reused from the KV cache by the engine.
    assert.ok(
      output.some((line) => ((line.response!.body as any).usage.prompt_tokens_details?.cached_tokens ?? 0) > 0),
    );
  });

  it('runs on the in-process llama-cpp engine, every line answered', async () => {
    daemon = await startDaemonProcess(tempDir(), [
      '--engine',
      'llama-cpp',
      '--model-path',
      await tinyModelPath(),
      '--concurrency',
      '2',
      '--threads',
      '1',
    ]);
    await runAndCheck(daemon, 'tiny');
  });
});
