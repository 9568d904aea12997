// Inputs and states that used to kill the daemon for good (it died again at every restart): a
// byte order mark, a cancel the moment validation ends, a stored batch whose files are gone. Each
// must leave a daemon that serves, with the batch completed or failed with a reason, never a loop.
import assert from 'node:assert/strict';
import { readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { StoreData } from '../../server/store/store.js';
import * as protocol from '../../server/protocol/methods.js';
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
import { assertExactlyOnce } from '../support/shapes.js';

const BOM = '\uFEFF';
const idsOf = (count: number, prefix = 'req'): string[] =>
  Array.from({ length: count }, (_, index) => `${prefix}-${index + 1}`);

describe('inputs and states that must not kill the daemon', function () {
  this.timeout(120_000);
  let emulator: RunningEmulator;
  let daemon: DaemonProcess | undefined;
  const args = (): string[] => ['--engine', 'ollama', '--ollama-url', emulator.url, '--concurrency', '4'];

  before(async () => {
    emulator = await startOllamaEmulator({ instant: true, models: ['tiny'], parallel: 4 });
  });
  afterEach(async () => {
    await daemon?.stop();
    daemon = undefined;
  });
  after(() => emulator.close());

  async function runToEnd(input: string, ids: string[]) {
    const { id } = await submit(daemon!.connection, input);
    const batch = await waitForBatch(daemon!.connection, id, isFinished);
    assert.equal(batch.status, 'completed', JSON.stringify(batch.errors));
    const files = assertExactlyOnce(
      ids,
      await filePath(daemon!.connection, batch.output_file_id),
      await filePath(daemon!.connection, batch.error_file_id),
      batch,
    );
    assert.equal(files.errors.length, 0);
    return batch;
  }

  it('runs a file that starts with a byte order mark, and one with a BOM on a middle line', async () => {
    daemon = await startDaemonProcess(tempDir(), args());
    const one = join(tempDir(), 'bom.jsonl');
    writeFileSync(one, BOM + batchLines(1, { model: 'tiny' }));
    await runToEnd(one, idsOf(1));
    // `cat a.jsonl b.jsonl` of two exported files: the second one's BOM lands on line 4.
    const joined = join(tempDir(), 'joined.jsonl');
    writeFileSync(
      joined,
      BOM + batchLines(3, { model: 'tiny', prefix: 'a' }) + BOM + batchLines(3, { model: 'tiny', prefix: 'b' }),
    );
    await runToEnd(joined, [...idsOf(3, 'a'), ...idsOf(3, 'b')]);
    assert.doesNotMatch(daemon.log(), /unhandled|uncaught/);
  });

  it('survives cancels sent the moment a poll sees a batch leave validation, every batch ending once', async () => {
    daemon = await startDaemonProcess(tempDir(), args());
    const input = join(tempDir(), 'input.jsonl');
    writeFileSync(input, batchLines(40, { model: 'tiny' }));
    for (let round = 0; round < 30; round++) {
      const { id } = await submit(daemon.connection, input);
      // A client polling as fast as it can, as the one that found this did: it sees the new
      // status as soon as the daemon holds it, before the daemon has saved it.
      while ((await daemon.connection.sendRequest(protocol.BatchGetRequest.type, { id })).status === 'validating');
      await daemon.connection.sendRequest(protocol.BatchCancelRequest.type, { id }).catch(() => undefined);
      const batch = await waitForBatch(daemon.connection, id, isFinished);
      assert.ok(['cancelled', 'completed'].includes(batch.status), batch.status);
      assertExactlyOnce(
        idsOf(40),
        await filePath(daemon.connection, batch.output_file_id),
        await filePath(daemon.connection, batch.error_file_id),
        batch,
      );
    }
    assert.doesNotMatch(daemon.log(), /unhandled|uncaught/);
  });

  it("starts when a stored batch lost its input copy or its files' records, failing those batches with the reason", async () => {
    const dataDir = tempDir();
    // No engine answers yet: the batches wait in progress, as a long run's do.
    daemon = await startDaemonProcess(dataDir, ['--engine', 'ollama', '--ollama-url', 'http://127.0.0.1:1']);
    const input = join(tempDir(), 'input.jsonl');
    writeFileSync(input, batchLines(20, { model: 'tiny' }));
    const lostInput = await submit(daemon.connection, input);
    const lostRecord = await submit(daemon.connection, input);
    const healthy = await submit(daemon.connection, input);
    const inputPath = await filePath(daemon.connection, lostInput.input_file_id);
    await waitForBatch(daemon.connection, healthy.id, (batch) => batch.status === 'in_progress');
    await daemon.kill9();
    // The states a crash or a hand used to leave: the input copy deleted, a batch in progress
    // whose error file has no record.
    rmSync(inputPath);
    const dbPath = join(dataDir, 'db.json');
    const db = JSON.parse(readFileSync(dbPath, 'utf8')) as StoreData;
    const stored = db.batches.find((entry) => entry.batch.id === lostRecord.id)!.batch;
    Object.assign(stored, { status: 'in_progress', output_file_id: 'file-gone0001', error_file_id: 'file-gone0002' });
    writeFileSync(dbPath, JSON.stringify(db));

    daemon = await startDaemonProcess(dataDir, args());
    const failedInput = await waitForBatch(daemon.connection, lostInput.id, isFinished);
    assert.equal(failedInput.status, 'failed');
    assert.match(failedInput.errors!.data[0]!.message, /input file .* (no longer exists|is missing)/);
    const failedRecord = await waitForBatch(daemon.connection, lostRecord.id, isFinished);
    assert.equal(failedRecord.status, 'failed');
    assert.equal(failedRecord.errors!.data[0]!.code, 'internal_error');
    assert.match(failedRecord.errors!.data[0]!.message, /output file file-gone0001 has no record/);
    assert.equal((await waitForBatch(daemon.connection, healthy.id, isFinished)).status, 'completed');
    // And once more: the failures were saved, so a restart does not meet them again.
    await daemon.stop();
    daemon = await startDaemonProcess(dataDir, args());
    assert.equal(
      (await daemon.connection.sendRequest(protocol.BatchGetRequest.type, { id: lostRecord.id })).status,
      'failed',
    );
  });

  it('refuses a db.json it cannot read with one line saying what to do, and starts afresh once it is moved away', async () => {
    const dataDir = tempDir();
    daemon = await startDaemonProcess(dataDir, args());
    const input = join(tempDir(), 'input.jsonl');
    writeFileSync(input, batchLines(5, { model: 'tiny' }));
    await runToEnd(input, idsOf(5));
    await daemon.stop();
    daemon = undefined;
    const dbPath = join(dataDir, 'db.json');
    writeFileSync(dbPath, '{"version": 1, "files": [');
    await assert.rejects(startDaemonProcess(dataDir, args()), (error: Error) => {
      assert.match(
        error.message,
        /db\.json cannot be read \(.*\); mend it, or move it and the files\/ folder beside it away to start with no batches/,
      );
      assert.doesNotMatch(error.message, /\n\s+at /, 'no stack trace');
      return true;
    });
    renameSync(dbPath, `${dbPath}.broken`);
    renameSync(join(dataDir, 'files'), join(dataDir, 'files.broken'));
    daemon = await startDaemonProcess(dataDir, args());
    assert.deepEqual((await daemon.connection.sendRequest(protocol.BatchListRequest.type, {})).data, []);
    await runToEnd(input, idsOf(5));
  });

  it('removes at startup what no record owns: a .part, an unrecorded file, a temp db.json', async () => {
    const dataDir = tempDir();
    daemon = await startDaemonProcess(dataDir, args());
    const input = join(tempDir(), 'input.jsonl');
    writeFileSync(input, batchLines(5, { model: 'tiny' }));
    const batch = await runToEnd(input, idsOf(5));
    await daemon.kill9();
    const leftovers = [
      join(dataDir, 'files', 'file-0123abcd.jsonl.part'),
      join(dataDir, 'files', 'file-0123abce.jsonl'),
      join(dataDir, '.db.json.tmp'),
      join(dataDir, 'metrics', 'batch_never.jsonl'),
    ];
    for (const path of leftovers) writeFileSync(path, '{"partial":');
    daemon = await startDaemonProcess(dataDir, args());
    for (const path of leftovers)
      assert.match(daemon.log(), new RegExp(`removed ${path.replace(/[.]/g, '\\.')}: left by a crash`));
    const kept = await daemon.connection.sendRequest(protocol.BatchGetRequest.type, { id: batch.id });
    assert.equal(
      readFileSync(await filePath(daemon.connection, kept.output_file_id!), 'utf8')
        .trim()
        .split('\n').length,
      5,
      'what records own is kept',
    );
  });
});
