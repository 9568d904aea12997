// The file registry in process, on a store in a temp dir and a clock the test drives: OpenAI's
// cursor paging of the file list, expiring files (at their time, not before, not while a batch
// that has not ended uses them, and those that expired while the daemon was down at its next
// start), and an ended batch's files settled as OpenAI's are (none where no line went).
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { existsSync, watch, writeFileSync } from 'node:fs';
import type { Clock } from '../../server/batches/clock.js';
import { ServiceError } from '../../server/batches/errors.js';
import { expirySeconds, FileRegistry } from '../../server/batches/file-registry.js';
import { newBatch } from '../../server/batches/new-batch.js';
import { Store, type StoredBatch } from '../../server/store/store.js';
import { tempDir } from '../support/batch-files.js';

/** Time stands still until the test moves it; the timers set are kept for the test to fire. */
class TestClock implements Clock {
  seconds = 1_700_000_000;
  timers: Array<{ ms: number; callback: () => void; cancelled: boolean }> = [];
  private timerSet: (() => void) | undefined;

  now(): number {
    return this.seconds;
  }

  after(ms: number, callback: () => void): () => void {
    const timer = { ms, callback, cancelled: false };
    this.timers.push(timer);
    this.timerSet?.();
    return () => void (timer.cancelled = true);
  }

  async sleep(): Promise<void> {}

  /** The timer that is set (one at most), fired; waits for it where the last look is still deleting. */
  async fire(): Promise<void> {
    while (!this.timers.some((timer) => !timer.cancelled)) {
      await new Promise<void>((resolve) => (this.timerSet = resolve));
    }
    const live = this.timers.filter((timer) => !timer.cancelled);
    assert.equal(live.length, 1, 'one expiry timer is set');
    this.timers = [];
    live[0]!.callback();
  }
}

async function registry(dataDir = tempDir()): Promise<{ store: Store; files: FileRegistry; clock: TestClock }> {
  const store = await Store.open(dataDir);
  const clock = new TestClock();
  return { store, files: new FileRegistry(store, clock), clock };
}

/** A file of `text` added to the registry, kept `expiresAfter` seconds if given. */
async function addFile(files: FileRegistry, text = 'x\n', expiresAfter?: number) {
  const { id, path } = files.newPath();
  writeFileSync(path, text);
  const file = await files.add({
    id,
    path,
    bytes: text.length,
    filename: `${id}.jsonl`,
    purpose: 'batch',
    ...(expiresAfter !== undefined && { expiresAfter }),
  });
  return { ...file, path };
}

/** Resolves once `path` is gone (watching its folder, not polling). */
async function gone(dir: string, path: string): Promise<void> {
  const watcher = watch(dir);
  try {
    while (existsSync(path)) await once(watcher, 'change');
  } finally {
    watcher.close();
  }
}

/** A batch in the store that reads `inputId`, in `status`. */
function batchUsing(store: Store, inputId: string, status: 'in_progress' | 'completed'): StoredBatch {
  const entry = newBatch({ input_file_id: inputId }, (id) => store.file(id)!, 0);
  entry.batch.status = status;
  store.data.batches.push(entry);
  return entry;
}

