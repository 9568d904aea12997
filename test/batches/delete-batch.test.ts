// Deleting batches: the batch service in process on the Ollama engine through the emulator. A
// batch that has ended goes with its metrics and the files no other batch uses; one that runs is
// refused with a conflict that says to cancel it; a file that another batch uses stays.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { ServiceError } from '../../server/batches/errors.js';
import { timeSeriesPath } from '../../server/batches/live-metrics.js';
import { BatchService } from '../../server/batches/service.js';
import { OllamaEngine } from '../../server/engines/ollama.js';
import type { Batch } from '../../server/protocol/openai.js';
import { TERMINAL_STATUSES } from '../../server/protocol/openai.js';
import { Store } from '../../server/store/store.js';
import { batchLines, tempDir, writeTempFile } from '../support/batch-files.js';
import { startOllamaEmulator, type RunningEmulator } from '../support/ollama-emulator/server.js';

/** Waits, change by change, until the batch is as `done` says. */
async function until(service: BatchService, id: string, done: (batch: Batch) => boolean): Promise<Batch> {
  let batch = service.getBatch(id);
  while (!done(batch)) {
    await once(service, 'changed');
    batch = service.getBatch(id);
  }
  return batch;
}

const ended = (batch: Batch): boolean => TERMINAL_STATUSES.includes(batch.status);

describe('deleting batches', function () {
  this.timeout(120_000);
  let emulator: RunningEmulator;
  let service: BatchService;
  let store: Store;
  let dataDir: string;

  beforeEach(async () => {
    // Slow enough answers that a batch is seen running before it ends.
    emulator = await startOllamaEmulator({ instant: true, latencyMs: 100, models: ['tiny'] });
    dataDir = tempDir();
    store = await Store.open(dataDir);
    service = new BatchService(store, new OllamaEngine({ url: emulator.url }), { concurrency: 1 });
    await service.start();
  });

  afterEach(async () => {
    await service.close();
    await emulator.close();
  });

  async function submit(content: string): Promise<Batch> {
    const file = await service.registerFile({ path: writeTempFile('input.jsonl', content) });
    return service.createBatch({ input_file_id: file.id });
  }

  it('deletes a finished batch with its metrics and its input and output files, for good', async () => {
    const batch = await until(service, (await submit(batchLines(3, { model: 'tiny' }))).id, ended);
    assert.equal(batch.status, 'completed', JSON.stringify(batch.errors));
    const paths = [batch.input_file_id, batch.output_file_id!].map((id) => service.getFile(id).path);
    const series = timeSeriesPath(store.metricsDir, batch.id);
    for (const path of [...paths, series]) assert.ok(existsSync(path), path);

    assert.deepEqual(await service.deleteBatch(batch.id), { id: batch.id, object: 'batch', deleted: true });
    assert.throws(
      () => service.getBatch(batch.id),
      (error: ServiceError) => error.code === 'not_found',
    );
    assert.deepEqual(service.listBatches().data, []);
    assert.deepEqual(service.listFiles().data, []);
    for (const path of [...paths, series]) assert.equal(existsSync(path), false, path);
    // Gone from db.json too, so a restart does not bring it back.
    assert.equal((await Store.open(dataDir)).batch(batch.id), undefined);
    await assert.rejects(
      service.deleteBatch(batch.id),
      (error: ServiceError) => error.code === 'not_found' && error.message.includes(batch.id),
    );
  });

  it('refuses to delete a batch that runs, and deletes it once cancelled, error file and all', async () => {
    const created = await submit(batchLines(40, { model: 'tiny' }));
    await until(service, created.id, (batch) => batch.status === 'in_progress' && batch.request_counts.completed > 0);
    await assert.rejects(
      service.deleteBatch(created.id),
      (error: ServiceError) =>
        error.code === 'conflict' && /is in_progress and cannot be deleted; cancel it first/.test(error.message),
    );
    assert.equal(service.getBatch(created.id).status, 'in_progress');
    await service.cancelBatch(created.id);
    const cancelled = await until(service, created.id, ended);
    assert.equal(cancelled.status, 'cancelled');
    // The lines not run are error lines (batch_cancelled): an error file to delete too.
    const errorPath = service.getFile(cancelled.error_file_id!).path;
    await service.deleteBatch(created.id);
    assert.equal(existsSync(errorPath), false);
    assert.deepEqual(service.listFiles().data, []);
  });

  it('keeps an input file that another batch still uses', async () => {
    const file = await service.registerFile({ path: writeTempFile('input.jsonl', batchLines(2, { model: 'tiny' })) });
    const first = await service.createBatch({ input_file_id: file.id });
    const second = await service.createBatch({ input_file_id: file.id });
    await until(service, first.id, ended);
    await until(service, second.id, ended);
    await service.deleteBatch(first.id);
    assert.ok(existsSync(service.getFile(file.id).path));
    await service.deleteBatch(second.id);
    assert.throws(
      () => service.getFile(file.id),
      (error: ServiceError) => error.code === 'not_found',
    );
  });
});
