// kill -9 the daemon three times during a run: after each restart it resumes from its journal,
// and in the end every custom_id is written exactly once and the counts match the files.
import assert from 'node:assert/strict';
import { appendFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { StoreData } from '../../server/store/store.js';
import { batchLines, tempDir } from '../support/batch-files.js';
import {
  filePath,
  isFinished,
  startDaemonProcess,
  submit,
  waitForBatch,
  type DaemonProcess,
} from '../support/daemon-process.js';
import { startOllamaEmulator, type RunningEmulator } from '../support/ollama-emulator/server.js';
import { assertExactlyOnce, assertSuccessLine } from '../support/shapes.js';

const LINES = 300;

describe('kill -9 during a run', function () {
  this.timeout(300_000);
  let emulator: RunningEmulator;
  let other: RunningEmulator;
  let daemon: DaemonProcess | undefined;

  before(async () => {
    emulator = await startOllamaEmulator({ instant: true, models: ['tiny'], parallel: 4, latencyMs: 15 });
    other = await startOllamaEmulator({ instant: true, models: ['tiny'], parallel: 4, latencyMs: 15 });
  });
  afterEach(async () => {
    await daemon?.stop();
    daemon = undefined;
  });
  after(async () => {
    await emulator.close();
    await other.close();
  });

  it('resumes after three kills and loses nothing, twice-written nothing', async () => {
    const dataDir = tempDir();
    const args = ['--engine', 'ollama', '--ollama-url', emulator.url, '--concurrency', '4'];
    const input = join(tempDir(), 'input.jsonl');
    writeFileSync(input, batchLines(LINES, { model: 'tiny' }));
    daemon = await startDaemonProcess(dataDir, args);
    const { id } = await submit(daemon.connection, input);
    const outputPath = await waitForBatch(daemon.connection, id, (batch) => batch.output_file_id !== null).then(
      (batch) => filePath(daemon!.connection, batch.output_file_id!),
    );
    for (const [kill, threshold] of [60, 140, 220].entries()) {
      const running = await waitForBatch(daemon.connection, id, (batch) => batch.request_counts.completed >= threshold);
      assert.equal(running.status, 'in_progress');
      await daemon.kill9();
      // A write torn by the kill, as a crash in the middle of a line leaves it.
      if (kill === 1) appendFileSync(outputPath, '{"id":"batch_req_torn","custom_id":"req-');
      // The lowdb file is whole after every kill (written by rename, never in place).
      JSON.parse(readFileSync(join(dataDir, 'db.json'), 'utf8'));
      daemon = await startDaemonProcess(dataDir, args);
    }
    const batch = await waitForBatch(daemon.connection, id, isFinished);
    assert.equal(batch.status, 'completed');
    const ids = Array.from({ length: LINES }, (_, index) => `req-${index + 1}`);
    const errorPath = await filePath(daemon.connection, batch.error_file_id);
    const { output, errors } = assertExactlyOnce(ids, outputPath, errorPath, batch);
    assert.equal(errors.length, 0);
    output.forEach(assertSuccessLine);
    const stored = JSON.parse(readFileSync(join(dataDir, 'db.json'), 'utf8')) as StoreData;
    assert.deepEqual(stored.batches.find((entry) => entry.batch.id === id)!.batch.request_counts, {
      total: LINES,
      completed: LINES,
      failed: 0,
    });
  });

  it('resumes a run over a pool of two engines after two kills: every line once, both endpoints answering', async () => {
    const dataDir = tempDir();
    const endpoints = [emulator, other].map((each, index) => ({
      name: `gpu${index}`,
      engine: 'ollama',
      url: each.url,
      concurrency: 4,
    }));
    writeFileSync(join(dataDir, 'config.json'), JSON.stringify({ endpoints }));
    const input = join(tempDir(), 'input.jsonl');
    writeFileSync(input, batchLines(LINES, { model: 'tiny' }));
    daemon = await startDaemonProcess(dataDir, []);
    const { id } = await submit(daemon.connection, input);
    for (const threshold of [80, 180]) {
      await waitForBatch(daemon.connection, id, (batch) => batch.request_counts.completed >= threshold);
      await daemon.kill9();
      daemon = await startDaemonProcess(dataDir, []);
    }
    const batch = await waitForBatch(daemon.connection, id, isFinished);
    assert.equal(batch.status, 'completed');
    const ids = Array.from({ length: LINES }, (_, index) => `req-${index + 1}`);
    const { output, errors } = assertExactlyOnce(
      ids,
      await filePath(daemon.connection, batch.output_file_id),
      await filePath(daemon.connection, batch.error_file_id),
      batch,
    );
    assert.equal(errors.length, 0);
    output.forEach(assertSuccessLine);
    const answeredBy = new Set(output.map((line) => line.ollama_batch?.endpoint));
    assert.deepEqual([...answeredBy].sort(), ['gpu0', 'gpu1']);
  });
});
