// `ollama-batch analyze`: exit codes, one-line failures, the --json shape and the human summary.
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Command } from 'commander';
import { addAnalyzeCommand, analyze } from '../../server/cli/analyze-command.js';
import { CliError } from '../../server/cli/daemon-connection.js';
import { tempDir } from '../support/batch-files.js';
import { answer, failure, requestLines, success, tokens } from './result-lines.js';

/** What `run` printed with console.log, and what it returned. */
async function printed<T>(run: () => Promise<T>): Promise<{ result: T; stdout: string }> {
  const lines: string[] = [];
  const log = console.log;
  console.log = (...args: unknown[]) => lines.push(args.join(' '));
  try {
    return { result: await run(), stdout: lines.join('\n') };
  } finally {
    console.log = log;
  }
}

function results(): { dir: string; output: string; errors: string; source: string } {
  const dir = tempDir();
  const output = join(dir, 'out.jsonl');
  writeFileSync(
    output,
    [
      ...[10, 20, 30, 40].map((score, index) =>
        success(`c${index + 1}`, answer({ score, decision: score > 25 ? 'yes' : 'no', reason: `because ${score}` }), {
          latencyMs: score,
        }),
      ),
      'not json',
    ].join('\n'),
  );
  const errors = join(dir, 'err.jsonl');
  writeFileSync(errors, failure('c5', 'batch_cancelled'));
  const source = join(dir, 'people.csv');
  writeFileSync(source, 'id,name\nc1,a\nc2,b\nc3,c\nc4,d\nc5,e\nc6,f\n');
  return { dir, output, errors, source };
}

