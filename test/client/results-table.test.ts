// The results table's data side: the scored CSV read in windows by position, sorted and filtered
// by one column, the header of a CSV, and a row's request and answer found by custom_id.
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { detectDelimiter, parseHead, readHead } from '../../client/model/csv-head.js';
import { parseRecord, RecordEnds } from '../../client/model/csv-record.js';
import { CsvRows, compileFilter, sortedPositions } from '../../client/model/csv-rows.js';
import { LineIndex } from '../../server/daemon-access/line-index.js';
import { rowDetail } from '../../client/model/results-view.js';

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
      rows.push(`p${index},Name ${index},${bio},${(index * 37) % 11},${index % 2 === 0 ? 'yes' : 'no'},ok,`);
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
    assert.deepEqual(rowDetail('p4', null, null), { customId: 'p4', messages: null, answer: null, error: null });
  });
});
