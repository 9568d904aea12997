// The results table's data side: the scored CSV read in windows by position, sorted and filtered
// by one column, the header of a CSV, and a row's request and answer found by custom_id.
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { detectDelimiter, parseHead, readHead } from '../../client/model/csv-head.js';
import { parseRecord, RecordEnds } from '../../client/model/csv-record.js';
import { readFile } from 'node:fs/promises';
import { CsvRows, cellNumber, compileFilter, sortedPositions } from '../../client/model/csv-rows.js';
import { LineIndex } from '../../server/daemon-access/line-index.js';
import { rowDetail, shownColumns } from '../../client/model/results-view.js';

describe('results table', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ollama-batch-client-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('reads a CSV header: delimiter, quotes, BOM, UTF-16', async () => {
    assert.equal(detectDelimiter('a;b;"c,d";e'), ';');
    assert.equal(detectDelimiter('a\tb\tc'), '\t');
    assert.equal(detectDelimiter('single'), ',');
    assert.deepEqual(parseHead('id,"full name","note\nmore",score\r\n1,2,3,4'), {
      columns: ['id', 'full name', 'note\nmore', 'score'],
      delimiter: ',',
    });
    const utf8 = join(dir, 'bom.csv');
    await writeFile(utf8, '\uFEFFid;name\n1;x\n');
    assert.deepEqual(await readHead(utf8), { columns: ['id', 'name'], delimiter: ';' });
    const utf16 = join(dir, 'utf16.csv');
    await writeFile(utf16, Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from('id,naïve\r\n1,x\r\n', 'utf16le')]));
    assert.deepEqual((await readHead(utf16)).columns, ['id', 'naïve']);
  });

  it('finds records and their cells in bytes, across chunks', () => {
    const text = 'a,b\r\n"x\r\ny, ""z""",2\r\n\r\nü,"",\nlast,1';
    const bytes = Buffer.from(text);
    const ends: number[] = [];
    const scanner = new RecordEnds();
    // Chunks cut anywhere, inside quotes and characters included.
    for (let offset = 0; offset < bytes.length; offset += 3)
      scanner.scan(bytes.subarray(offset, offset + 3), (end) => ends.push(end));
    ends.push(scanner.finish()!);
    const comma = ','.charCodeAt(0);
    const records = ends.map((end, index) => parseRecord(bytes, index === 0 ? 0 : ends[index - 1]!, end, comma));
    assert.deepEqual(records, [
      ['a', 'b'],
      ['x\r\ny, "z"', '2'],
      ['ü', '', ''],
      ['last', '1'],
    ]);
    assert.deepEqual(parseRecord(bytes, ends[0]!, ends[1]!, comma, 0), ['x\r\ny, "z"']);
    assert.deepEqual(parseRecord(bytes, ends[0]!, ends[1]!, comma, 5), [''], 'a cell past the end is empty');
  });

  it('compiles filters: comparisons on numbers, whole-cell and substring text', () => {
    const atLeast7 = compileFilter('>= 7');
    assert.deepEqual(['6.9', '7', '10', '', 'x'].map(atLeast7), [false, true, true, false, false]);
    assert.deepEqual(['3', '0', '-1'].map(compileFilter('<1')), [false, true, true]);
    assert.deepEqual(['yes', 'YES', 'yes!'].map(compileFilter('= yes')), [true, true, false]);
    assert.deepEqual(['yes', 'no'].map(compileFilter('!= yes')), [false, true]);
    assert.deepEqual(['Senior Engineer', 'engineering', 'sales'].map(compileFilter('engineer')), [true, true, false]);
    assert.deepEqual(['Infinity', '1e3', '-Infinity', '6.9e0'].map(atLeast7), [true, true, false, false]);
    assert.deepEqual(['1e3', '1000', '1000.5'].map(compileFilter('= 1e3')), [true, true, false]);
  });

  it('reads a cell as a number: decimals, exponents and ±Infinity; text and empty cells are none', () => {
    assert.deepEqual(['-8.92711e+281', ' 9e+65 ', '+5', '.5', 'Infinity', '-Infinity', '-17'].map(cellNumber), [
      -8.92711e281,
      9e65,
      5,
      0.5,
      Infinity,
      -Infinity,
      -17,
    ]);
    for (const text of ['', ' ', 'n/a', '0x10', 'NaN', "'-Infinity", '1e', '7 apples'])
      assert.equal(cellNumber(text), null, JSON.stringify(text));
  });

  // The case: descending, -8.92711e+281 sat between -17 and -7 and Infinity in several blocks.
  it('sorts exponents and ±Infinity as numbers, text and empty cells last in both orders', () => {
    const values = ['-17', '-8.92711e+281', '-7', '9e+65', '14', 'Infinity', 'n/a', '-Infinity', '', '1e3', 'Infinity'];
    const positions = Int32Array.from(values.keys());
    const sorted = (order: 'asc' | 'desc') => [...sortedPositions(values, positions, order)].map((at) => values[at]);
    assert.deepEqual(sorted('desc'), [
      'Infinity',
      'Infinity',
      '9e+65',
      '1e3',
      '14',
      '-7',
      '-17',
      '-8.92711e+281',
      '-Infinity',
      'n/a',
      '',
    ]);
    assert.deepEqual(sorted('asc'), [
      '-Infinity',
      '-8.92711e+281',
      '-17',
      '-7',
      '14',
      '1e3',
      '9e+65',
      'Infinity',
      'Infinity',
      'n/a',
      '',
    ]);
  });

  it('sorts the rows it is told are invalid after the valid numbers, in both orders', () => {
    const values = ['50', '9e+65', '70', '-3', 'high', '10'];
    const invalid = new Set([1, 3]);
    const positions = Int32Array.from(values.keys());
    const sorted = (order: 'asc' | 'desc') =>
      [...sortedPositions(values, positions, order, (at) => invalid.has(at))].map((at) => values[at]);
    assert.deepEqual(sorted('desc'), ['70', '50', '10', '9e+65', '-3', 'high']);
    assert.deepEqual(sorted('asc'), ['10', '50', '70', '-3', '9e+65', 'high']);
  });

  it('shows the id column first, then the answer columns, then the source columns', () => {
    const columns = ['name', 'candidate_id', 'email', 'score', 'score_expected', 'decision', 'status', 'error'];
    const added = ['score', 'score_expected', 'decision', 'status', 'error'];
    assert.deepEqual(
      shownColumns(columns, 'candidate_id', added).map((index) => columns[index]),
      ['candidate_id', 'score', 'score_expected', 'decision', 'status', 'error', 'name', 'email'],
    );
    // row-N ids: the join's leading custom_id column; no table without an id column loses a column.
    assert.deepEqual(shownColumns(['custom_id', 'a', 'score'], 'custom_id', ['score']), [0, 2, 1]);
    assert.deepEqual(shownColumns(['a', 'b'], null, []), [0, 1]);
  });

  it('sorts numbers numerically and text by the locale, empty cells last', () => {
    const positions = Int32Array.from([0, 1, 2, 3, 4]);
    assert.deepEqual([...sortedPositions(['10', '9', '', '9.5', '-1'], positions, 'desc')], [0, 3, 1, 4, 2]);
    assert.deepEqual([...sortedPositions(['10', '9', '', '9.5', '-1'], positions, 'asc')], [4, 1, 3, 0, 2]);
    assert.deepEqual([...sortedPositions(['b', 'a10', '', 'a9', 'B'], positions, 'asc')], [3, 1, 0, 4, 2]);
  });

  it('serves windows of rows by position, sorted and filtered', async () => {
    const path = join(dir, 'scored.csv');
    const rows = ['\uFEFFid,name,bio,score,decision,status,error'];
    for (let index = 0; index < 5000; index++) {
      const bio = index % 100 === 0 ? '"multi\r\nline, with ""quotes"""' : `bio ${index} ünïcödé`;
      // One name a spreadsheet would read as a formula.
      const name = index === 4907 ? '-Infinity' : `Name ${index}`;
      rows.push(`p${index},${name},${bio},${(index * 37) % 11},${index % 2 === 0 ? 'yes' : 'no'},ok,`);
    }
    await writeFile(path, `${rows.join('\r\n')}\r\n`);
    const started = performance.now();
    const table = await CsvRows.open(path);
    console.log(`      indexed 5,000 rows in ${(performance.now() - started).toFixed(1)} ms`);
    try {
      assert.deepEqual(table.columns, ['id', 'name', 'bio', 'score', 'decision', 'status', 'error']);
      assert.equal(table.totalRows, 5000);
      const first = await table.rows(0, 3);
      assert.deepEqual(first[0], ['p0', 'Name 0', 'multi\r\nline, with "quotes"', '0', 'yes', 'ok', '']);
      assert.deepEqual(first[1], ['p1', 'Name 1', 'bio 1 ünïcödé', '4', 'no', 'ok', '']);
      const end = await table.rows(4998, 10);
      assert.deepEqual(
        end.map((row) => row[0]),
        ['p4998', 'p4999'],
        'a window past the end is cut',
      );

      assert.equal(await table.setView({ column: 3, order: 'desc' }, { column: 4, text: '= yes' }), 2500);
      const top = await table.rows(0, 5);
      assert.ok(
        top.every((row) => row[3] === '10' && row[4] === 'yes'),
        JSON.stringify(top),
      );
      const last = await table.rows(2499, 1);
      assert.equal(last[0]![3], '0');

      assert.equal(await table.setView(null, { column: 0, text: 'p49' }), 111);

      // Invalid answers (status not ok) sort after the valid ones, both ways.
      assert.equal(await table.setView({ column: 3, order: 'asc' }, { column: 0, text: 'p49' }, 5), 111);
      assert.ok(
        (await table.rows(0, 111)).every(
          (row, index, all) => index === 0 || Number(all[index - 1]![3]) <= Number(row[3]),
        ),
      );

      // The shown rows, in the shown order and columns, exported neutralised for spreadsheets.
      const exported = join(dir, 'shown.csv');
      assert.equal(await table.export(exported, [0, 3, 1, 2]), 111);
      const shown = await table.rows(0, 111);
      const written = await CsvRows.open(exported);
      try {
        assert.deepEqual(written.columns, ['id', 'score', 'name', 'bio']);
        assert.deepEqual(
          await written.rows(0, 200),
          shown.map((row) => [row[0], row[3], row[1] === '-Infinity' ? "'-Infinity" : row[1], row[2]]),
        );
      } finally {
        await written.close();
      }
      assert.ok((await readFile(exported, 'utf8')).includes("\r\np4907,4,'-Infinity,"), 'neutralised for spreadsheets');
      assert.equal((await table.find(0, 'p4901'))?.[1], 'Name 4901');
      assert.equal(await table.find(0, 'p99999'), null);
      assert.equal(await table.setView(null, null), 5000);
      assert.equal((await table.rows(100, 1))[0]![0], 'p100');
    } finally {
      await table.close();
    }
  });

  it('finds a request and its answer by custom_id', async () => {
    const input = join(dir, 'input.jsonl');
    const output = join(dir, 'output.jsonl');
    const errors = join(dir, 'errors.jsonl');
    const request = (id: string) => ({
      custom_id: id,
      method: 'POST',
      url: '/v1/chat/completions',
      body: {
        model: 'm',
        messages: [
          { role: 'system', content: 'rubric' },
          { role: 'user', content: `profile ${id} says "custom_id": "p9"` },
        ],
      },
    });
    await writeFile(input, ['p1', 'p2', 'p3'].map((id) => JSON.stringify(request(id))).join('\n') + '\n');
    const answer = {
      id: 'r1',
      custom_id: 'p1',
      response: {
        status_code: 200,
        body: { choices: [{ message: { role: 'assistant', content: '{"score":8,"decision":"yes"}' } }] },
      },
      error: null,
    };
    await writeFile(output, `${JSON.stringify(answer)}\r\n`);
    await writeFile(
      errors,
      `${JSON.stringify({ id: 'r2', custom_id: 'p2', response: null, error: { code: 'timeout', message: 'took too long' } })}\n`,
    );
    const [requests, outputs, failures] = [input, output, errors].map((path) => new LineIndex(path));
    assert.deepEqual(await requests!.find('p2'), request('p2'));
    assert.equal(await requests!.find('p9'), null, 'a custom_id inside a message does not count');

    const done = rowDetail('p1', await requests!.find('p1'), await outputs!.find('p1'));
    assert.deepEqual(done.messages, [
      { role: 'system', content: 'rubric' },
      { role: 'user', content: 'profile p1 says "custom_id": "p9"' },
    ]);
    assert.equal(done.answer, '{\n  "score": 8,\n  "decision": "yes"\n}');
    assert.equal(done.error, null);

    const failed = rowDetail(
      'p2',
      await requests!.find('p2'),
      (await outputs!.find('p2')) ?? (await failures!.find('p2')),
    );
    assert.equal(failed.answer, null);
    assert.equal(failed.error, 'timeout: took too long');
    assert.deepEqual(rowDetail('p4', null, null), {
      customId: 'p4',
      messages: null,
      answer: null,
      error: null,
      row: null,
    });
  });
});
