// `delete ID` forgets an ended batch and its files; `clear` lists the finished batches and
// deletes them only with --yes; an unknown id is refused with the id named.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { batchLines, writeTempFile } from '../support/batch-files.js';
import { cli, freshDataDir, lockRemoved } from '../support/cli-process.js';
import { startOllamaEmulator, type RunningEmulator } from '../support/ollama-emulator/server.js';

describe('ollama-batch delete and clear', function () {
  this.timeout(120_000);
  let emulator: RunningEmulator;
  before(async () => {
    emulator = await startOllamaEmulator({ instant: true, models: ['tiny'] });
  });
  after(() => emulator.close());

  it('deletes one batch, then clears the finished ones once confirmed', async () => {
    const dataDir = freshDataDir();
    const runOne = async (): Promise<{ batch: { id: string }; output_path: string }> => {
      const input = writeTempFile('input.jsonl', batchLines(3, { model: 'tiny' }));
      const run = await cli([
        'run',
        input,
        '--data-dir',
        dataDir,
        '--engine',
        'ollama',
        '--ollama-url',
        emulator.url,
        '--json',
      ]);
      assert.equal(run.code, 0, `exit ${run.code}: ${run.stderr}`);
      return JSON.parse(run.stdout);
    };
    const listed = async (): Promise<string[]> => {
      const list = await cli(['list', '--data-dir', dataDir, '--json']);
      assert.equal(list.code, 0, list.stderr);
      return (JSON.parse(list.stdout) as { batches: Array<{ id: string }> }).batches.map((batch) => batch.id);
    };
    try {
      const first = await runOne();
      assert.ok(existsSync(first.output_path));
      const shown = await cli(['status', first.batch.id, '--data-dir', dataDir]);
      assert.match(shown.stdout, /\n {2}took: {8}\d+ (s|m)/);
      const deleted = await cli(['delete', first.batch.id, '--data-dir', dataDir]);
      assert.equal(deleted.code, 0, deleted.stderr);
      assert.equal(deleted.stdout.trim(), `deleted ${first.batch.id}`);
      assert.equal(existsSync(first.output_path), false);
      assert.deepEqual(await listed(), []);

      const again = await cli(['delete', first.batch.id, '--data-dir', dataDir]);
      assert.equal(again.code, 1);
      assert.match(again.stderr, new RegExp(first.batch.id));

      const kept = [(await runOne()).batch.id, (await runOne()).batch.id];
      const unconfirmed = await cli(['clear', '--data-dir', dataDir]);
      assert.equal(unconfirmed.code, 1);
      assert.match(unconfirmed.stderr, /would delete 2 finished batches with their files/);
      assert.match(unconfirmed.stderr, /run again with --yes to delete them/);
      for (const id of kept) assert.match(unconfirmed.stderr, new RegExp(id));
      assert.deepEqual((await listed()).sort(), [...kept].sort());

      const cleared = await cli(['clear', '--yes', '--data-dir', dataDir]);
      assert.equal(cleared.code, 0, cleared.stderr);
      assert.equal(cleared.stdout.trim(), 'deleted 2 finished batches');
      assert.deepEqual(await listed(), []);
      assert.equal((await cli(['clear', '--data-dir', dataDir])).stdout.trim(), 'no finished batches');
    } finally {
      const stopped = lockRemoved(dataDir);
      await cli(['stop', '--data-dir', dataDir]);
      await stopped;
    }
  });
});
