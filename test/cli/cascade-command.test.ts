// `ollama-batch cascade`: its help, a whole cascade with --json against a running daemon (engine
// ollama on the emulator), a threshold no row reaches (pass 1's scores only), and a refused rule.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'csv-parse/sync';
import { writeCandidatesCsv } from '../fixtures/recruiting/candidates.js';
import { SAMPLE_JOB } from '../fixtures/recruiting/sample-job.js';
import { tempDir } from '../support/batch-files.js';
import { cli } from '../support/cli-process.js';
import { startDaemonProcess, type DaemonProcess } from '../support/daemon-process.js';
import { startOllamaEmulator, type RunningEmulator } from '../support/ollama-emulator/server.js';

const ROWS = 40;

describe('ollama-batch cascade', function () {
  this.timeout(180_000);
  let emulator: RunningEmulator;
  let daemon: DaemonProcess;
  let dataDir: string;
  let work: string;
  let source: string;

  before(async () => {
    emulator = await startOllamaEmulator({
      instant: true,
      instantContent: '{"score":70}',
      models: ['tiny'],
      parallel: 4,
    });
    dataDir = tempDir();
    daemon = await startDaemonProcess(dataDir, ['--engine', 'ollama', '--ollama-url', emulator.url]);
    work = tempDir();
    source = join(work, 'candidates.csv');
    await writeCandidatesCsv(source, { rows: ROWS });
  });
  after(async () => {
    await daemon.stop();
    await emulator.close();
  });

  const job = (...more: string[]): string[] => [
    'cascade',
    source,
    '--data-dir',
    dataDir,
    '--system-prompt',
    SAMPLE_JOB.rubric,
    '--template',
    SAMPLE_JOB.template,
    '--schema',
    SAMPLE_JOB.schema,
    '--id-column',
    'candidate_id',
    '--model',
    'tiny',
    ...more,
  ];

  it('has --help', async () => {
    const { code, stdout } = await cli(['cascade', '--help']);
    assert.equal(code, 0);
    for (const option of [
      '--top <percent>',
      '--min-score <n>',
      '--thinking <effort>',
      '--score-field <name>',
      '--json',
    ])
      assert.ok(stdout.includes(option), `--help names ${option}`);
  });

  it('runs both passes and joins them (--json)', async () => {
    const csv = join(work, 'top.csv');
    const { code, stdout, stderr } = await cli(job('--top', '25', '--csv', csv, '--json', '--new'));
    assert.equal(code, 0, stderr);
    const report = JSON.parse(stdout) as {
      pass1: { status: string; request_counts: { total: number } };
      pass2: { status: string; request_counts: { total: number }; metadata: Record<string, string> };
      joined: { csv: { path: string; rows: number }; cascade: { shortlisted: number; explained: number } };
    };
    assert.equal(report.pass1.status, 'completed');
    assert.equal(report.pass1.request_counts.total, ROWS);
    assert.equal(report.pass2.status, 'completed');
    assert.equal(report.pass2.request_counts.total, ROWS / 4);
    assert.equal(report.pass2.metadata.cascade_shortlist, 'top 25%');
    assert.deepEqual([report.joined.csv.path, report.joined.csv.rows], [csv, ROWS]);
    assert.deepEqual([report.joined.cascade.shortlisted, report.joined.cascade.explained], [ROWS / 4, ROWS / 4]);
    const rows = parse<Record<string, string>>(readFileSync(csv), { columns: true, bom: true });
    assert.equal(new Set(rows.map((row) => row.candidate_id)).size, ROWS);
    assert.equal(rows.filter((row) => row.full_status === 'not shortlisted').length, ROWS - ROWS / 4);
  });

  it('keeps pass 1 scores alone when no row reaches the threshold', async () => {
    const csv = join(work, 'none.csv');
    const { code, stdout, stderr } = await cli(job('--min-score', '71', '--csv', csv, '--new'));
    assert.equal(code, 0, stderr);
    assert.match(stderr, /no row made the shortlist/);
    assert.match(stdout, /40 rows ranked by pass 1's score; 0 of 0 shortlisted explained by pass 2/);
    const rows = parse<Record<string, string>>(readFileSync(csv), { columns: true, bom: true });
    assert.equal(rows.length, ROWS);
    assert.ok(rows.every((row) => row.score === '70'));
  });

  it('refuses two shortlist rules at once', async () => {
    const { code, stderr } = await cli(job('--min-score', '50', '--top', '10'));
    assert.equal(code, 1);
    assert.match(stderr, /--top and --min-score are two shortlist rules: choose one/);
  });
});
