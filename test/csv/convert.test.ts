// CSV to batch JSONL: real exports (BOM, CRLF, quoted newlines, short rows, other delimiters and
// encodings) become lines the daemon accepts, and every row that does not is reported by its line.
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'csv-parse/sync';
import { validateBatchFile } from '../../server/batches/validate.js';
import { PromptCounter } from '../../server/context/budget.js';
import { calibrated } from '../../server/context/tokens.js';
import {
  convertCsv,
  ConvertError,
  MAX_LISTED_ROWS,
  type ConvertOptions,
  type ConvertReport,
} from '../../server/csv/convert.js';
import type { BatchInputLine } from '../../server/protocol/openai.js';
import { tempDir } from '../support/batch-files.js';
import { readJsonl } from '../support/shapes.js';
import { candidatesCsv } from '../fixtures/recruiting/candidates.js';
import { readSampleJob } from '../fixtures/recruiting/sample-job.js';

const { rubric, template, schema } = readSampleJob();
const HEADER = 'candidate_id,name,email,location,current_title,years_experience,skills,education,work_history,summary';

/** Converts `input` into out.jsonl in a fresh dir; returns the report, the lines and the dir. */
async function convert(input: string, options: Partial<ConvertOptions> = {}) {
  const dir = tempDir();
  const output = join(dir, 'out.jsonl');
  const report = await convertCsv({ input, output, model: 'gemma3:12b', numCtx: 8192, ...options });
  return { report, lines: readJsonl<BatchInputLine>(output), output, dir };
}

async function assertValid(output: string, requests: number): Promise<void> {
  const validation = await validateBatchFile(output);
  assert.deepEqual(validation.errors, []);
  assert.equal(validation.requests, requests);
}

function csvFile(content: string | Buffer, name = 'in.csv'): string {
  const path = join(tempDir(), name);
  writeFileSync(path, content);
  return path;
}

const userOf = (line: BatchInputLine): string => line.body.messages.at(-1)!.content as string;

async function conversionError(
  input: string,
  options: Partial<ConvertOptions> = {},
): Promise<{ message: string; files: string[] }> {
  const dir = tempDir();
  try {
    await convertCsv({ input, output: join(dir, 'out.jsonl'), model: 'm', numCtx: 8192, ...options });
  } catch (error) {
    assert.ok(error instanceof ConvertError, String(error));
    return { message: error.message, files: readdirSync(dir) };
  }
  assert.fail('the conversion should have failed');
}

