// `ollama-batch convert`: flags, the printed report (--json and for people), exit codes, and
// one-line failures.
import assert from 'node:assert/strict';
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Command } from 'commander';
import { addConvertCommand, convert, type ConvertFlags } from '../../server/cli/convert-command.js';
import { CliError } from '../../server/cli/daemon-connection.js';
import { tempDir, writeTempFile } from '../support/batch-files.js';
import { readJsonl } from '../support/shapes.js';
import type { BatchInputLine } from '../../server/protocol/openai.js';
import { candidatesCsv } from '../fixtures/recruiting/candidates.js';
import { SAMPLE_JOB } from '../fixtures/recruiting/sample-job.js';

/** Runs `work` with console.log captured. */
async function captured<T>(work: () => Promise<T>): Promise<{ result: T; printed: string }> {
  const lines: string[] = [];
  const log = console.log;
  console.log = (...parts: unknown[]) => void lines.push(parts.join(' '));
  try {
    return { result: await work(), printed: lines.join('\n') };
  } finally {
    console.log = log;
  }
}

const run = (file: string, flags: ConvertFlags) => captured(() => convert(file, flags));

function csvIn(dir: string, content: string, name = 'people.csv'): string {
  const path = join(dir, name);
  writeFileSync(path, content);
  return path;
}

async function failure(file: string, flags: ConvertFlags): Promise<string> {
  const { result } = await captured(async () => {
    try {
      await convert(file, flags);
    } catch (error) {
      return error;
    }
    return null;
  });
  assert.ok(result instanceof CliError, `expected a CliError, got ${String(result)}`);
  assert.ok(!result.message.includes('\n'), 'one line');
  return result.message;
}

