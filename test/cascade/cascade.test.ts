// The cascade end to end on the real daemon (a child process, engine ollama against the emulator):
// pass 1 scores every row, the daemon makes pass 2 from the shortlist, and the daemon is killed
// with kill -9 during pass 1, right as pass 1 completes (before or after pass 2 is made) and
// during pass 2. In the end there is exactly one pass 2, each pass wrote every custom_id once,
// and the joined CSV has every row exactly once, explanations on the shortlisted ones.
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'csv-parse/sync';
import { joinCascade, NOT_SHORTLISTED } from '../../server/cascade/join.js';
import { convertCsv, scoreOutputPath } from '../../server/csv/convert.js';
import { CASCADE_METADATA as KEYS } from '../../server/protocol/cascade.js';
import * as protocol from '../../server/protocol/methods.js';
import type { Batch } from '../../server/protocol/openai.js';
import type { StoreData } from '../../server/store/store.js';
import { writeCandidatesCsv } from '../fixtures/recruiting/candidates.js';
import { readSampleJob } from '../fixtures/recruiting/sample-job.js';
import { tempDir } from '../support/batch-files.js';
import {
  filePath,
  isFinished,
  startDaemonProcess,
  submit,
  waitForAnyBatch,
  waitForBatch,
  type DaemonProcess,
} from '../support/daemon-process.js';
import { startOllamaEmulator, type RunningEmulator } from '../support/ollama-emulator/server.js';
import { assertExactlyOnce } from '../support/shapes.js';

const ROWS = 240;
const SHORTLIST_PERCENT = 50;