describe('CSV to batch JSONL', () => {
  it('converts the candidates with a rubric, a template and a schema into lines the daemon accepts', async () => {
    const candidates = csvFile(candidatesCsv({ rows: 1000 }));
    const records = parse<Record<string, string>>(readFileSync(candidates), { columns: true });
    const { report, lines, output } = await convert(candidates, {
      systemPrompt: rubric,
      template,
      schema,
      idColumn: 'candidate_id',
      maxTokens: 256,
      temperature: 0,
      seed: 42,
    });
    assert.equal(report.rows_read, records.length);
    assert.equal(report.lines_written, records.length);
    assert.equal(report.skipped_count, 0);
    await assertValid(output, records.length);
    assert.deepEqual(
      lines.map((line) => line.custom_id),
      records.map((record) => record.candidate_id),
    );
    // Byte-identical system messages, so the engine reuses its KV cache for the rubric.
    const systemJson = JSON.stringify(lines[0]!.body.messages[0]);
    assert.equal(systemJson, JSON.stringify({ role: 'system', content: rubric }));
    for (const text of readFileSync(output, 'utf8').trimEnd().split('\n'))
      assert.ok(text.includes(`"messages":[${systemJson},`));
    const first = records[0]!;
    assert.equal(
      userOf(lines[0]!),
      `Candidate ${first.candidate_id}: ${first.name} (${first.location})\nCurrent title: ${first.current_title}\nYears of experience: ${first.years_experience}\nSkills: ${first.skills}\nEducation: ${first.education}\nWork history: ${first.work_history}\nSummary: ${first.summary}`,
    );
    assert.deepEqual(lines[0]!.body.response_format, {
      type: 'json_schema',
      json_schema: { name: 'answer', strict: true, schema },
    });
    assert.deepEqual([lines[0]!.body.max_tokens, lines[0]!.body.temperature, lines[0]!.body.seed], [256, 0, 42]);
    assert.deepEqual(report.sample, lines[0]);
  });

  it('estimates prompt tokens within a few percent of exact counts, and the shared prefix', async () => {
    const { report, lines } = await convert(csvFile(candidatesCsv({ rows: 1000 })), {
      systemPrompt: rubric,
      template,
      idColumn: 'candidate_id',
      maxTokens: 100,
    });
    const counter = new PromptCounter();
    const exact = lines.map((line) => calibrated(counter.messages(line.body.messages)));
    const total = exact.reduce((sum, count) => sum + count, 0);
    const estimate = report.estimate;
    assert.equal(estimate.lines, 1000);
    assert.ok(
      Math.abs(estimate.prompt_tokens!.total / total - 1) < 0.03,
      `${estimate.prompt_tokens!.total} against ${total}`,
    );
    assert.ok(Math.abs(estimate.prompt_tokens!.max / Math.max(...exact) - 1) < 0.05);
    assert.ok(Math.abs(estimate.prompt_tokens!.min / Math.min(...exact) - 1) < 0.05);
    assert.ok(
      estimate.prompt_tokens!.min <= estimate.prompt_tokens!.p95 &&
        estimate.prompt_tokens!.p95 <= estimate.prompt_tokens!.max,
    );
    // The rubric and "Candidate C00" (C000001 to C001000) are the same on every line.
    const prefix = calibrated(
      counter.messages([
        { role: 'system', content: rubric },
        { role: 'user', content: 'Candidate C00' },
      ]) - 3,
    );
    assert.ok(
      Math.abs(estimate.shared_prefix_tokens - prefix) <= 2,
      `${estimate.shared_prefix_tokens} against ${prefix}`,
    );
    assert.deepEqual([estimate.max_tokens, estimate.output_tokens_budget, estimate.num_ctx], [100, 100_000, 8192]);
    assert.deepEqual(
      [estimate.lines_over_context, estimate.eta_seconds, estimate.calibration],
      [0, null, 'safety_margin'],
    );
  });

  it('names the lines that do not fit the context window, and gives an ETA once the pace is known', async () => {
    const { report, lines } = await convert(csvFile(candidatesCsv({ rows: 1000 })), {
      template,
      idColumn: 'candidate_id',
      numCtx: 400,
      maxTokens: 300,
      calibrationFactor: 1,
      throughput: { requestsPerSecond: 4 },
    });
    const counter = new PromptCounter();
    const over = lines.filter((line) => counter.messages(line.body.messages) + 300 > 400).map((line) => line.custom_id);
    assert.ok(over.length > 10);
    assert.equal(report.estimate.lines_over_context, over.length);
    assert.deepEqual(report.estimate.over_context_ids, over.slice(0, 5));
    assert.deepEqual(
      [report.estimate.calibration, report.estimate.calibration_factor, report.estimate.eta_seconds],
      ['learned', 1, 250],
    );
  });

  describe('a messy export (BOM, CRLF, quoted newlines and quotes, non-ASCII, short rows)', () => {
    let input: string;
    let records: string[][];
    let raw: string;
    before(() => {
      raw = candidatesCsv({ rows: 300, messy: true });
      input = csvFile(raw);
      records = parse(readFileSync(input), { bom: true, relax_column_count: true }).slice(1);
    });
    /** Where each short row starts, found by its id at the start of a physical line. */
    const shortRows = (): { id: string; line: number }[] => {
      const physical = raw.replace(/^\uFEFF/, '').split('\n');
      return records
        .filter((record) => record.length !== 10)
        .map((record) => ({
          id: record[0]!,
          line: physical.findIndex((text) => text.startsWith(`${record[0]},`)) + 1,
        }));
    };

    it('skips the short rows, reported by line, and converts the rest exactly', async () => {
      const short = shortRows();
      assert.ok(short.length > 0 && short.every((row) => row.line > 1), 'the generator makes short rows');
      assert.ok(
        records.some((record) => record[8]!.includes('\n')),
        'and quoted newlines before them',
      );
      const { report, lines, output } = await convert(input, {
        systemPrompt: rubric,
        template,
        idColumn: 'candidate_id',
      });
      assert.equal(report.rows_read, 300);
      assert.deepEqual(
        report.skipped,
        short.map((row) => ({ line: row.line, reason: 'has 5 fields, the header has 10' })),
      );
      assert.equal(report.lines_written, 300 - short.length);
      await assertValid(output, 300 - short.length);
      const full = records.filter((record) => record.length === 10);
      assert.deepEqual(
        lines.map((line) => line.custom_id),
        full.map((record) => record[0]),
      );
      lines.forEach((line, index) => {
        const [id, name, , location, , , , , history, summary] = full[index]!;
        assert.ok(userOf(line).startsWith(`Candidate ${id}: ${name} (${location})\n`), userOf(line));
        assert.ok(userOf(line).endsWith(`\nWork history: ${history}\nSummary: ${summary}`));
        assert.equal(line.body.messages[0]!.content, rubric);
      });
      assert.equal(report.encoding, 'utf8');
    });

    it('keeps the short rows with empty fields when asked, and still reports them', async () => {
      const short = shortRows();
      const { report, lines, output } = await convert(input, { template, idColumn: 'candidate_id', keepBadRows: true });
      assert.equal(report.lines_written, 300);
      assert.equal(report.skipped_count, 0);
      assert.deepEqual(
        report.kept_bad_rows.map((row) => row.line),
        short.map((row) => row.line),
      );
      assert.equal(report.kept_bad_rows_count, short.length);
      await assertValid(output, 300);
      const kept = lines.find((line) => line.custom_id === short[0]!.id)!;
      assert.ok(userOf(kept).endsWith('\nEducation: \nWork history: \nSummary: '));
    });
  });

  it('detects semicolons and tabs from the header, and takes a given delimiter', async () => {
    const rows = ['id;name;note', '1;Ana;"a; b"', '2;Bo;c'];
    const semicolon = await convert(csvFile(rows.join('\n')), { template: '{{name}}: {{note}}', idColumn: 'id' });
    assert.equal(semicolon.report.delimiter, ';');
    assert.deepEqual(semicolon.lines.map(userOf), ['Ana: a; b', 'Bo: c']);
    const tab = await convert(csvFile('id\tfull name\tnote, short\n1\tAna, A\tok\n'), {
      template: '{{full name}} {{note, short}}',
    });
    assert.equal(tab.report.delimiter, '\t');
    assert.deepEqual(tab.lines.map(userOf), ['Ana, A ok']);
    const given = await convert(csvFile('id|name\n1|Ana\n'), { delimiter: '|', idColumn: 'id' });
    assert.deepEqual(given.lines.map(userOf), ['id: 1\nname: Ana']);
  });

  it('decodes UTF-16 with a BOM, little- and big-endian', async () => {
    const text = '\uFEFFid,name\r\n1,Zoë\r\n2,美咲\r\n';
    const little = await convert(csvFile(Buffer.from(text, 'utf16le')), { idColumn: 'id', template: '{{name}}' });
    assert.equal(little.report.encoding, 'utf16le');
    assert.deepEqual(little.lines.map(userOf), ['Zoë', '美咲']);
    const big = await convert(csvFile(Buffer.from(text, 'utf16le').swap16()), { idColumn: 'id', template: '{{name}}' });
    assert.equal(big.report.encoding, 'utf16be');
    assert.deepEqual(big.lines.map(userOf), ['Zoë', '美咲']);
  });

  it('reports Latin-1 bytes by line and column, and reads them with encoding latin1', async () => {
    const bytes = Buffer.concat([
      Buffer.from('id,name,city\n1,Ana,Lyon\n2,'),
      Buffer.from([0x52, 0x65, 0x6e, 0xe9, 0x65]),
      Buffer.from(',Paris\n3,Bo,Oslo\n'),
    ]);
    const input = csvFile(bytes);
    const { report } = await convert(input, { idColumn: 'id' });
    assert.deepEqual(report.skipped, [
      {
        line: 3,
        reason:
          'column "name" has bytes that are not valid UTF-8 (if the file is Latin-1, convert it with encoding latin1)',
      },
    ]);
    assert.equal(report.lines_written, 2);
    const latin1 = await convert(input, { idColumn: 'id', encoding: 'latin1', template: '{{name}}' });
    assert.deepEqual(latin1.lines.map(userOf), ['Ana', 'Renée', 'Bo']);
  });

  it('counts lines across quoted newlines, and reports empty rows and empty ids', async () => {
    const input = csvFile('id,text\n1,"two\nlines"\n\n,"no id"\n2,"say ""hi"""\n3\n4,"x\r\ny"\n5,a,b\n');
    const { report, lines } = await convert(input, { idColumn: 'id' });
    assert.deepEqual(report.skipped, [
      { line: 4, reason: 'empty row' },
      { line: 5, reason: 'the id column "id" is empty' },
      { line: 7, reason: 'has 1 field, the header has 2' },
      { line: 10, reason: 'has 3 fields, the header has 2' },
    ]);
    assert.deepEqual(lines.map(userOf), ['id: 1\ntext: two\nlines', 'id: 2\ntext: say "hi"', 'id: 4\ntext: x\r\ny']);
  });

  it('stops at a duplicate id, naming both lines, and leaves no output behind', async () => {
    const { message, files } = await conversionError(csvFile('id,name\nA,Ana\nB,"Bo\nB."\nA,Cy\n'), { idColumn: 'id' });
    assert.equal(message, 'in.csv: the id "A" (column "id") is on line 2 and on line 5; custom_ids must be unique');
    assert.deepEqual(files, []);
    const unsorted = await conversionError(csvFile('id,name\nB,Bo\nA,Ana\nC,Cy\nA,Al\n'), { idColumn: 'id' });
    assert.match(unsorted.message, /"A" \(column "id"\) is on line 3 and on line 5/);
  });

  it('checks the template and the id column before it writes anything', async () => {
    const unknown = await conversionError(csvFile('id,name\n1,Ana\n'), { template: 'Hi {{name}} from {{city}}' });
    assert.equal(
      unknown.message,
      'in.csv: the template uses {{city}}, which is not a column of the CSV; the columns are: id, name',
    );
    assert.deepEqual(unknown.files, []);
    const id = await conversionError(csvFile('id,name\n1,Ana\n'), { idColumn: 'ID' });
    assert.match(id.message, /no id column "ID"; the columns are: id, name/);
  });

  it('refuses an empty file, a header without rows and a file of bad rows, writing nothing', async () => {
    assert.equal((await conversionError(csvFile(''))).message, 'in.csv is empty');
    assert.equal((await conversionError(csvFile('\uFEFF'))).message, 'in.csv is empty');
    const header = await conversionError(csvFile(`${HEADER}\r\n`));
    assert.equal(header.message, 'in.csv: nothing to convert, the file has a header but no rows');
    assert.deepEqual(header.files, []);
    const bad = await conversionError(csvFile('id,name\n1\n2\n'));
    assert.equal(
      bad.message,
      'in.csv: nothing to convert, all 2 rows were skipped (line 2: has 1 field, the header has 2)',
    );
    assert.deepEqual(bad.files, []);
    assert.match(
      (await conversionError('/nonexistent/people.csv')).message,
      /^no such file: \/nonexistent\/people\.csv$/,
    );
    assert.match(
      (await conversionError(csvFile('id,name\n"1,Ana\n'))).message,
      /^in\.csv: Quote Not Closed: .* at line 2$/,
    );
  });

  it('converts a 5 MB cell, and skips a row whose request would pass the 8 MiB line limit', async () => {
    const big = 'x'.repeat(5 * 1024 * 1024);
    const huge = '\n'.repeat(4_500_000); // 4.5 MB in the CSV, 9 MB as JSON
    const input = csvFile(`id,text\n1,${big}\n2,"${huge}"\n3,small\n`);
    const { report, lines, output } = await convert(input, { idColumn: 'id', template: '{{text}}' });
    assert.deepEqual(report.skipped, [
      { line: 3, reason: 'the request would be 8.6 MiB; a batch line may be at most 8.0 MiB' },
    ]);
    assert.deepEqual(
      lines.map((line) => line.custom_id),
      ['1', '3'],
    );
    assert.equal(userOf(lines[0]!), big);
    await assertValid(output, 2);
    const after = await convert(csvFile(`id,text\n1,"${huge}"\n2\n`), { idColumn: 'id', keepBadRows: true });
    assert.equal(after.report.kept_bad_rows[0]!.line, 4_500_003, 'lines are counted through the quoted newlines');
  });

  it('lists the first bad rows and counts them all, in bounded memory', async () => {
    const rows = Array.from({ length: 2500 }, (_, index) => `${index},only-two,fields`);
    const { report } = await convert(csvFile(`id,a\n${rows.join('\n')}\n0,ok\n`), { idColumn: 'id' });
    assert.equal(report.skipped_count, 2500);
    assert.equal(report.skipped.length, MAX_LISTED_ROWS);
    assert.deepEqual(report.skipped.at(-1), { line: MAX_LISTED_ROWS + 1, reason: 'has 3 fields, the header has 2' });
    assert.equal(report.lines_written, 1);
  });

  it('writes nothing without an output (a dry run), and reports the same', async () => {
    const dir = tempDir();
    const input = join(dir, 'in.csv');
    writeFileSync(input, candidatesCsv({ rows: 1000 }));
    const report: ConvertReport = await convertCsv({
      input,
      model: 'gemma3:12b',
      numCtx: 8192,
      template,
      idColumn: 'candidate_id',
    });
    assert.deepEqual(readdirSync(dir), ['in.csv']);
    assert.equal(report.output, null);
    assert.equal(report.lines_written, 1000);
    assert.equal(report.sample!.custom_id, 'C000001');
    assert.ok(!existsSync(`${input}.part`));
  });
});
