// A full disk, for real: the data dir on a small tmpfs that a filler file fills up while a batch
// runs. The batch pauses with the reason (it used to kill the daemon, again at every restart), an
// upload and a batch creation are answered 507 and leave nothing, and once the filler is gone
// the batch resumes by itself and ends with every custom_id exactly once.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, rmSync, statfsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import OpenAI, { toFile } from 'openai';
import { batchLines, tempDir } from '../support/batch-files.js';
import {
  filePath,
  isFinished,
  openaiClient,
  startDaemonProcess,
  submit,
  waitForBatch,
  type DaemonProcess,
} from '../support/daemon-process.js';
import { startOllamaEmulator, type RunningEmulator } from '../support/ollama-emulator/server.js';
import { assertExactlyOnce } from '../support/shapes.js';

const LINES = 3000;
const ids = Array.from({ length: LINES }, (_, index) => `req-${index + 1}`);

/** Mounts a tmpfs of `size` at a fresh folder; null where this user may not mount (not root). */
function mountTmpfs(size: string): string | null {
  const dir = tempDir('ob-disk-');
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size},mode=0700`, 'tmpfs', dir], { stdio: 'pipe' });
    return dir;
  } catch {
    return null;
  }
}

describe('a full disk', function () {
  this.timeout(180_000);
  let emulator: RunningEmulator;
  let daemon: DaemonProcess | undefined;
  let mount: string | null;

  before(async function () {
    mount = mountTmpfs('40m');
    // CI and these machines run as root; a user who may not mount sees why this is skipped.
    if (!mount) return this.skip();
    emulator = await startOllamaEmulator({ instant: true, models: ['tiny'], parallel: 4, latencyMs: 5 });
  });
  after(async () => {
    await daemon?.stop();
    await emulator?.close();
    if (mount) execFileSync('umount', [mount]);
  });

  it('pauses the batch, answers 507 without leftovers, and resumes once there is room', async () => {
    const dataDir = join(mount!, 'data');
    mkdirSync(dataDir);
    daemon = await startDaemonProcess(dataDir, [
      '--engine',
      'ollama',
      '--ollama-url',
      emulator.url,
      '--concurrency',
      '4',
    ]);
    const input = join(tempDir(), 'input.jsonl');
    writeFileSync(input, batchLines(LINES, { model: 'tiny' }));
    const { id } = await submit(daemon.connection, input);
    await waitForBatch(daemon.connection, id, (batch) => batch.request_counts.completed >= 100);

    // Fill the disk to the last few KB while the batch writes its answers.
    const { bavail, bsize } = statfsSync(mount!);
    const filler = join(mount!, 'filler');
    writeFileSync(filler, Buffer.alloc(bavail * bsize - 16 * 1024));
    const paused = await waitForBatch(
      daemon.connection,
      id,
      (batch) => batch.paused_reason?.startsWith('disk full') ?? false,
    );
    assert.match(paused.paused_reason!, /^disk full: \d+\.\d MiB free, 16\.0 MiB needed$/);
    assert.equal(paused.status, 'in_progress');

    const { base, client } = await openaiClient(daemon.connection);
    const upload = await client.files
      .create({ file: await toFile(Buffer.from(batchLines(2000, { model: 'tiny' })), 'more.jsonl'), purpose: 'batch' })
      .catch((error: unknown) => error);
    assert.ok(upload instanceof OpenAI.APIError && upload.status === 507, `upload: ${String(upload)}`);
    const created = await client.batches
      .create({ input_file_id: paused.input_file_id, endpoint: '/v1/chat/completions', completion_window: '24h' })
      .catch((error: unknown) => error);
    assert.ok(created instanceof OpenAI.APIError && created.status === 507, `create: ${String(created)}`);
    const files = readdirSync(join(dataDir, 'files'));
    assert.deepEqual(
      files.filter((name) => name.endsWith('.part')),
      [],
      'no partial upload',
    );
    assert.equal(files.length, 3, `the batch's input, output and error files only: ${files.join(', ')}`);
    assert.ok(!readdirSync(dataDir).includes('.db.json.tmp'));
    assert.equal(daemon.child.exitCode, null, 'the daemon runs on');
    assert.match(await (await fetch(`${base}/metrics`)).text(), /^ollama_batch_paused\{reason="disk_full"\} 1$/m);

    rmSync(filler);
    const batch = await waitForBatch(daemon.connection, id, isFinished);
    assert.equal(batch.status, 'completed');
    assert.equal(batch.paused_reason, null);
    const { errors } = assertExactlyOnce(
      ids,
      await filePath(daemon.connection, batch.output_file_id),
      await filePath(daemon.connection, batch.error_file_id),
      batch,
    );
    assert.equal(errors.length, 0);
    assert.match(daemon.log(), /paused: disk full.*resumes by itself/);
    assert.doesNotMatch(daemon.log(), /unhandled|uncaught/);
  });
});
