// Results while a batch runs: the daemon's results/analyze and `ollama-batch analyze BATCH_ID`
// on a batch still in progress report what is done so far, marked partial. The emulator answers
// one line at a time with some latency, so the batch is caught in progress by waiting for its
// progress notifications (no sleep); it is cancelled afterwards, keeping its finished lines.
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { analyze } from '../../server/cli/analyze-command.js';
import * as protocol from '../../server/protocol/methods.js';
import { requestLines } from '../analysis/result-lines.js';
import { tempDir } from '../support/batch-files.js';
import { isFinished, startDaemonProcess, submit, waitForBatch, type DaemonProcess } from '../support/daemon-process.js';
import { startOllamaEmulator, type RunningEmulator } from '../support/ollama-emulator/server.js';

const LINES = 200;
const SCHEMA = {
  type: 'object',
  properties: { score: { type: 'integer', minimum: 0, maximum: 100 } },
  required: ['score'],
};

describe('analysis of a batch while it runs', function () {
  this.timeout(120_000);
  let emulator: RunningEmulator;
  let daemon: DaemonProcess;
  const dataDir = tempDir();
  before(async () => {
    // 200 lines at 100 ms each, one at a time: some 20 s, long enough to be caught running.
    emulator = await startOllamaEmulator({ instant: true, parallel: 1, latencyMs: 100, models: ['tiny'] });
    daemon = await startDaemonProcess(dataDir, ['--ollama-url', emulator.url, '--concurrency', '1']);
  });
  after(async () => {
    await daemon.stop();
    await emulator.close();
  });

  it('reports the lines done so far as partial, by RPC and by the CLI with the batch id', async () => {
    const dir = tempDir();
    const ids = Array.from({ length: LINES }, (_, index) => `p${index + 1}`);
    const input = join(dir, 'people.jsonl');
    writeFileSync(input, requestLines(ids, SCHEMA));
    writeFileSync(join(dir, 'people.csv'), `id\n${ids.join('\n')}\n`);
    const created = await submit(daemon.connection, input);
    await waitForBatch(daemon.connection, created.id, (batch) => batch.request_counts.completed >= 2);

    const report = await daemon.connection.sendRequest(protocol.ResultsAnalyzeRequest.type, {
      batch_id: created.id,
      source: join(dir, 'people.csv'),
      csv: join(dir, 'scored.csv'),
    });
    assert.equal(report.partial?.status, 'in_progress');
    assert.equal(report.partial?.total, LINES);
    const done = report.partial.done;
    assert.ok(done >= 2 && done < LINES, `done ${done}`);
    assert.deepEqual([report.succeeded, report.answers.valid, report.malformed.count], [done, done, 0]);
    const statuses = readFileSync(join(dir, 'scored.csv'), 'utf8')
      .trim()
      .split('\r\n')
      .slice(1)
      .map((row) => row.split(',').at(-2));
    assert.equal(statuses.filter((status) => status === 'ok').length, done);
    assert.equal(statuses.filter((status) => status === 'missing').length, LINES - done);

    const lines: string[] = [];
    const log = console.log;
    console.log = (...args: unknown[]) => lines.push(args.join(' '));
    try {
      assert.equal(await analyze(created.id, { dataDir, top: 1 }), 0);
    } finally {
      console.log = log;
    }
    assert.match(lines.join('\n'), /\n {2}partial: [\d,]+ of 200 lines done, batch in_progress\n {2}schema-valid/);

    await daemon.connection.sendRequest(protocol.BatchCancelRequest.type, { id: created.id });
    const ended = await waitForBatch(daemon.connection, created.id, isFinished);
    const final = await daemon.connection.sendRequest(protocol.ResultsAnalyzeRequest.type, { batch_id: ended.id });
    assert.equal(final.partial, null, `the batch has ended (${ended.status})`);
    assert.ok(final.succeeded >= done);
  });
});
