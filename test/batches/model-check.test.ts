// Model aliases: a file written for one engine runs on another without editing its lines. The
// batch service in process (the daemon wires its config into the same settings), on real
// engines: the Ollama engine through the emulator, and the llama-cpp engine on the tiny GGUF.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { BatchService } from '../../server/batches/service.js';
import type { Engine } from '../../server/engines/engine.js';
import { LlamaCppEngine } from '../../server/engines/llama-cpp.js';
import { OllamaEngine } from '../../server/engines/ollama.js';
import type { ChatCompletion } from '../../server/openai/types.js';
import type { BatchOutputLine } from '../../server/openai/types.js';
import type { Batch } from '../../server/protocol/openai.js';
import { TERMINAL_STATUSES } from '../../server/protocol/openai.js';
import { Store } from '../../server/store/store.js';
import { batchLines, tempDir, writeTempFile } from '../support/batch-files.js';
import { tinyModelPath } from '../support/models.js';
import { startOllamaEmulator, type RunningEmulator } from '../support/ollama-emulator/server.js';
import { assertExactlyOnce, assertSuccessLine } from '../support/shapes.js';

const LINES = 12;
const ids = Array.from({ length: LINES }, (_, index) => `req-${index + 1}`);

/** A started service on `engine` with these aliases; close() stops it. */
async function serviceOn(engine: Engine, modelAliases: Record<string, string>): Promise<BatchService> {
  const service = new BatchService(await Store.open(tempDir()), engine, { modelAliases, concurrency: 2 });
  await service.start();
  return service;
}

/** Runs a file of LINES requests for `model` to its end. */
async function run(service: BatchService, model: string): Promise<{ batch: Batch; output: BatchOutputLine[] }> {
  const file = await service.registerFile({ path: writeTempFile('input.jsonl', batchLines(LINES, { model })) });
  const { id } = await service.createBatch({ input_file_id: file.id });
  // Looked at again after every change: the one awaited may be another batch's.
  let batch = service.getBatch(id);
  while (!TERMINAL_STATUSES.includes(batch.status)) {
    await once(service, 'changed');
    batch = service.getBatch(id);
  }
  if (batch.status !== 'completed') return { batch, output: [] };
  const { output, errors } = assertExactlyOnce(
    ids,
    batch.output_file_id && service.getFile(batch.output_file_id).path,
    batch.error_file_id && service.getFile(batch.error_file_id).path,
    batch,
  );
  assert.deepEqual(errors, []);
  output.forEach(assertSuccessLine);
  return { batch, output };
}

const answeredBy = (output: BatchOutputLine[]): Set<string> =>
  new Set(output.map((line) => (line.response!.body as ChatCompletion).model));

describe('model aliases', function () {
  this.timeout(300_000);
  let service: BatchService | undefined;
  let emulator: RunningEmulator | undefined;
  let engine: Engine | undefined;

  afterEach(async () => {
    await service?.close();
    await emulator?.close();
    await engine?.close();
    service = emulator = engine = undefined;
  });

  it("runs a file written for another model on the engine's own: the batch keeps the file's model, the answers name the engine's", async () => {
    emulator = await startOllamaEmulator({ instant: true, models: ['tiny'] });
    engine = new OllamaEngine({ url: emulator.url });
    service = await serviceOn(engine, { 'gemma3:12b': 'tiny', 'gpt-4o': 'llama3' });
    const { batch, output } = await run(service, 'gemma3:12b');
    assert.equal(batch.status, 'completed', JSON.stringify(batch.errors));
    assert.equal(batch.model, 'gemma3:12b');
    assert.deepEqual(answeredBy(output), new Set(['tiny']));
    // An alias whose target the engine lacks is checked as well, and the error says which alias.
    const unserved = (await run(service, 'gpt-4o')).batch;
    assert.equal(unserved.status, 'failed');
    assert.deepEqual(
      unserved.errors?.data.map(({ code, line, message }) => [code, line, message]),
      [
        [
          'model_not_found',
          1,
          'input.jsonl line 1: model "gpt-4o" (aliased to "llama3") is not served by the ollama engine; it has: tiny:latest',
        ],
      ],
    );
  });

  it("takes the llama-cpp engine's model file path as the name it serves", async () => {
    const modelPath = await tinyModelPath();
    engine = await LlamaCppEngine.load({ modelPath, slots: 2, threads: 1 });
    service = await serviceOn(engine, { 'gemma3:12b': modelPath });
    const { batch, output } = await run(service, 'gemma3:12b');
    assert.equal(batch.status, 'completed', JSON.stringify(batch.errors));
    assert.equal(batch.model, 'gemma3:12b');
    assert.deepEqual(answeredBy(output), new Set(['tiny']));
  });
});
