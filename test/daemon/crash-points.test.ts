// The daemon killed at each of its durable writes in turn (a file copied in, db.json's temp file
// written, db.json renamed into place: OLLAMA_BATCH_CRASH_AT=N dies at the Nth), restarted, and
// the batch followed to its end: it always restarts, every custom_id ends up exactly once, and
// nothing is left that no record owns. Where the crash came before the batch was saved, the
// client was told nothing and submits again, as a user would.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Batch } from '../../server/protocol/openai.js';
import * as protocol from '../../server/protocol/methods.js';
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
import { assertExactlyOnce } from '../support/shapes.js';

const LINES = 30;
const ids = Array.from({ length: LINES }, (_, index) => `req-${index + 1}`);

describe('a kill at every durable write', function () {
  this.timeout(600_000);
  let emulator: RunningEmulator;
  let daemon: DaemonProcess | undefined;
  const args = (): string[] => ['--engine', 'ollama', '--ollama-url', emulator.url, '--concurrency', '4'];

  before(async () => {
    emulator = await startOllamaEmulator({ instant: true, models: ['tiny'], parallel: 4 });
  });
  after(async () => {
    await daemon?.stop();
    await emulator.close();
  });

  /** Submits the batch and follows it until it ends or the daemon dies; the crash point's line, if it died. */
  async function runUntilDeath(input: string): Promise<string | null> {
    const died = once(daemon!.child, 'exit').then(() => 'died' as const);
    const finished = submit(daemon!.connection, input).then((batch) =>
      waitForBatch(daemon!.connection, batch.id, isFinished),
    );
    finished.catch(() => undefined); // a request cut off by the death
    if ((await Promise.race([died, finished])) !== 'died') return null;
    return /crash point \d+: .*/.exec(daemon!.log())?.[0] ?? 'died without saying where';
  }

  it('restarts after each one, and the batch ends with every custom_id exactly once', async () => {
    const input = join(tempDir(), 'input.jsonl');
    writeFileSync(input, batchLines(LINES, { model: 'tiny' }));
    const points: string[] = [];
    for (let point = 1; ; point++) {
      const dataDir = tempDir();
      daemon = await startDaemonProcess(dataDir, args(), { OLLAMA_BATCH_CRASH_AT: String(point) });
      const crash = await runUntilDeath(input);
      if (crash === null) break; // past the last durable write of a whole run
      points.push(crash);
      daemon = await startDaemonProcess(dataDir, args());
      const listed = await daemon.connection.sendRequest(protocol.BatchListRequest.type, {});
      const batch: Batch = listed.data[0] ?? (await submit(daemon.connection, input));
      const ended = await waitForBatch(daemon.connection, batch.id, isFinished);
      assert.equal(ended.status, 'completed', `after ${crash}: ${JSON.stringify(ended.errors)}`);
      assertExactlyOnce(
        ids,
        await filePath(daemon.connection, ended.output_file_id),
        await filePath(daemon.connection, ended.error_file_id),
        ended,
      );
      const stored = JSON.parse(readFileSync(join(dataDir, 'db.json'), 'utf8')) as StoreData;
      const recorded = new Set(stored.files.map((file) => file.path));
      assert.deepEqual(
        readdirSync(join(dataDir, 'files'))
          .map((name) => join(dataDir, 'files', name))
          .filter((path) => !recorded.has(path)),
        [],
        `after ${crash}: files no record owns`,
      );
      assert.ok(!readdirSync(dataDir).includes('.db.json.tmp'), `after ${crash}: a temp db.json`);
      await daemon.stop();
      daemon = undefined;
    }
    console.log(`      killed at ${points.length} durable writes in turn`);
    // Copying the input in, then db.json twice (temp file, rename) at registering, creating,
    // leaving validation, finalizing and completing, at least.
    assert.ok(points.length >= 11, `only ${points.length} crash points:\n${points.join('\n')}`);
    assert.ok(points.some((line) => line.includes('input file copied')));
    assert.ok(points.some((line) => line.includes('renamed into place')));
  });
});