describe('ollama-batch convert', () => {
  it('writes FILE.jsonl next to the CSV by default and prints a summary with the estimate', async () => {
    const dir = tempDir();
    const input = csvIn(dir, 'id,name\n1,Ana\n2\n3,Bo\n');
    const { result, printed } = await run(input, { idColumn: 'id', maxTokens: 50 });
    assert.equal(result, 0);
    assert.deepEqual(readdirSync(dir).sort(), ['people.csv', 'people.jsonl']);
    assert.deepEqual(
      readJsonl<BatchInputLine>(join(dir, 'people.jsonl')).map((line) => line.custom_id),
      ['1', '3'],
    );
    const lines = printed.split('\n');
    assert.equal(
      lines[0],
      `${input} → ${join(dir, 'people.jsonl')}: 2 request lines from 3 rows (utf8, delimiter ",")`,
    );
    assert.deepEqual(lines.slice(1, 3), ['1 row skipped:', '  line 3: has 1 field, the header has 2']);
    assert.match(printed, /prompt per line: min \d+, mean \d+, p95 \d+, max \d+; \d+ in all/);
    assert.match(printed, /output budget: +50 max_tokens per line, 100 in all/);
    assert.match(printed, /every line fits num_ctx 8192 with max_tokens/);
    assert.match(printed, /ETA: +unknown until the engine has run a batch with this model/);
    assert.match(printed, /logprobs: +none asked for/, 'no schema, no expected scores');
  });

  it('asks for the top_logprobs given, and none with --logprobs 0', async () => {
    const dir = tempDir();
    const input = csvIn(dir, 'id,name\n1,Ana\n');
    const schema = SAMPLE_JOB.schema;
    const three = await run(input, {
      output: join(dir, 'three.jsonl'),
      model: 'tiny',
      schema,
      logprobs: 3,
      json: true,
    });
    assert.deepEqual(pick(JSON.parse(three.printed).sample.body), [true, 3]);
    const none = await run(input, { output: join(dir, 'none.jsonl'), model: 'tiny', schema, logprobs: 0, json: true });
    assert.deepEqual(pick(JSON.parse(none.printed).sample.body), [undefined, undefined]);
  });

  it('asks a cascade for logprobs in pass 1 only, where they rank the rows, unless told otherwise', async () => {
    const dir = tempDir();
    const input = csvIn(dir, 'id,name\n1,Ana\n');
    const schema = SAMPLE_JOB.schema;
    const bodies = (output: string) => [
      readJsonl<BatchInputLine>(output.replace(/\.jsonl$/, '.score.jsonl'))[0]!.body,
      readJsonl<BatchInputLine>(output)[0]!.body,
    ];
    const byDefault = join(dir, 'default.jsonl');
    const { printed } = await run(input, { output: byDefault, model: 'tiny', schema, cascade: true });
    assert.deepEqual(bodies(byDefault).map(pick), [
      [true, 5],
      [undefined, undefined],
    ]);
    assert.match(printed, /logprobs: +top 5 per token of pass 1's scores, .*; none for the full answers of pass 2/);
    const asked = join(dir, 'asked.jsonl');
    const both = await run(input, { output: asked, model: 'tiny', schema, cascade: true, logprobs: 3, json: true });
    assert.deepEqual(bodies(asked).map(pick), [
      [true, 3],
      [true, 3],
    ]);
    const report = JSON.parse(both.printed);
    assert.deepEqual([report.cascade.score_top_logprobs, report.top_logprobs], [3, 3]);
    const off = join(dir, 'off.jsonl');
    await run(input, { output: off, model: 'tiny', schema, cascade: true, logprobs: 0 });
    assert.deepEqual(bodies(off).map(pick), [
      [undefined, undefined],
      [undefined, undefined],
    ]);
  });

  it('prints the report as one JSON object with --json', async () => {
    const dir = tempDir();
    const output = join(dir, 'out.jsonl');
    const { result, printed } = await run(writeTempFile('candidates.csv', candidatesCsv({ rows: 1000 })), {
      output,
      json: true,
      systemPrompt: SAMPLE_JOB.rubric,
      template: SAMPLE_JOB.template,
      schema: SAMPLE_JOB.schema,
      idColumn: 'candidate_id',
    });
    assert.equal(result, 0);
    const report = JSON.parse(printed);
    assert.deepEqual(Object.keys(report), [
      'input',
      'output',
      'encoding',
      'delimiter',
      'columns',
      'rows_read',
      'lines_written',
      'skipped',
      'skipped_count',
      'kept_bad_rows',
      'kept_bad_rows_count',
      'sample',
      'reasoning_effort',
      'top_logprobs',
      'cascade',
      'estimate',
    ]);
    assert.deepEqual(
      [report.output, report.rows_read, report.lines_written, report.skipped_count],
      [output, 1000, 1000, 0],
    );
    assert.deepEqual(Object.keys(report.estimate), [
      'calibration_factor',
      'calibration',
      'lines',
      'prompt_tokens',
      'shared_prefix_tokens',
      'max_tokens',
      'output_tokens_budget',
      'num_ctx',
      'num_ctx_source',
      'lines_over_context',
      'over_context_ids',
      'requests_per_second',
      'eta_seconds',
      'projection',
    ]);
    assert.equal(report.estimate.eta_seconds, null);
    // A schema shapes the answer: thinking off unless asked.
    assert.equal(report.reasoning_effort, 'none');
    assert.equal(report.sample.body.reasoning_effort, 'none');
    // and logprobs asked for, so that the analysis can rank by expected scores.
    assert.equal(report.top_logprobs, 5);
    assert.deepEqual([report.sample.body.logprobs, report.sample.body.top_logprobs], [true, 5]);
    assert.equal(report.sample.body.model, 'gemma3:12b');
    assert.equal(report.sample.body.messages[1].content.split('\n')[0], 'Candidate C000001: Chen Haddad ()');
  });

  it('takes the template as text, and lists the first 20 skipped rows and how many more', async () => {
    const dir = tempDir();
    const rows = Array.from({ length: 30 }, (_, index) => `${index + 1},x,extra`);
    const input = csvIn(dir, `id,name\n${rows.join('\n')}\n31,Ana\n`);
    const { printed } = await run(input, {
      template: 'Hello {{ name }}',
      output: join(dir, 'out.jsonl'),
      model: 'tiny',
    });
    assert.match(printed, /^30 rows skipped:$/m);
    assert.match(printed, /^ {2}line 21: has 3 fields, the header has 2$/m);
    assert.doesNotMatch(printed, /line 22:/);
    assert.match(printed, /^ {2}and 10 more \(--json lists the first 30\)$/m);
    const [line] = readJsonl<BatchInputLine>(join(dir, 'out.jsonl'));
    assert.deepEqual(
      [line!.custom_id, line!.body.model, line!.body.messages],
      ['row-31', 'tiny', [{ role: 'user', content: 'Hello Ana' }]],
    );
  });

  it('writes nothing in a dry run and shows a sample line', async () => {
    const dir = tempDir();
    const input = csvIn(dir, 'id,name\n1,Ana\n');
    const output = join(dir, 'out.jsonl');
    const { result, printed } = await run(input, { output, dryRun: true, idColumn: 'id', numCtx: 4 });
    assert.equal(result, 0);
    assert.deepEqual(readdirSync(dir), ['people.csv']);
    const lines = printed.split('\n');
    assert.equal(lines[0], `${input}, dry run, nothing written: 1 request line from 1 row (utf8, delimiter ",")`);
    assert.match(printed, /context: +1 line does not fit num_ctx 4: 1$/m);
    assert.equal(lines.at(-2), 'sample line:');
    assert.equal(JSON.parse(lines.at(-1)!).custom_id, '1');
  });

  it('fails with one line, and no output file, when nothing can be written', async () => {
    const dir = tempDir();
    const output = join(dir, 'out.jsonl');
    assert.equal(
      await failure(csvIn(dir, 'id,name\n'), { output }),
      'people.csv: nothing to convert, the file has a header but no rows',
    );
    assert.equal(await failure(csvIn(dir, ''), { output }), 'people.csv is empty');
    assert.equal(await failure(join(dir, 'missing.csv'), { output }), `no such file: ${join(dir, 'missing.csv')}`);
    assert.match(
      await failure(csvIn(dir, 'id,name\n1,Ana\n'), { output, template: 'Hi {{nme}}' }),
      /uses \{\{nme\}\}, which is not a column of the CSV; the columns are: id, name$/,
    );
    assert.match(
      await failure(csvIn(dir, 'id\nA\nA\n'), { output, idColumn: 'id' }),
      /the id "A" \(column "id"\) is on line 2 and on line 3/,
    );
    assert.ok(!existsSync(output) && !existsSync(`${output}.part`));
  });

  it('refuses unreadable flags with one line each', async () => {
    const dir = tempDir();
    const input = csvIn(dir, 'id,name\n1,Ana\n');
    const output = join(dir, 'out.jsonl');
    const notJson = csvIn(dir, '{"type": "object",', 'schema.json');
    assert.match(await failure(input, { output, schema: notJson }), /^--schema .*schema\.json: not valid JSON \(/);
    const array = csvIn(dir, '[1, 2]', 'array.json');
    assert.match(await failure(input, { output, schema: array }), /a JSON schema must be a JSON object$/);
    assert.match(
      await failure(input, { output, systemPrompt: join(dir, 'rubric.md') }),
      /^--system-prompt .*rubric\.md: no such file$/,
    );
    assert.match(
      await failure(input, { output, template: 'prompt.txt' }),
      /^--template prompt\.txt: no such file, and no \{\{column\}\} placeholder in it as a template$/,
    );
    assert.match(await failure(input, { output: input }), /would overwrite the CSV/);
    assert.deepEqual(readdirSync(dir).sort(), ['array.json', 'people.csv', 'schema.json']);
  });

  it('parses its flags with commander: numbers, tab as a delimiter, the encodings', async () => {
    const dir = tempDir();
    const input = csvIn(dir, 'id\tname\n1\tAna\n');
    const output = join(dir, 'out.jsonl');
    const program = new Command('ollama-batch').exitOverride().configureOutput({ writeErr: () => undefined });
    addConvertCommand(program);
    const argv = [
      'node',
      'ollama-batch',
      'convert',
      input,
      '-o',
      output,
      '--delimiter',
      'tab',
      '--max-tokens',
      '7',
      '--seed',
      '-3',
      '--temperature',
      '0.5',
      '--encoding',
      'utf8',
      '--id-column',
      'id',
    ];
    await captured(() => program.parseAsync(argv));
    const [line] = readJsonl<BatchInputLine>(output);
    assert.deepEqual(
      [line!.custom_id, line!.body.max_tokens, line!.body.seed, line!.body.temperature],
      ['1', 7, -3, 0.5],
    );
    await assert.rejects(
      program.parseAsync(['node', 'ollama-batch', 'convert', input, '--max-tokens', '0']),
      /expected a positive integer, got "0"/,
    );
    await assert.rejects(
      program.parseAsync(['node', 'ollama-batch', 'convert', input, '--seed', '1.5']),
      /expected an integer, got "1\.5"/,
    );
    await assert.rejects(
      program.parseAsync(['node', 'ollama-batch', 'convert', input, '--delimiter', ';;']),
      /expected one character/,
    );
    await assert.rejects(
      program.parseAsync(['node', 'ollama-batch', 'convert', input, '--encoding', 'ebcdic']),
      /Allowed choices are utf8, utf16le, utf16be, latin1/,
    );
  });
});

/** A request body's logprobs and top_logprobs. */
const pick = (body: Record<string, unknown>): unknown[] => [body.logprobs, body.top_logprobs];
