// The cascade end to end on the real daemon (a child process, engine ollama against the emulator):
// pass 1 scores every row, the daemon makes pass 2 from the shortlist, and the daemon is killed
// with kill -9 during pass 1, right as pass 1 completes (before or after pass 2 is made) and
// during pass 2. In the end there is exactly one pass 2, each pass wrote every custom_id once,
// and the joined CSV has every row exactly once, explanations on the shortlisted ones.
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'csv-parse/sync';
import { analyze } from '../../server/cli/analyze-command.js';
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
import { assertExactlyOnce, readJsonl } from '../support/shapes.js';

const ROWS = 240;
const SHORTLIST_PERCENT = 50;

/** The sample job's candidates converted into both passes, a daemon on the emulator, and pass 1
 *  submitted as the CLI submits it. */
async function startCascade(emulatorUrl: string, rows: number, more: string[] = []) {
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
  const args = ['--engine', 'ollama', '--ollama-url', emulatorUrl, '--concurrency', '4', ...more];
  const daemon = await startDaemonProcess(dataDir, args);
  const full = await daemon.connection.sendRequest(protocol.FileRegisterRequest.type, { path: fullPath });
  const passOne = await submit(daemon.connection, scoreOutputPath(fullPath), '24h', {
    source,
    [KEYS.pass]: '1',
    [KEYS.fullInputFileId]: full.id,
    [KEYS.shortlist]: `top ${SHORTLIST_PERCENT}%`,
    [KEYS.scoreField]: 'score',
  });
  return { work, source, dataDir, args, passOne, daemon };
}