describe('the file registry', () => {
  it('pages the file list as OpenAI does: limit, after, order, first_id, last_id, has_more', async () => {
    const { files, clock } = await registry();
    const ids: string[] = [];
    for (let index = 0; index < 5; index++) {
      ids.push((await addFile(files)).id);
      clock.seconds++;
    }
    const newestFirst = [...ids].reverse();
    assert.deepEqual(
      files.list().data.map((file) => file.id),
      newestFirst,
      'all of them, newest first, by default',
    );
    const first = files.list({ limit: 2 });
    assert.deepEqual(
      first.data.map((file) => file.id),
      newestFirst.slice(0, 2),
    );
    assert.equal(first.has_more, true);
    assert.equal(first.first_id, newestFirst[0]);
    assert.equal(first.last_id, newestFirst[1]);
    const seen: string[] = [];
    let page = first;
    for (;;) {
      seen.push(...page.data.map((file) => file.id));
      if (!page.has_more) break;
      page = files.list({ limit: 2, after: page.last_id! });
    }
    assert.deepEqual(seen, newestFirst, 'every file once, in order');
    assert.deepEqual(
      files.list({ order: 'asc', limit: 3, after: ids[0]! }).data.map((file) => file.id),
      ids.slice(1, 4),
    );
    assert.deepEqual(files.list({ purpose: 'batch_output' }).data, []);
    for (const [params, param] of [
      [{ limit: 0 }, 'limit'],
      [{ limit: 10_001 }, 'limit'],
      [{ limit: 1.5 }, 'limit'],
      [{ order: 'sideways' as 'asc' }, 'order'],
      [{ after: 'file-000000000000000000000000' }, 'after'],
    ] as const)
      assert.throws(
        () => files.list(params),
        (error: unknown) => error instanceof ServiceError && error.param === param,
      );
  });

  it('accepts only OpenAI expiration policies, naming the field that is wrong', () => {
    assert.equal(expirySeconds({ anchor: 'created_at', seconds: 3600 }, 'expires_after'), 3600);
    assert.equal(expirySeconds({ anchor: 'created_at', seconds: 2_592_000 }, 'expires_after'), 2_592_000);
    for (const [policy, param] of [
      [null, 'expires_after'],
      ['3600', 'expires_after'],
      [{ seconds: 3600 }, 'expires_after.anchor'],
      [{ anchor: 'last_active_at', seconds: 3600 }, 'expires_after.anchor'],
      [{ anchor: 'created_at' }, 'expires_after.seconds'],
      [{ anchor: 'created_at', seconds: 3599 }, 'expires_after.seconds'],
      [{ anchor: 'created_at', seconds: 2_592_001 }, 'expires_after.seconds'],
      [{ anchor: 'created_at', seconds: 3600.5 }, 'expires_after.seconds'],
      [{ anchor: 'created_at', seconds: '3600' }, 'expires_after.seconds'],
    ] as const)
      assert.throws(
        () => expirySeconds(policy, 'expires_after'),
        (error: unknown) => error instanceof ServiceError && error.param === param,
        JSON.stringify(policy),
      );
  });

  it('deletes a file when it expires, not before, and not while a batch that has not ended uses it', async () => {
    const { store, files, clock } = await registry();
    await files.startExpiry();
    assert.equal(clock.timers.length, 0, 'no timer while no file expires');
    const kept = await addFile(files);
    const expiring = await addFile(files, 'x\n', 3600);
    assert.equal(expiring.expires_at, expiring.created_at + 3600);
    const used = await addFile(files, 'x\n', 3600);
    const user = batchUsing(store, used.id, 'in_progress');

    clock.seconds += 3599;
    await clock.fire();
    assert.ok(existsSync(expiring.path) && store.file(expiring.id), 'kept until its time');

    clock.seconds += 1;
    await clock.fire();
    await gone(store.filesDir, expiring.path);
    assert.equal(store.file(expiring.id), undefined, 'its record goes with it');
    assert.ok(existsSync(used.path) && store.file(used.id), 'the running batch keeps its input');
    assert.ok(existsSync(kept.path) && store.file(kept.id), 'a file without expiry stays');

    user.batch.status = 'completed';
    clock.seconds += 60;
    await clock.fire(); // looked at again while it was in use
    await gone(store.filesDir, used.path);
    assert.equal(store.file(used.id), undefined);
    files.stopExpiry();
    assert.ok(clock.timers.every((timer) => timer.cancelled));
  });

  it('deletes at its next start a file that expired while the daemon was down', async () => {
    const dataDir = tempDir();
    const before = await registry(dataDir);
    const expiring = await addFile(before.files, 'x\n', 3600);
    const kept = await addFile(before.files);
    const after = await registry(dataDir);
    after.clock.seconds = before.clock.seconds + 7200;
    await after.files.startExpiry();
    assert.equal(existsSync(expiring.path), false);
    assert.deepEqual(
      after.files.list().data.map((file) => file.id),
      [kept.id],
    );
    after.files.stopExpiry();
  });

  it("settles an ended batch's files: none where no line went, the others dated by output_expires_after", async () => {
    const { store, files, clock } = await registry();
    await files.startExpiry();
    const input = await addFile(files);
    const entry = batchUsing(store, input.id, 'completed');
    entry.outputExpiresAfter = 7200;
    const output = await addFile(files, '{"custom_id":"a"}\n');
    const error = await addFile(files, '');
    Object.assign(entry.batch, { output_file_id: output.id, error_file_id: error.id });
    clock.seconds += 100;
    await files.finishOutputs(entry);
    assert.equal(entry.batch.error_file_id, null, 'no error file when no line failed');
    assert.equal(store.file(error.id), undefined);
    assert.equal(existsSync(error.path), false);
    assert.equal(entry.batch.output_file_id, output.id);
    assert.equal(store.file(output.id)!.expires_at, clock.seconds + 7200, 'counted from when it is complete');
    assert.equal(store.file(output.id)!.bytes, '{"custom_id":"a"}\n'.length);
    files.stopExpiry();
  });
});