describe('the analyze command', () => {
  it('prints the report as one JSON object with --json, exit code 0', async () => {
    const { output, errors } = results();
    const { result, stdout } = await printed(() => analyze(output, { errors, json: true, top: 2 }));
    assert.equal(result, 0);
    const report = JSON.parse(stdout);
    assert.deepEqual(Object.keys(report), [
      'output_file',
      'error_file',
      'lines',
      'succeeded',
      'failed',
      'failures_by_code',
      'malformed',
      'duplicates',
      'tokens',
      'finish_reasons',
      'latency_ms',
      'answers',
      'expected_scores',
      'partial',
      'sort_by',
      'top',
      'bottom',
    ]);
    assert.deepEqual([report.lines, report.succeeded, report.failed, report.malformed.count], [6, 4, 1, 1]);
    assert.deepEqual(report.failures_by_code, { batch_cancelled: 1 });
    assert.deepEqual(Object.keys(report.answers), [
      'schema',
      'valid',
      'parsed',
      'repaired',
      'invalid',
      'unparseable',
      'empty',
      'fields',
    ]);
    assert.deepEqual(Object.keys(report.answers.fields.score), ['type', 'stats', 'not_number', 'range']);
    assert.deepEqual(Object.keys(report.answers.fields.score.stats), [
      'count',
      'min',
      'max',
      'mean',
      'p50',
      'p90',
      'p95',
      'p99',
      'histogram',
      'below',
      'above',
    ]);
    assert.deepEqual(report.answers.fields.decision, { type: 'enum', counts: { no: 2, yes: 2 } });
    assert.deepEqual(report.answers.fields.reason, {
      type: 'enum',
      counts: { 'because 10': 1, 'because 20': 1, 'because 30': 1, 'because 40': 1 },
    });
    assert.deepEqual(report.top, [
      { custom_id: 'c4', value: 40, expected: null, sd: null, reason: 'because 40' },
      { custom_id: 'c3', value: 30, expected: null, sd: null, reason: 'because 30' },
    ]);
    assert.deepEqual([report.expected_scores, report.partial], [null, null]);
    assert.deepEqual(Object.keys(report.latency_ms), ['count', 'p50', 'p95', 'p99']);
  });

  it('prints a readable summary with the histogram drawn and the CSV written', async () => {
    const { dir, output, errors, source } = results();
    const csv = join(dir, 'scored.csv');
    const { result, stdout } = await printed(() => analyze(output, { errors, source, csv, top: 1 }));
    assert.equal(result, 0);
    assert.match(stdout, /: 6 lines, 4 succeeded, 1 failed/);
    assert.match(stdout, /failures: +batch_cancelled 1/);
    assert.match(stdout, /malformed: +1 lines \(out\.jsonl line 5: not valid JSON\)/);
    assert.match(stdout, /score: 4 numbers; min 10, max 40, mean 25/);
    assert.match(stdout, /10 – 13 │█+ 1\n/);
    assert.match(stdout, /37 – 40 │█+ 1\n/);
    assert.match(stdout, /top 1 by score:\n {2}c4 {2}40 {2}because 40/);
    assert.match(stdout, /wrote .*scored\.csv: 6 rows sorted by score desc, joined on id; 1 without a result/);
    assert.ok(existsSync(csv));
  });

  it('writes the joined CSV beside the source without --csv, not beside the output (in the data dir for a batch the daemon ran)', async () => {
    const { dir, output, errors, source } = results();
    const elsewhere = join(tempDir(), 'candidates.csv');
    copyFileSync(source, elsewhere);
    const { result, stdout } = await printed(() => analyze(output, { errors, source: elsewhere }));
    assert.equal(result, 0);
    const scored = join(elsewhere, '..', 'candidates.scored.csv');
    assert.ok(stdout.includes(`wrote ${scored}: 6 rows`), stdout);
    assert.ok(existsSync(scored));
    assert.ok(!existsSync(join(dir, 'out.scored.csv')));
  });

  it('says schema-valid of total first, and which answers the schema in --input rules out and why', async () => {
    const dir = tempDir();
    const answers: Array<[string, unknown, string]> = [
      ['c1', 70, 'yes'],
      ['c2', 150, 'yes'],
      ['c3', 'n/a', 'no'],
      ['c4', -5, 'perhaps'],
      ['c5', 20, 'no'],
    ];
    const output = join(dir, 'out.jsonl');
    writeFileSync(output, answers.map(([id, score, decision]) => success(id, answer({ score, decision }))).join('\n'));
    const input = join(dir, 'in.jsonl');
    const properties = {
      score: { type: 'integer', minimum: 0, maximum: 100 },
      decision: { type: 'string', enum: ['yes', 'no'] },
    };
    writeFileSync(
      input,
      requestLines(
        answers.map(([id]) => id),
        { type: 'object', properties },
      ),
    );
    const { stdout } = await printed(() => analyze(output, { input }));
    assert.match(stdout, /^.*\n {2}schema-valid 2 of 5\n/, 'the first figure after the counts');
    assert.match(stdout, /answers: +5 parsed \(0 repaired\), 3 invalid \(c2, c3, c4\), 0 unparseable/);
    assert.match(stdout, /\n {4}invalid: score must be <= 100 \(1\)\n/);
    assert.match(stdout, /\n {4}invalid: score must be integer \(1\)\n/);
    assert.match(stdout, /\n {4}invalid: score must be >= 0 \(1\)\n/);
    assert.match(stdout, /score: 2 valid numbers; min 20, max 70/);
    assert.match(stdout, /decision: yes 1, no 1\n/);
    assert.match(stdout, /\nno expected scores: the answers carry no logprobs; ask for them with "logprobs": true/);
    const { stdout: unchecked } = await printed(() => analyze(output, {}));
    assert.match(unchecked, /\n {2}parsed 5 of 5 \(not checked: no schema; give the batch input\)\n/);
    assert.match(unchecked, /score: 4 numbers; min -5, max 150/);
    assert.match(unchecked, /\n {4}1 not a number\n/);
  });

  it('ranks by the expected score where the answers carry logprobs, and lists the least certain to review', async () => {
    const dir = tempDir();
    const output = join(dir, 'out.jsonl');
    const unsure = tokens(['{"score":', ['80', { '80': 0.5, '90': 0.5 }], '}']);
    writeFileSync(
      output,
      [success('c1', '{"score":80}', { logprobs: unsure }), success('c2', answer({ score: 84 }))].join('\n'),
    );
    const { stdout } = await printed(() => analyze(output, {}));
    assert.match(
      stdout,
      /\nexpected scores: ranked by score_expected: the score weighted by its logprobs, ± score_sd \(1 answer\); 1 without logprobs ranked by their score\n/,
    );
    assert.match(
      stdout,
      /\nto review, the 1 least certain scores \(value \(expected ± sd\)\):\n {2}c1 {2}80 \(85 ± 5\)\n/,
    );
    assert.match(stdout, /\ntop 2 by score \(expected where known\):\n {2}c1 {2}80 \(85 ± 5\)\n {2}c2 +84\n/);
  });

  it('fails with one line: a missing file, --csv without --source, an unknown id column', async () => {
    const { output, source } = results();
    await assert.rejects(
      analyze(join(tempDir(), 'none.jsonl'), {}),
      (error) => error instanceof CliError && /^no such file: .*none\.jsonl$/.test(error.message),
    );
    await assert.rejects(
      analyze(output, { csv: 'x.csv' }),
      (error) => error instanceof CliError && error.message === '--csv needs --source, the CSV to join the answers to',
    );
    await assert.rejects(
      analyze(output, { source, idColumn: 'nope' }),
      (error) => error instanceof CliError && /people\.csv has no column "nope"/.test(error.message),
    );
  });

  it('registers `analyze` with its options', async () => {
    const { output, source, dir } = results();
    const program = new Command('ollama-batch').exitOverride().configureOutput({ writeErr: () => undefined });
    addAnalyzeCommand(program);
    const exitCode = process.exitCode;
    const { stdout } = await printed(() =>
      program.parseAsync(
        [
          'node',
          'ollama-batch',
          'analyze',
          output,
          '--source',
          source,
          '--sort-by',
          'name',
          '--order',
          'asc',
          '--top',
          '1',
          '--json',
        ],
        { from: 'node' },
      ),
    );
    assert.equal(process.exitCode, 0);
    process.exitCode = exitCode;
    const report = JSON.parse(stdout);
    assert.deepEqual(report.csv, {
      path: join(dir, 'people.scored.csv'), // beside the source
      rows: 6,
      missing: 2,
      unmatched: 0,
      id_column: 'id',
      custom_id_column: 'id',
      added_columns: ['score', 'decision', 'reason', 'status', 'error'],
      sort_by: 'name',
      order: 'asc',
    });
    assert.equal(report.top.length, 1);
    await assert.rejects(
      program.parseAsync(['node', 'ollama-batch', 'analyze', output, '--order', 'sideways'], { from: 'node' }),
      (error: { code?: string }) => error.code === 'commander.invalidArgument',
    );
  });
});
