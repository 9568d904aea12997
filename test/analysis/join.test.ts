// The joined CSV: every source row exactly once, sorted as asked, failed and missing rows last,
// the answer, status and error columns right, and formulas neutralised for spreadsheets.
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'csv-parse/sync';
import { AnalysisError, analyzeResults, type AnalysisReport } from '../../server/analysis/analyze.js';
import { neutralise } from '../../server/common/csv-cells.js';
import { candidatesCsv } from '../fixtures/recruiting/candidates.js';
import { tempDir, writeTempFile } from '../support/batch-files.js';
import { answer, failure, httpFailure, success } from './result-lines.js';

const FORMULA = "=cmd|' /C calc'!A0";
const HEADER = ['candidate_id', 'name', 'note', 'delta'];
const SOURCE = [
  ['A1', 'Ana', 'plain', '-3'],
  ['A2', 'Bo', FORMULA, '@home'],
  ['A3', 'Chen', 'no result line', '+5'],
  ['A4', 'Dmitri', 'failed', ''],
  ['A5', 'Eva, Jr.', 'line one\nline two "quoted"', '-3 apples'],
  ['A6', 'Farah', 'unparseable', '7'],
];

function csvText(rows: string[][], delimiter = ',', lineEnd = '\n'): string {
  const cell = (value: string) => (/[",;\t\r\n]/.test(value) ? `"${value.replaceAll('"', '""')}"` : value);
  return rows.map((row) => row.map(cell).join(delimiter)).join(lineEnd) + lineEnd;
}

/** Results for A1, A2, A5 (scores), A4 (failed) and A6 (unparseable); none for A3. `id` names a row's custom_id. */
function writeCase(
  source: string,
  id = (_row: number, candidate: string) => candidate,
): { output: string; errors: string; source: string; dir: string } {
  const dir = tempDir();
  const scores: Record<string, number> = { A1: 90, A2: 40, A5: 70 };
  const output = join(dir, 'output.jsonl');
  writeFileSync(
    output,
    [
      ...Object.entries(scores).map(([candidate, score]) =>
        success(
          id(Number(candidate.slice(1)), candidate),
          answer({
            score,
            decision: score > 50 ? 'advance' : 'reject',
            strengths: ['a', 'b'],
            reason: `why ${candidate}`,
          }),
        ),
      ),
      success(id(6, 'A6'), 'no JSON here'),
    ].join('\n'),
  );
  const errors = join(dir, 'errors.jsonl');
  writeFileSync(
    errors,
    httpFailure(id(4, 'A4'), 400, {
      code: 'context_length_exceeded',
      type: 'invalid_request_error',
      message: 'too long',
    }),
  );
  const sourcePath = join(dir, 'candidates.csv');
  writeFileSync(sourcePath, source);
  return { output, errors, source: sourcePath, dir };
}

/** The written CSV as records, and the delimiter it used. */
function readCsv(path: string, delimiter = ','): string[][] {
  return parse(readFileSync(path), { delimiter, bom: true, relax_column_count: true });
}

const EXPECTED_ORDER = ['A1', 'A5', 'A2', 'A3', 'A4', 'A6'];

function assertJoined(report: AnalysisReport, records: string[][], written = neutralise): void {
  assert.deepEqual(records[0], [...HEADER, 'score', 'decision', 'strengths', 'reason', 'status', 'error']);
  const rows = records.slice(1);
  assert.deepEqual(
    rows.map((row) => row[0]),
    EXPECTED_ORDER,
    'every source row once: answered by score, then failed and missing in source order',
  );
  const byId = new Map(rows.map((row) => [row[0]!, row]));
  for (const source of SOURCE) assert.deepEqual(byId.get(source[0]!)!.slice(0, 4), source.map(written));
  assert.deepEqual(byId.get('A1')!.slice(4), ['90', 'advance', 'a; b', 'why A1', 'ok', '']);
  assert.deepEqual(byId.get('A3')!.slice(4), ['', '', '', '', 'missing', '']);
  assert.deepEqual(byId.get('A4')!.slice(4), ['', '', '', '', 'context_length_exceeded', 'too long']);
  assert.deepEqual(byId.get('A6')!.slice(4, 9), ['', '', '', '', 'unparseable']);
  assert.match(byId.get('A6')![9]!, /^not JSON: "no JSON here"/);
  const { rows: count, missing, unmatched, id_column, custom_id_column } = report.csv!;
  assert.deepEqual(
    { count, missing, unmatched, id_column, custom_id_column },
    { count: 6, missing: 1, unmatched: 0, id_column: 'candidate_id', custom_id_column: 'candidate_id' },
  );
}

describe('joining answers to the source CSV', () => {
  it('writes every row once, sorted by the first numeric answer, failed and missing rows last', async () => {
    const files = writeCase(csvText([HEADER, ...SOURCE]));
    const report = await analyzeResults({ ...files });
    assert.equal(report.csv!.path, join(files.dir, 'output.scored.csv'));
    const text = readFileSync(report.csv!.path, 'utf8');
    assertJoined(report, readCsv(report.csv!.path));
    assert.ok(!text.startsWith('\uFEFF'));
    assert.ok(text.includes(`\r\nA2,Bo,'${FORMULA},'@home,40,`), 'the formula and the @ cell get a leading quote');
    assert.ok(text.includes('\r\nA1,Ana,plain,-3,90,'), 'a negative number stays a number');
    assert.ok(text.includes('\r\nA3,Chen,no result line,+5,'), 'a signed number stays a number');
    assert.ok(
      text.includes(`,"line one\nline two ""quoted""",'-3 apples,`),
      'text starting with - is neutralised; a quoted newline stays quoted',
    );
    assert.deepEqual(
      readdirSync(files.dir).filter((name) => name.endsWith('.tmp')),
      [],
      'no temporary file is left',
    );
  });

  it('writes cells as they are for a viewer (neutralise: false): no leading quote', async () => {
    const files = writeCase(csvText([HEADER, ...SOURCE]));
    const report = await analyzeResults({ ...files, neutralise: false });
    const text = readFileSync(report.csv!.path, 'utf8');
    assert.ok(text.includes(`\r\nA2,Bo,${FORMULA},@home,40,`), text);
    assert.ok(text.includes(',-3 apples,'), text);
    assertJoined(report, readCsv(report.csv!.path), (cell) => cell);
  });

  it('reads a ; delimited file with a BOM and CRLF, and writes it back the same way', async () => {
    const files = writeCase('\uFEFF' + csvText([HEADER, ...SOURCE], ';', '\r\n'));
    const csv = join(files.dir, 'joined.csv');
    const report = await analyzeResults({ ...files, csv });
    const text = readFileSync(csv, 'utf8');
    assert.ok(text.startsWith('\uFEFFcandidate_id;name;note;delta;score;'));
    assertJoined(report, readCsv(csv, ';'));
  });

  it('marks a request that never ran with its error code and message', async () => {
    const files = writeCase(csvText([HEADER, ...SOURCE]));
    writeFileSync(files.errors, failure('A3', 'batch_cancelled', 'the batch was cancelled'));
    const report = await analyzeResults({ ...files });
    const a3 = readCsv(report.csv!.path).find((row) => row[0] === 'A3')!;
    assert.deepEqual(a3.slice(-2), ['batch_cancelled', 'the batch was cancelled']);
    assert.equal(report.csv!.missing, 1, 'A4 has no line now');
  });

  it('sorts by a source column or an answer field, ascending or descending', async () => {
    const files = writeCase(csvText([HEADER, ...SOURCE]));
    const byName = await analyzeResults({ ...files, sortBy: 'name', order: 'asc' });
    assert.deepEqual(
      readCsv(byName.csv!.path)
        .slice(1)
        .map((row) => row[1]),
      ['Ana', 'Bo', 'Eva, Jr.', 'Chen', 'Dmitri', 'Farah'],
    );
    assert.equal(byName.csv!.sort_by, 'name');
    assert.equal(byName.sort_by, 'score', 'top and bottom stay on the first numeric answer field');
    const byScore = await analyzeResults({ ...files, order: 'asc' });
    assert.deepEqual(
      readCsv(byScore.csv!.path)
        .slice(1)
        .map((row) => row[0]),
      ['A2', 'A5', 'A1', 'A3', 'A4', 'A6'],
    );
    const byDecision = await analyzeResults({ ...files, sortBy: 'decision', order: 'asc' });
    assert.deepEqual(
      readCsv(byDecision.csv!.path)
        .slice(1)
        .map((row) => row[0]),
      ['A1', 'A5', 'A2', 'A3', 'A4', 'A6'],
    );
    await assert.rejects(
      analyzeResults({ ...files, sortBy: 'salary' }),
      (error) => error instanceof AnalysisError && /--sort-by salary: no answer field or column/.test(error.message),
    );
  });

  it('maps custom_ids row-N to the N-th data row when no column holds them, and writes them in a leading custom_id column', async () => {
    const rows = SOURCE.map((row) => row.slice(1));
    const files = writeCase(csvText([HEADER.slice(1), ...rows]), (row) => `row-${row}`);
    const report = await analyzeResults({ ...files });
    assert.equal(report.csv!.id_column, null);
    assert.equal(report.csv!.custom_id_column, 'custom_id');
    const records = readCsv(report.csv!.path);
    assert.deepEqual(records[0], [
      'custom_id',
      ...HEADER.slice(1),
      'score',
      'decision',
      'strengths',
      'reason',
      'status',
      'error',
    ]);
    // Each row's custom_id is the one its request had: row-N for the N-th data row.
    const order = ['Ana', 'Eva, Jr.', 'Bo', 'Chen', 'Dmitri', 'Farah'];
    assert.deepEqual(
      records.slice(1).map((row) => row[0]),
      order.map((name) => `row-${rows.findIndex((row) => row[0] === name) + 1}`),
    );
    // A source column named custom_id that does not hold these ids keeps its name.
    const named = writeCase(csvText([['custom_id', ...HEADER.slice(2)], ...rows]), (row) => `row-${row}`);
    const renamed = await analyzeResults({ ...named });
    assert.equal(renamed.csv!.custom_id_column, 'custom_id_2');
    assert.deepEqual(readCsv(renamed.csv!.path)[0]!.slice(0, 2), ['custom_id_2', 'custom_id']);
    assert.deepEqual(
      records.slice(1).map((row) => [row[1], row[row.length - 2]]),
      [
        ['Ana', 'ok'],
        ['Eva, Jr.', 'ok'],
        ['Bo', 'ok'],
        ['Chen', 'missing'],
        ['Dmitri', 'context_length_exceeded'],
        ['Farah', 'unparseable'],
      ],
    );
  });

  it('numbers rows as convert does: blank lines count but are not written, ids are trimmed', async () => {
    const rows = SOURCE.map((row) => row.slice(1));
    const text = csvText([HEADER.slice(1), ...rows.slice(0, 2)]) + '\n' + csvText(rows.slice(2));
    // A blank line after the second row: the third row is row-4.
    const files = writeCase(text, (row) => `row-${row <= 2 ? row : row + 1}`);
    const report = await analyzeResults({ ...files });
    assert.equal(report.csv!.rows, 6);
    assert.deepEqual(
      readCsv(report.csv!.path)
        .slice(1)
        .map((row) => [row[0], row[1], row[row.length - 2]]),
      [
        ['row-1', 'Ana', 'ok'],
        ['row-6', 'Eva, Jr.', 'ok'],
        ['row-2', 'Bo', 'ok'],
        ['row-4', 'Chen', 'missing'],
        ['row-5', 'Dmitri', 'context_length_exceeded'],
        ['row-7', 'Farah', 'unparseable'],
      ],
    );
    const padded = writeCase(csvText([HEADER, ...SOURCE.map(([id, ...rest]) => [` ${id} `, ...rest])]));
    assert.equal((await analyzeResults({ ...padded })).csv!.missing, 1);
  });

  it('reads a UTF-16 file with a BOM, as convert does, and writes UTF-8 with a BOM', async () => {
    const utf16 = Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(csvText([HEADER, ...SOURCE]), 'utf16le')]);
    const files = writeCase('');
    writeFileSync(files.source, utf16);
    const report = await analyzeResults({ ...files });
    assert.ok(readFileSync(report.csv!.path, 'utf8').startsWith('\uFEFFcandidate_id,name,note,delta,score,'));
    assertJoined(report, readCsv(report.csv!.path));
  });

  it('reads a Latin-1 file when told to', async () => {
    const files = writeCase('');
    writeFileSync(files.source, Buffer.from(csvText([HEADER, ['A1', 'José', 'café', '1']]), 'latin1'));
    const report = await analyzeResults({ ...files, encoding: 'latin1' });
    assert.deepEqual(readCsv(report.csv!.path)[1]!.slice(0, 4), ['A1', 'José', 'café', '1']);
  });

  it('takes the id column named, and refuses one the file does not have', async () => {
    const files = writeCase(csvText([HEADER, ...SOURCE]));
    const report = await analyzeResults({ ...files, idColumn: 'candidate_id' });
    assert.equal(report.csv!.id_column, 'candidate_id');
    await assert.rejects(
      analyzeResults({ ...files, idColumn: 'id' }),
      (error) =>
        error instanceof AnalysisError &&
        /has no column "id"; its columns: candidate_id, name, note, delta/.test(error.message),
    );
    const strangers = writeCase(csvText([HEADER, ...SOURCE]), (row) => `other-${row}`);
    await assert.rejects(
      analyzeResults({ ...strangers }),
      (error) => error instanceof AnalysisError && /name it with --id-column/.test(error.message),
    );
  });

  it('keeps rows shorter or longer than the header, padded to the widest', async () => {
    const files = writeCase(csvText([HEADER, ['A1', 'Ana'], ['A2', 'Bo', 'x', '1', 'extra'], ['A5', 'Eva', 'y', '2']]));
    const report = await analyzeResults({ ...files });
    const records = readCsv(report.csv!.path);
    assert.deepEqual(records[0]!.slice(0, 6), [...HEADER, 'column_5', 'score']);
    assert.deepEqual(
      records.slice(1).map((row) => row.slice(0, 6)),
      [
        ['A1', 'Ana', '', '', '', '90'],
        ['A5', 'Eva', 'y', '2', '', '70'],
        ['A2', 'Bo', 'x', '1', 'extra', '40'],
      ],
    );
    assert.equal(report.csv!.unmatched, 2, 'A4 and A6 have results but no row');
    // With row-N ids, after the leading custom_id cell.
    const numbered = writeCase(csvText([HEADER.slice(1), ['Ana'], ['Bo', 'x', '1', 'extra']]), (row) => `row-${row}`);
    const withIds = readCsv((await analyzeResults({ ...numbered })).csv!.path);
    assert.deepEqual(
      withIds.map((row) => row.slice(0, 6)),
      [
        ['custom_id', 'name', 'note', 'delta', 'column_4', 'score'],
        ['row-1', 'Ana', '', '', '', '90'],
        ['row-2', 'Bo', 'x', '1', 'extra', '40'],
      ],
    );
  });

  it('refuses to overwrite an input file', async () => {
    const files = writeCase(csvText([HEADER, ...SOURCE]));
    await assert.rejects(
      analyzeResults({ ...files, csv: files.source }),
      (error) => error instanceof AnalysisError && /would overwrite an input file/.test(error.message),
    );
    assert.equal(readFileSync(files.source, 'utf8'), csvText([HEADER, ...SOURCE]));
  });

  it("joins a subset of the sample job's 1,000 candidates: all rows, answered ones first by score", async () => {
    const source = writeTempFile('candidates.csv', candidatesCsv({ rows: 1000 }));
    const original = parse(readFileSync(source));
    const ids = original.slice(1).map((row) => row[0]!);
    const answered = ids.filter((_, index) => index % 3 === 0);
    const scoreOf = (id: string) => (Number(id.slice(1)) * 53) % 101;
    const dir = tempDir();
    const output = join(dir, 'scores.jsonl');
    writeFileSync(
      output,
      answered.map((id) => success(id, answer({ score: scoreOf(id), reason: `reason for ${id}` }))).join('\n'),
    );
    const report = await analyzeResults({ output, source });
    assert.deepEqual(
      { rows: report.csv!.rows, missing: report.csv!.missing, id_column: report.csv!.id_column },
      { rows: 1000, missing: 1000 - answered.length, id_column: 'candidate_id' },
    );
    const records = readCsv(report.csv!.path);
    assert.deepEqual(records[0], [...original[0]!, 'score', 'reason', 'status', 'error']);
    const rows = records.slice(1);
    assert.deepEqual([...rows.map((row) => row[0])].sort(), [...ids].sort(), 'each candidate exactly once');
    const scores = rows.slice(0, answered.length).map((row) => Number(row[original[0]!.length]));
    assert.deepEqual(
      scores,
      answered.map(scoreOf).sort((a, b) => b - a),
    );
    assert.ok(rows.slice(answered.length).every((row) => row[row.length - 2] === 'missing'));
    assert.deepEqual(
      rows.slice(answered.length).map((row) => row[0]),
      ids.filter((_, index) => index % 3 !== 0),
      'missing rows keep the source order',
    );
    const byId = new Map(original.slice(1).map((row) => [row[0]!, row]));
    for (const row of rows) assert.deepEqual(row.slice(0, original[0]!.length), byId.get(row[0]!)!.map(neutralise));
  });
});

describe('formula neutralising', () => {
  it('prefixes cells a spreadsheet would run, and leaves numbers and text alone', () => {
    for (const cell of [FORMULA, '+cmd', '-cmd', '@SUM(A1)', '\tx', '\rx', '=1+2', '-', '+'])
      assert.equal(neutralise(cell), `'${cell}`, JSON.stringify(cell));
    for (const cell of ['-3', '+5', '-0.5', '-1e3', '12', 'plain', '', "'quoted"]) assert.equal(neutralise(cell), cell);
  });
});
