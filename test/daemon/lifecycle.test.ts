// The batch lifecycle through the daemon: bad input fails before any request is sent while
// other batches go on, cancel keeps finished lines, expiry writes batch_expired lines, batches
// queue and run in order, and two clients see the same daemon.
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { CreateBatchParams } from '../../server/batches/new-batch.js';
import * as protocol from '../../server/protocol/methods.js';
import type { StoreData } from '../../server/store/store.js';
import { connectDaemon } from '../../server/rpc/client.js';
import { batchLines, requestLine, tempDir, writeTempFile } from '../support/batch-files.js';
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

const ids = (count: number): string[] => Array.from({ length: count }, (_, index) => `req-${index + 1}`);
const line = (index: number, change: (request: Record<string, any>) => void = () => undefined): string => {
  const request = requestLine(index, { model: 'tiny' }) as Record<string, any>;
  change(request);
  return JSON.stringify(request);
};

describe('batch lifecycle', function () {
  this.timeout(300_000);
  let emulator: RunningEmulator;
  let daemon: DaemonProcess | undefined;
  let dataDir: string;

  beforeEach(async () => {
    emulator = await startOllamaEmulator({ instant: true, models: ['tiny'], parallel: 2, latencyMs: 20 });
    dataDir = tempDir();
    daemon = await startDaemonProcess(dataDir, ['--ollama-url', emulator.url, '--concurrency', '2']);
  });
  afterEach(async () => {
    await daemon?.stop();
    await emulator.close();
  });

  it('fails each bad file with the line and the field, sends none of it, and keeps running the good batch', async () => {
    const good = await submit(daemon!.connection, writeTempFile('good.jsonl', batchLines(150, { model: 'tiny' })));
    await waitForBatch(daemon!.connection, good.id, (batch) => batch.request_counts.completed > 0);
    const cases: Array<[string, string | Buffer, string, number, string | null]> = [
      ['empty.jsonl', '', 'empty_file', 1, null],
      ['broken.jsonl', `${line(1)}\n{"custom_id":`, 'invalid_json_line', 2, null],
      ['duplicate.jsonl', `${line(1)}\n${line(1)}`, 'duplicate_custom_id', 2, 'custom_id'],
      ['url.jsonl', line(1, (r) => (r.url = '/v1/completions')), 'url_mismatch', 1, 'url'],
      ['method.jsonl', line(1, (r) => (r.method = 'PUT')), 'invalid_request', 1, 'method'],
      ['no-model.jsonl', `${line(1)}\n${line(2, (r) => delete r.body.model)}`, 'invalid_request', 2, 'body.model'],
      [
        'two-models.jsonl',
        `${line(1)}\n${line(2, (r) => (r.body.model = 'other'))}`,
        'model_mismatch',
        2,
        'body.model',
      ],
      [
        'utf8.jsonl',
        Buffer.concat([Buffer.from(`${line(1)}\n`), Buffer.from([0xc3, 0x28, 0x0a])]),
        'invalid_json_line',
        2,
        null,
      ],
      [
        'huge.jsonl',
        `${line(1)}\n${line(2, (r) => (r.body.messages[1].content = 'y'.repeat(10 * 1024 * 1024)))}`,
        'line_too_large',
        2,
        null,
      ],
      ['people.csv', 'name,score\nAna,3\n', 'invalid_json_line', 1, null],
    ];
    const chatsBefore = emulator.stats.chats;
    for (const [name, content, code, lineNumber, param] of cases) {
      const created = await submit(daemon!.connection, writeTempFile(name, content));
      const batch = await waitForBatch(daemon!.connection, created.id, isFinished);
      assert.equal(batch.status, 'failed', name);
      assert.ok(batch.failed_at, name);
      const error = batch.errors!.data[0]!;
      assert.deepEqual([error.code, error.line, error.param], [code, lineNumber, param], name);
      assert.ok(error.message.startsWith(`${name} line ${lineNumber}`), `${name}: ${error.message}`);
    }
    const done = await waitForBatch(daemon!.connection, good.id, isFinished);
    assert.equal(done.status, 'completed');
    assert.equal(emulator.stats.chats - chatsBefore <= 150, true, 'no request of a bad file was sent');
    assertExactlyOnce(
      ids(150),
      await filePath(daemon!.connection, done.output_file_id),
      await filePath(daemon!.connection, done.error_file_id),
      done,
    );
  });

  it('cancels mid-run: finished lines are kept, the rest get batch_cancelled', async () => {
    const created = await submit(daemon!.connection, writeTempFile('input.jsonl', batchLines(200, { model: 'tiny' })));
    await waitForBatch(daemon!.connection, created.id, (batch) => batch.request_counts.completed >= 20);
    const cancelling = await daemon!.connection.sendRequest(protocol.BatchCancelRequest.type, { id: created.id });
    assert.ok(['cancelling', 'cancelled'].includes(cancelling.status));
    const batch = await waitForBatch(daemon!.connection, created.id, isFinished);
    assert.equal(batch.status, 'cancelled');
    assert.ok(batch.cancelling_at && batch.cancelled_at);
    const { output, errors } = assertExactlyOnce(
      ids(200),
      await filePath(daemon!.connection, batch.output_file_id),
      await filePath(daemon!.connection, batch.error_file_id),
      batch,
    );
    assert.ok(output.length >= 20 && output.length < 200, `${output.length} finished lines kept`);
    assert.ok(errors.every((entry) => entry.error?.code === 'batch_cancelled'));
    await assert.rejects(
      daemon!.connection.sendRequest(protocol.BatchCancelRequest.type, { id: created.id }),
      /cancelled and cannot be cancelled/,
    );

    // Retry runs exactly the lines that did not finish; with the first batch's output, every line once.
    const retry = await daemon!.connection.sendRequest(protocol.BatchRetryRequest.type, { id: created.id });
    assert.equal(retry.metadata?.retry_of, created.id);
    const retried = await waitForBatch(daemon!.connection, retry.id, isFinished);
    assert.equal(retried.status, 'completed');
    const failedIds = errors.map((entry) => entry.custom_id);
    const again = assertExactlyOnce(
      failedIds,
      await filePath(daemon!.connection, retried.output_file_id),
      await filePath(daemon!.connection, retried.error_file_id),
      retried,
    );
    assert.equal(again.output.length, failedIds.length);
    assert.deepEqual([...output, ...again.output].map((entry) => entry.custom_id).sort(), ids(200).sort());
    await assert.rejects(
      daemon!.connection.sendRequest(protocol.BatchRetryRequest.type, { id: retry.id }),
      /no failed lines to retry/,
    );
  });

  it('expires a batch past its window after a restart: batch_expired for every unfinished line', async () => {
    const created = await submit(
      daemon!.connection,
      writeTempFile('input.jsonl', batchLines(200, { model: 'tiny' })),
      '72h',
    );
    assert.equal(created.expires_at! - created.created_at, 72 * 3600);
    await waitForBatch(daemon!.connection, created.id, (batch) => batch.request_counts.completed >= 10);
    await daemon!.stop();
    const dbPath = join(dataDir, 'db.json');
    const data = JSON.parse(readFileSync(dbPath, 'utf8')) as StoreData;
    data.batches.find((entry) => entry.batch.id === created.id)!.batch.expires_at = Math.floor(Date.now() / 1000) - 1;
    writeFileSync(dbPath, JSON.stringify(data));
    daemon = await startDaemonProcess(dataDir, ['--ollama-url', emulator.url]);
    const batch = await waitForBatch(daemon.connection, created.id, isFinished);
    assert.equal(batch.status, 'expired');
    assert.ok(batch.expired_at);
    const { output, errors } = assertExactlyOnce(
      ids(200),
      await filePath(daemon.connection, batch.output_file_id),
      await filePath(daemon.connection, batch.error_file_id),
      batch,
    );
    assert.ok(output.length >= 10);
    assert.ok(errors.length > 0 && errors.every((entry) => entry.error?.code === 'batch_expired'));
  });

  it('refuses a bad completion window, endpoint, metadata and unknown ids with clear errors', async () => {
    const file = await daemon!.connection.sendRequest(protocol.FileRegisterRequest.type, {
      path: writeTempFile('a.jsonl', line(1)),
    });
    const create = (params: Partial<CreateBatchParams>) =>
      daemon!.connection.sendRequest(protocol.BatchCreateRequest.type, { input_file_id: file.id, ...params });
    await assert.rejects(create({ completion_window: '2w' }), /completion_window must be/);
    await assert.rejects(create({ endpoint: '/v1/embeddings' }), /endpoint must be one of/);
    await assert.rejects(
      create({ metadata: Object.fromEntries(Array.from({ length: 17 }, (_, i) => [`k${i}`, 'v'])) }),
      /at most 16/,
    );
    await assert.rejects(create({ input_file_id: 'file-nope' }), /No file with id "file-nope"/);
    await assert.rejects(
      daemon!.connection.sendRequest(protocol.BatchGetRequest.type, { id: 'batch_nope' }),
      /No batch with id/,
    );
  });

  it('queues batches and runs them in order, one at a time', async () => {
    const first = await submit(
      daemon!.connection,
      writeTempFile('first.jsonl', batchLines(60, { model: 'tiny', prefix: 'a' })),
    );
    const second = await submit(
      daemon!.connection,
      writeTempFile('second.jsonl', batchLines(60, { model: 'tiny', prefix: 'b' })),
    );
    const [a, b] = await Promise.all(
      [first, second].map((batch) => waitForBatch(daemon!.connection, batch.id, isFinished)),
    );
    assert.equal(a!.status, 'completed');
    assert.equal(b!.status, 'completed');
    const firstOutput = readFileSync(await filePath(daemon!.connection, a!.output_file_id!));
    const secondOutput = readFileSync(await filePath(daemon!.connection, b!.output_file_id!));
    assert.ok(firstOutput.length > 0 && secondOutput.length > 0);
    assert.ok(a!.completed_at! <= b!.completed_at!);
    assert.ok(emulator.stats.inFlightMax <= 2, 'never more than the concurrency in flight, across batches');
    const list = await daemon!.connection.sendRequest(protocol.BatchListRequest.type, { limit: 1 });
    assert.equal(list.data[0]!.id, second.id, 'newest first');
    assert.equal(list.has_more, true);
    const next = await daemon!.connection.sendRequest(protocol.BatchListRequest.type, {
      limit: 1,
      after: list.last_id!,
    });
    assert.equal(next.data[0]!.id, first.id);
  });

  it('serves two clients at once: both see every change', async () => {
    const other = (await connectDaemon(dataDir))!;
    try {
      const created = await submit(daemon!.connection, writeTempFile('input.jsonl', batchLines(40, { model: 'tiny' })));
      const [seenByFirst, seenBySecond] = await Promise.all([
        waitForBatch(daemon!.connection, created.id, isFinished),
        waitForBatch(other, created.id, isFinished),
      ]);
      assert.deepEqual(seenBySecond, seenByFirst);
      const info = await other.sendRequest(protocol.DaemonStatusRequest.type);
      assert.equal(info.pid, daemon!.child.pid);
      assert.equal(info.engine.up, true);
    } finally {
      other.dispose();
    }
  });

  it('outlives a client that says exit while its request is still being answered', async () => {
    const client = (await connectDaemon(dataDir))!;
    await client.sendRequest('initialize', { processId: process.pid, rootUri: null, capabilities: {} });
    const closed = new Promise<void>((resolve) => client.onClose(() => resolve()));
    void client.sendRequest(protocol.DaemonStatusRequest.type).catch(() => undefined);
    void client.sendRequest('shutdown').catch(() => undefined);
    await client.sendNotification('exit');
    await closed; // the daemon ends this client's connection, and only that
    client.dispose();
    const info = await daemon!.connection.sendRequest(protocol.DaemonStatusRequest.type);
    assert.equal(info.pid, daemon!.child.pid);
    assert.equal(daemon!.child.exitCode, null);
  });

  it('refuses a second daemon on the same data dir while the first runs, and takes over a stale lock', async () => {
    await assert.rejects(
      startDaemonProcess(dataDir, ['--ollama-url', emulator.url]),
      /already runs for this data dir \(pid \d+/,
    );
    await daemon!.kill9();
    daemon = await startDaemonProcess(dataDir, ['--ollama-url', emulator.url]);
    const info = await daemon.connection.sendRequest(protocol.DaemonStatusRequest.type);
    assert.equal(info.pid, daemon.child.pid);
  });
});