const isPassTwoOf =
  (passOne: Batch) =>
  (batch: Batch): boolean =>
    batch.metadata?.[KEYS.of] === passOne.id;

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
  // Each test starts a daemon of its own.
  afterEach(async () => {
    await daemon?.stop();
    daemon = undefined;
  });
  after(() => emulator.close());

  it('makes one pass 2 and joins every row exactly once', async () => {
    const started = await startCascade(emulator.url, ROWS);
    daemon = started.daemon;
    const { work, source, dataDir, args, passOne } = started;
    const restart = async (): Promise<void> => {
      await daemon!.kill9();
      daemon = await startDaemonProcess(dataDir, args);
    };

    const during1 = await waitForBatch(daemon.connection, passOne.id, (batch) => batch.request_counts.completed >= 60);
    assert.equal(during1.status, 'in_progress');
    await restart();
    // Killed as soon as pass 1 is seen completed: pass 2 may be made or not; the next start finishes the link.
    await waitForBatch(daemon.connection, passOne.id, isFinished);
    await restart();
    const isPassTwo = isPassTwoOf(passOne);
    const passTwo = await waitForAnyBatch(daemon.connection, isPassTwo);
    const during2 = await waitForBatch(daemon.connection, passTwo.id, (batch) => batch.request_counts.completed >= 20);
    assert.equal(during2.status, 'in_progress');
    await restart();
    const second = await waitForBatch(daemon.connection, passTwo.id, isFinished);
    const first = await daemon.connection.sendRequest(protocol.BatchGetRequest.type, { id: passOne.id });

    assert.equal(first.status, 'completed');
    assert.equal(second.status, 'completed');
    const shortlisted = Math.ceil((ROWS * SHORTLIST_PERCENT) / 100);
    assert.equal(second.request_counts.total, shortlisted);
    const all = await daemon.connection.sendRequest(protocol.BatchListRequest.type, { limit: 100 });
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
    assert.deepEqual([joined.csv.path, joined.csv.rows], [csv, ROWS]);
    assert.deepEqual([joined.shortlisted, joined.explained], [shortlisted, shortlisted]);
    const rows = parse<Record<string, string>>(readFileSync(csv), { columns: true, bom: true });
    assert.deepEqual(rows.map((row) => row.candidate_id).sort(), [...ids].sort(), 'every row exactly once');
    const explained = rows.filter((row) => row.full_status !== NOT_SHORTLISTED);
    assert.deepEqual(explained.map((row) => row.candidate_id).sort(), [...expected].sort());
    for (const row of rows) assert.equal(row.score, '50');
    for (const row of explained) assert.equal(row.full_score, '50');
  });

  it('makes pass 2 at the next start when the daemon died between pass 1 and pass 2', async () => {
    const started = await startCascade(emulator.url, 20);
    daemon = started.daemon;
    const { dataDir, args, passOne } = started;
    const isPassTwo = isPassTwoOf(passOne);
    await waitForAnyBatch(daemon.connection, (batch) => isPassTwo(batch) && isFinished(batch));
    await daemon.kill9();
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

// results/analyze given either pass of a cascade, as Analyze Results and Export Scored CSV ask it:
// one CSV of both passes joined, every row once, pass 2's columns on the shortlisted rows; while
// pass 2 runs, what there is, marked partial. Pass 2 is held running by the pilot check: its
// answers break the full schema until `explain` is set, so it pauses (in progress) after its
// first answers, and completes once resumed.
describe('a cascade analysed by either pass', function () {
  this.timeout(300_000);
  const ROWS = 40;
  const SHORTLISTED = Math.ceil((ROWS * SHORTLIST_PERCENT) / 100);
  let emulator: RunningEmulator;
  let daemon: DaemonProcess | undefined;
  let explain = false;
  /** Full-schema (pass 2) requests the emulator answered. */
  let passTwoChats = 0;

  before(async () => {
    emulator = await startOllamaEmulator({
      instant: true,
      models: ['tiny'],
      parallel: 4,
      instantContent: (request) => {
        const content = request.messages.at(-1)?.content;
        const user = typeof content === 'string' ? content : '';
        const id = /Candidate (\S+):/.exec(user)?.[1];
        // Scores that differ from row to row, the same in both passes.
        const score = [...user].reduce((sum, char) => sum + char.charCodeAt(0), 0) % 101;
        const properties = typeof request.format === 'object' ? request.format.properties : undefined;
        if (!(typeof properties === 'object' && properties !== null && 'reason' in properties))
          return JSON.stringify({ score });
        passTwoChats++;
        // Until explained: the score alone, which the full schema refuses (its other fields are required).
        if (!explain) return JSON.stringify({ score });
        return JSON.stringify({ score, decision: 'advance', strengths: [], concerns: [], reason: `explained ${id}` });
      },
    });
  });
  after(async () => {
    await daemon?.stop();
    await emulator.close();
  });

  const rowsOf = (path: string) => parse<Record<string, string>>(readFileSync(path), { columns: true, bom: true });

  it('joins both passes into one scored CSV from either id, partial while pass 2 runs', async () => {
    const started = await startCascade(emulator.url, ROWS, ['--pilot-answers', '4']);
    daemon = started.daemon;
    const { work, source, passOne } = started;
    const { connection } = daemon;
    const ids = rowsOf(source).map((row) => row.candidate_id!);
    const isPassTwo = isPassTwoOf(passOne);
    const isPilotPause = (batch: Batch): boolean => batch.paused_reason?.startsWith('pilot check:') ?? false;
    // Paused, and the answers in flight at the pause written: nothing changes until the resume.
    const paused = await waitForAnyBatch(
      connection,
      (batch) =>
        isPassTwo(batch) &&
        isPilotPause(batch) &&
        emulator.stats.inFlight === 0 &&
        batch.request_counts.failed + batch.request_counts.completed === passTwoChats,
    );
    const done = paused.request_counts.completed;
    assert.ok(done >= 4 && done < SHORTLISTED, `pass 2 paused with ${done} of ${SHORTLISTED} answered`);
    const passTwoInput = readJsonl<{ custom_id: string }>(await filePath(connection, paused.input_file_id));
    const shortlist = new Set(passTwoInput.map((line) => line.custom_id));
    assert.equal(shortlist.size, SHORTLISTED);

    const analyse = (batchId: string, csv: string) =>
      connection.sendRequest(protocol.ResultsAnalyzeRequest.type, { batch_id: batchId, source, csv });
    /** The joined CSV: every row once, pass 1's score on each, pass 2's columns on the shortlist's. */
    const checkJoined = (path: string) => {
      const rows = rowsOf(path);
      assert.deepEqual(rows.map((row) => row.candidate_id).sort(), [...ids].sort(), 'every row exactly once');
      const [listed, others] = [
        rows.filter((row) => shortlist.has(row.candidate_id!)),
        rows.filter((row) => !shortlist.has(row.candidate_id!)),
      ];
      assert.ok(others.every((row) => row.full_status === NOT_SHORTLISTED));
      assert.ok(listed.every((row) => row.full_status !== NOT_SHORTLISTED));
      assert.ok(rows.every((row) => row.status === 'ok' && /^\d+$/.test(row.score!)));
      // The shortlist is the top 25% by pass 1's score.
      const lowest = Math.min(...listed.map((row) => Number(row.score)));
      assert.ok(others.every((row) => Number(row.score) <= lowest));
      return listed;
    };

    // While pass 2 runs: its answers so far (each invalid, with why), the rest of the shortlist missing.
    for (const id of [passOne.id, paused.id]) {
      const csv = join(work, `running-${id}.csv`);
      const report = await analyse(id, csv);
      assert.deepEqual(report.cascade, {
        pass1: { batch_id: passOne.id, status: 'completed' },
        pass2: { batch_id: paused.id, status: 'in_progress' },
        shortlist: `top ${SHORTLIST_PERCENT}%`,
        shortlisted: SHORTLISTED,
        explained: done,
      });
      assert.deepEqual(report.partial, { done, total: SHORTLISTED, status: 'in_progress' });
      assert.equal(report.succeeded, ROWS, "the report is pass 1's, of every row");
      assert.equal(report.csv!.path, csv);
      assert.equal(report.csv!.rows, ROWS);
      const listed = checkJoined(csv);
      const statuses = listed.map((row) => row.full_status).sort();
      assert.deepEqual(statuses, [...Array(done).fill('invalid'), ...Array(SHORTLISTED - done).fill('missing')]);
      assert.ok(report.csv!.added_columns.includes('full_status'));
    }

    explain = true;
    await connection.sendRequest(protocol.BatchResumeRequest.type, { id: paused.id });
    const passTwo = await waitForBatch(connection, paused.id, isFinished);
    assert.equal(passTwo.status, 'completed');
    const joined: string[][] = [];
    for (const id of [passOne.id, passTwo.id]) {
      const csv = join(work, `ended-${id}.csv`);
      const report = await analyse(id, csv);
      assert.equal(report.partial, null);
      assert.deepEqual([report.cascade?.shortlisted, report.cascade?.explained], [SHORTLISTED, SHORTLISTED]);
      const listed = checkJoined(csv);
      const explained = listed.filter((row) => row.full_status === 'ok');
      assert.equal(explained.length, SHORTLISTED - done, 'the answers after the resume');
      for (const row of explained) assert.equal(row.reason, `explained ${row.candidate_id}`);
      joined.push(readFileSync(csv, 'utf8').split('\r\n'));
    }
    assert.deepEqual(joined[0], joined[1], 'the same CSV from either pass');

    // Without a source: the cascade's own (its metadata); the CLI's text says it is a cascade.
    const report = await connection.sendRequest(protocol.ResultsAnalyzeRequest.type, {
      batch_id: passTwo.id,
      csv: join(work, 'by-metadata.csv'),
    });
    assert.equal(report.csv?.rows, ROWS);
    await assert.rejects(
      connection.sendRequest(protocol.ResultsAnalyzeRequest.type, { batch_id: passOne.id, sortBy: 'decision' }),
      /are a cascade, analysed from their own files in pass 1's order \(by its score, best first\): sortBy cannot apply/,
    );
    const lines: string[] = [];
    const log = console.log;
    console.log = (...args: unknown[]) => lines.push(args.join(' '));
    try {
      assert.equal(await analyze(passTwo.id, { dataDir: started.dataDir, top: 1 }), 0);
    } finally {
      console.log = log;
    }
    assert.ok(
      lines
        .join('\n')
        .includes(
          `\n  cascade (top ${SHORTLIST_PERCENT}%): pass 1 ${passOne.id} scores every row, pass 2 ${passTwo.id} the shortlist: shortlisted ${SHORTLISTED}, explained ${SHORTLISTED}\n`,
        ),
    );
  });
});
