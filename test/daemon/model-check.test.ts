// The model is checked at create: a batch whose model the engine does not serve fails while it
// validates, with one model_not_found error that names the line and the models the engine has,
// instead of running to `completed` with every line an error. Through the real daemon process,
// on the Ollama engine (the emulator, driven by the real `ollama` client inside the daemon), the
// OpenAI-compatible engine (the emulator's /v1) and the in-process llama-cpp engine.
import assert from 'node:assert/strict';
import type { Batch } from '../../server/protocol/openai.js';
import { batchLines, tempDir, writeTempFile } from '../support/batch-files.js';
import { isFinished, startDaemonProcess, submit, waitForBatch, type DaemonProcess } from '../support/daemon-process.js';
import { tinyModelPath } from '../support/models.js';
import { startOllamaEmulator, type RunningEmulator } from '../support/ollama-emulator/server.js';

const LINES = 170;

async function runFile(daemon: DaemonProcess, model: string): Promise<Batch> {
  const input = writeTempFile('input.jsonl', batchLines(LINES, { model }));
  const created = await submit(daemon.connection, input);
  return waitForBatch(daemon.connection, created.id, isFinished);
}

function assertModelNotFound(batch: Batch, message: string): void {
  assert.equal(batch.status, 'failed');
  assert.equal(batch.output_file_id, null, 'nothing ran');
  assert.deepEqual(batch.errors?.data, [
    { code: 'model_not_found', param: 'body.model', line: 1, message: `input.jsonl line 1: ${message}` },
  ]);
}

describe('the model, checked when a batch is created', function () {
  this.timeout(300_000);
  let emulator: RunningEmulator | undefined;
  let daemon: DaemonProcess | undefined;

  afterEach(async () => {
    await daemon?.stop();
    await emulator?.close();
    daemon = emulator = undefined;
  });

  it('fails a batch for a model Ollama lacks, once for all its lines, naming what it has', async () => {
    emulator = await startOllamaEmulator({ instant: true, models: ['tiny', 'llama3'] });
    daemon = await startDaemonProcess(tempDir(), ['--ollama-url', emulator.url]);
    assertModelNotFound(
      await runFile(daemon, 'gemma3:12b'),
      'model "gemma3:12b" is not served by the ollama engine; it has: tiny:latest, llama3:latest; map the name to one of them with the modelAliases setting, e.g. gemma3:12b=tiny:latest',
    );
    assert.equal(emulator.stats.chats, 0, 'no request reached the engine');
    // Ollama's rule: no tag means :latest.
    assert.equal((await runFile(daemon, 'llama3')).status, 'completed');
  });

  it("takes `llama3` for `llama3:latest` on Ollama's OpenAI-compatible /v1 too, which lists only the tag", async () => {
    emulator = await startOllamaEmulator({ instant: true, models: ['llama3'] });
    daemon = await startDaemonProcess(tempDir(), ['--engine', 'openai', '--openai-url', `${emulator.url}/v1`]);
    assert.equal((await runFile(daemon, 'llama3')).status, 'completed');
    assertModelNotFound(
      await runFile(daemon, 'llama2'),
      'model "llama2" is not served by the openai engine; it has: llama3:latest; map the name to one of them with the modelAliases setting, e.g. llama2=llama3:latest',
    );
  });

  it('fails a batch for a model the llama-cpp engine does not serve, naming its own', async () => {
    daemon = await startDaemonProcess(tempDir(), [
      '--engine',
      'llama-cpp',
      '--model-path',
      await tinyModelPath(),
      '--concurrency',
      '1',
      '--threads',
      '1',
    ]);
    assertModelNotFound(
      await runFile(daemon, 'gemma3:12b'),
      'model "gemma3:12b" is not served by the llama-cpp engine; it has: tiny; map the name to one of them with the modelAliases setting, e.g. gemma3:12b=tiny',
    );
  });
});