describe('the cascade, killed in each pass', function () {
  this.timeout(300_000);
  let emulator: RunningEmulator;
  let daemon: DaemonProcess | undefined;

  before(async () => {
    // Every answer the same score: the shortlist is the first rows of pass 1's output (the tie rule).
    // Each pass gets an answer its own schema takes (the pilot check would pause a pass that breaks it).
    const full = { score: 50, decision: 'maybe', strengths: [], concerns: [], reason: 'Fits in part.' };
    emulator = await startOllamaEmulator({
      instant: true,
      instantContent: (request) =>
        JSON.stringify(
          typeof request.format === 'object' && 'decision' in (request.format.properties as object)
            ? full
            : { score: 50 },
        ),
      models: ['tiny'],
      parallel: 4,
      latencyMs: 60,
    });
  });
  after(async () => {
    await daemon?.stop();
    await emulator.close();
  });

  /** The sample job's candidates converted into both passes, a daemon, and pass 1 submitted as the CLI submits it. */
  async function startCascade(rows: number) {
    const work = tempDir();
    const source = join(work, 'candidates.csv');
    await writeCandidatesCsv(source, { rows });
    const job = readSampleJob();
    const fullPath = join(work, 'candidates.jsonl');
    await convertCsv({
      input: source,
      output: fullPath,
      template: job.template,
      systemPrompt: job.rubric,
      schema: job.schema,
      idColumn: 'candidate_id',
      model: 'tiny',
      cascade: true,
    });
    const dataDir = tempDir();
    const args = ['--engine', 'ollama', '--ollama-url', emulator.url, '--concurrency', '4'];
    daemon = await startDaemonProcess(dataDir, args);
    const full = await daemon.connection.sendRequest(protocol.FileRegisterRequest.type, { path: fullPath });
    const passOne = await submit(daemon.connection, scoreOutputPath(fullPath), '24h', {
      source,
      [KEYS.pass]: '1',
      [KEYS.fullInputFileId]: full.id,
      [KEYS.shortlist]: `top ${SHORTLIST_PERCENT}%`,
      [KEYS.scoreField]: 'score',
    });
    return { work, source, dataDir, args, passOne };
  }

  it('makes one pass 2 and joins every row exactly once', async () => {
    const { work, source, dataDir, args, passOne } = await startCascade(ROWS);
    const restart = async (): Promise<void> => {
      await daemon!.kill9();
      daemon = await startDaemonProcess(dataDir, args);
    };

    const during1 = await waitForBatch(daemon!.connection, passOne.id, (batch) => batch.request_counts.completed >= 60);
    assert.equal(during1.status, 'in_progress');
    await restart();
    // Killed as soon as pass 1 is seen completed: pass 2 may be made or not; the next start finishes the link.
    await waitForBatch(daemon!.connection, passOne.id, isFinished);
    await restart();
    const isPassTwo = (batch: Batch): boolean => batch.metadata?.[KEYS.of] === passOne.id;
    const passTwo = await waitForAnyBatch(daemon!.connection, isPassTwo);
    const during2 = await waitForBatch(daemon!.connection, passTwo.id, (batch) => batch.request_counts.completed >= 20);
    assert.equal(during2.status, 'in_progress');
    await restart();
    const second = await waitForBatch(daemon!.connection, passTwo.id, isFinished);
    const first = await daemon!.connection.sendRequest(protocol.BatchGetRequest.type, { id: passOne.id });

    assert.equal(first.status, 'completed');
    assert.equal(second.status, 'completed');
    const shortlisted = Math.ceil((ROWS * SHORTLIST_PERCENT) / 100);
    assert.equal(second.request_counts.total, shortlisted);
    const all = await daemon!.connection.sendRequest(protocol.BatchListRequest.type, { limit: 100 });
    assert.equal(all.data.filter(isPassTwo).length, 1, 'exactly one pass 2');
    assert.equal(second.metadata?.[KEYS.pass], '2');

    const ids = parse<Record<string, string>>(readFileSync(source), { columns: true, bom: true }).map(
      (row) => row.candidate_id!,
    );
    const files = async (batch: Batch) => ({
      output: await filePath(daemon!.connection, batch.output_file_id!),
      errors: await filePath(daemon!.connection, batch.error_file_id!),
      input: await filePath(daemon!.connection, batch.input_file_id),
    });
    const [one, two] = [await files(first), await files(second)];
    const passOneLines = assertExactlyOnce(ids, one.output, one.errors, first).output;
    // The tie rule: with every score equal, the first rows of pass 1's output make the cut.
    const expected = passOneLines.slice(0, shortlisted).map((line) => line.custom_id);
    assertExactlyOnce(expected, two.output, two.errors, second);

    const csv = join(work, 'candidates.scored.csv');
    const joined = await joinCascade({ pass1: one, pass2: two, source, csv });
    assert.deepEqual(joined.csv, { path: csv, rows: ROWS, shortlisted, explained: shortlisted });
    const rows = parse<Record<string, string>>(readFileSync(csv), { columns: true, bom: true });
    assert.deepEqual(rows.map((row) => row.candidate_id).sort(), [...ids].sort(), 'every row exactly once');
    const explained = rows.filter((row) => row.full_status !== NOT_SHORTLISTED);
    assert.deepEqual(explained.map((row) => row.candidate_id).sort(), [...expected].sort());
    for (const row of rows) assert.equal(row.score, '50');
    for (const row of explained) assert.equal(row.full_score, '50');
  });

  it('makes pass 2 at the next start when the daemon died between pass 1 and pass 2', async () => {
    const { dataDir, args, passOne } = await startCascade(20);
    const isPassTwo = (batch: Batch): boolean => batch.metadata?.[KEYS.of] === passOne.id;
    await waitForAnyBatch(daemon!.connection, (batch) => isPassTwo(batch) && isFinished(batch));
    await daemon!.kill9();
    // The state a kill leaves between pass 1's end and pass 2's creation: pass 1 completed, no pass 2.
    const dbPath = join(dataDir, 'db.json');
    const stored = JSON.parse(readFileSync(dbPath, 'utf8')) as StoreData;
    stored.batches = stored.batches.filter((entry) => !isPassTwo(entry.batch));
    writeFileSync(dbPath, JSON.stringify(stored));
    daemon = await startDaemonProcess(dataDir, args);
    const passTwo = await waitForAnyBatch(daemon.connection, (batch) => isPassTwo(batch) && isFinished(batch));
    assert.equal(passTwo.status, 'completed');
    assert.equal(passTwo.request_counts.total, Math.ceil((20 * SHORTLIST_PERCENT) / 100));
    // Another start finds it made: still one.
    await daemon.stop();
    daemon = await startDaemonProcess(dataDir, args);
    const all = await daemon.connection.sendRequest(protocol.BatchListRequest.type, { limit: 100 });
    assert.deepEqual(
      all.data.filter(isPassTwo).map((batch) => batch.id),
      [passTwo.id],
    );
  });
});
