// Batches hold the user's data (candidates' answers, say): the data dir is its user's alone, 0700,
// and every file the daemon keeps there 0600, whatever the user's umask; a data dir made before
// with 0755 is closed too.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { chmodSync, lstatSync, mkdirSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import * as protocol from '../../server/protocol/methods.js';
import { connectDaemon } from '../../server/rpc/client.js';
import { promisify } from 'node:util';
import { batchLines, tempDir, writeTempFile } from '../support/batch-files.js';
import { CLI } from '../support/daemon-process.js';
import { startOllamaEmulator, type RunningEmulator } from '../support/ollama-emulator/server.js';

const exec = promisify(execFile);
const cli = (...args: string[]) => exec(process.execPath, [CLI, ...args]);

/** Every path under `dir` with its permission bits in octal, folders first. */
function modesUnder(dir: string): Array<{ path: string; kind: 'folder' | 'file' | 'other'; mode: string }> {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    const info = lstatSync(path);
    const mode = (info.mode & 0o777).toString(8);
    if (info.isDirectory()) return [{ path, kind: 'folder' as const, mode }, ...modesUnder(path)];
    return [{ path, kind: info.isFile() ? ('file' as const) : ('other' as const), mode }];
  });
}

describe("the data dir's permissions", function () {
  this.timeout(120_000);
  let emulator: RunningEmulator;
  before(async () => {
    emulator = await startOllamaEmulator({ instant: true, models: ['tiny'] });
  });
  after(() => emulator.close());

  it('keeps the data dir 0700 and every file in it 0600 after a batch and an upload, also when it was 0755', async function () {
    if (process.platform === 'win32') this.skip();
    const dataDir = join(tempDir(), 'data');
    mkdirSync(dataDir);
    chmodSync(dataDir, 0o755);
    const input = writeTempFile('input.jsonl', batchLines(20, { model: 'tiny' }));
    chmodSync(input, 0o644); // as a user's umask makes it
    try {
      const run = await cli('run', input, '--data-dir', dataDir, '--ollama-url', emulator.url, '--port', '0', '--json');
      assert.equal(JSON.parse(run.stdout).batch.status, 'completed');
      const { daemon } = JSON.parse((await cli('status', '--data-dir', dataDir, '--json')).stdout);
      const form = new FormData();
      form.append('purpose', 'batch');
      form.append('file', new Blob([batchLines(2, { model: 'tiny' })]), 'upload.jsonl');
      assert.equal((await fetch(`${daemon.http}/v1/files`, { method: 'POST', body: form })).status, 200);

      const entries = modesUnder(dataDir);
      assert.ok(
        entries.some((entry) => entry.path.endsWith('db.json')) &&
          entries.some((entry) => entry.path.endsWith('daemon.log')),
        JSON.stringify(entries),
      );
      assert.equal((lstatSync(dataDir).mode & 0o777).toString(8), '700', 'the data dir');
      // A folder 0700, a file 0600, the socket its user's alone.
      const open = entries.filter(({ kind, mode }) =>
        kind === 'folder' ? mode !== '700' : kind === 'file' ? mode !== '600' : !mode.endsWith('00'),
      );
      assert.deepEqual(open, [], 'open to others');

      // What the daemon writes for the user outside it (a converted batch file) keeps the user's modes.
      const connection = (await connectDaemon(dataDir))!;
      const csv = writeTempFile('people.csv', 'id,text\n1,hello\n');
      const output = join(dirname(csv), 'people.jsonl');
      await connection.sendRequest(protocol.CsvConvertRequest.type, {
        input: csv,
        output,
        model: 'tiny',
        numCtx: 2048,
        template: '{{text}}',
      });
      connection.dispose();
      assert.equal(
        (lstatSync(output).mode & 0o777).toString(8),
        (0o666 & ~process.umask()).toString(8),
        'the converted file, as the umask makes it',
      );
    } finally {
      await cli('stop', '--data-dir', dataDir).catch(() => undefined);
    }
  });
});
