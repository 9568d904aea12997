// The recruiter's whole job as a user runs it, with the CLI in child processes and real
// inference: a messy candidates CSV → convert (the sample job's rubric, template and answer schema) →
// run on the Ollama engine (the emulator with the tiny model) → analyze, joined back to the CSV.
// Every source row must come out once, scored, failed or missing, none dropped.
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { parse } from 'csv-parse/sync';
import { validateBatchFile } from '../../server/batches/validate.js';
import { candidatesCsv } from '../fixtures/recruiting/candidates.js';
import { SAMPLE_JOB } from '../fixtures/recruiting/sample-job.js';
import { tempDir } from '../support/batch-files.js';
import { CLI } from '../support/daemon-process.js';
import type { RunningEmulator } from '../support/ollama-emulator/server.js';
import { readJsonl } from '../support/shapes.js';
import { startTinyEmulator } from '../support/tiny-emulator.js';

const exec = promisify(execFile);
const ROWS = 40;

async function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await exec(process.execPath, [CLI, ...args], { maxBuffer: 64 * 1024 * 1024 });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string };
    return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
  }
}

describe('CSV to scored CSV, end to end', function () {
  this.timeout(600_000);
  let emulator: RunningEmulator;
  let dataDir: string;
  before(async () => {
    emulator = await startTinyEmulator();
    dataDir = join(tempDir(), 'data');
    execFileSync('mkdir', ['-p', dataDir]);
    writeFileSync(join(dataDir, 'config.json'), JSON.stringify({ port: 0 }));
  });
  after(async () => {
    await cli(['stop', '--data-dir', dataDir]);
    await emulator.close();
  });

  it('converts, runs with the schema, analyzes, and joins every source row back once', async () => {
    const dir = tempDir();
    const csv = join(dir, 'candidates.csv');
    writeFileSync(csv, candidatesCsv({ rows: ROWS, messy: true, seed: 7 }));
    const records = parse(readFileSync(csv), { bom: true, relax_column_count: true });
    const header = records[0]!;
    const rows = records.slice(1);
    const complete = rows.filter((row) => row.length === header.length);

    // convert
    const input = join(dir, 'candidates.jsonl');
    const converted = await cli([
      'convert',
      csv,
      '-o',
      input,
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
      '--max-tokens',
      '400',
      '--temperature',
      '0',
      '--json',
    ]);
    assert.equal(converted.code, 0, converted.stderr);
    const report = JSON.parse(converted.stdout);
    assert.equal(report.rows_read, rows.length);
    assert.equal(report.lines_written, complete.length);
    assert.equal(report.skipped_count, rows.length - complete.length);
    assert.equal((await validateBatchFile(input)).errorCount, 0, 'every line is valid for the batch engine');

    // run, with the schema, on real inference
    const run = await cli([
      'run',
      input,
      '--data-dir',
      dataDir,
      '--engine',
      'ollama',
      '--ollama-url',
      emulator.url,
      '--concurrency',
      '2',
      '--json',
    ]);
    assert.equal(run.code, 0, run.stderr);
    const { batch, output_path: outputPath, error_path: errorPath } = JSON.parse(run.stdout);
    assert.equal(batch.status, 'completed');
    assert.equal(batch.request_counts.completed + batch.request_counts.failed, complete.length);

    // analyze, joined to the source
    const scored = join(dir, 'scored.csv');
    const analyzed = await cli([
      'analyze',
      outputPath,
      ...(errorPath ? ['--errors', errorPath] : []), // null when no line failed
      '--source',
      csv,
      '--csv',
      scored,
      '--sort-by',
      'score',
      '--json',
    ]);
    assert.equal(analyzed.code, 0, analyzed.stderr);
    const analysis = JSON.parse(analyzed.stdout);
    assert.equal(analysis.succeeded, batch.request_counts.completed);
    assert.equal(analysis.failed, batch.request_counts.failed);
    assert.equal(
      analysis.answers.parsed + analysis.answers.unparseable.count + analysis.answers.empty,
      analysis.succeeded,
    );
    assert.equal(analysis.tokens.prompt, batch.usage.input_tokens);
    assert.ok(analysis.latency_ms && analysis.latency_ms.p50 > 0, 'latency recorded on every output line');

    const joined = parse(readFileSync(scored), { bom: true, relax_column_count: true });
    const joinedHeader = joined[0]!;
    const joinedRows = joined.slice(1);
    assert.deepEqual(joinedHeader.slice(0, header.length), header, 'the original columns first');
    for (const field of ['score', 'decision', 'status']) assert.ok(joinedHeader.includes(field), `a ${field} column`);
    const ids = joinedRows.map((row) => row[0]!);
    assert.deepEqual([...ids].sort(), rows.map((row) => row[0]!).sort(), 'every source row exactly once');
    const status = joinedHeader.indexOf('status');
    const answered = new Set(readJsonl<{ custom_id: string }>(outputPath).map((line) => line.custom_id));
    for (const row of joinedRows) {
      if (!answered.has(row[0]!)) assert.notEqual(row[status], 'ok', `${row[0]} has no answer and says so`);
    }
    assert.equal(joinedRows.filter((row) => row[status] === 'ok').length, analysis.answers.valid);
  });
});
