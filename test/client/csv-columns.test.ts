// Convert's custom_id step: each column's emptiness and uniqueness read from the CSV's rows, and
// the column preselected as the id.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  bestIdColumn,
  columnStats,
  describeColumn,
  readColumns,
  type ColumnStats,
} from '../../client/model/csv-columns.js';
import { candidatesCsv } from '../fixtures/recruiting/candidates.js';
import { tempDir } from '../support/batch-files.js';

const stat = (stats: ColumnStats[], name: string): ColumnStats => stats.find((column) => column.name === name)!;

describe('Convert: the columns of a CSV as custom_id candidates', () => {
  it("reads each column's empty and repeated values from the sample candidates, and preselects candidate_id", async () => {
    const path = join(tempDir(), 'candidates.csv');
    const csv = candidatesCsv({ rows: 1000 });
    writeFileSync(path, csv);
    const { columns, sampled } = await readColumns(path);
    assert.equal(sampled, false);
    assert.deepEqual(
      columns.map((column) => column.name),
      csv.slice(0, csv.indexOf('\n')).split(','),
    );
    // The figures, counted here another way: the generator's rows split by a real CSV parser.
    const { parse } = await import('csv-parse/sync');
    const rows = parse<Record<string, string>>(csv, { columns: true });
    for (const column of columns) {
      const values = rows.map((row) => row[column.name]!.trim());
      const filled = values.filter((value) => value !== '');
      assert.deepEqual(
        column,
        {
          name: column.name,
          rows: 1000,
          empty: values.length - filled.length,
          duplicates: filled.length - new Set(filled).size,
        },
        column.name,
      );
    }
    const location = stat(columns, 'location');
    assert.ok(location.empty > 0 && location.duplicates > 0, 'the sample has a sparse, repetitive column');
    assert.equal(
      describeColumn(location, false),
      `${location.empty.toLocaleString('en-US')} empty, ${location.duplicates.toLocaleString('en-US')} repeated of 1,000 rows`,
    );
    assert.equal(describeColumn(stat(columns, 'candidate_id'), false), 'unique, none empty in 1,000 rows');
    assert.equal(bestIdColumn(columns), 'candidate_id');
  });

  it('prefers a unique column named like an id, else the first unique one, else row numbers', () => {
    const header = ['name', 'email', 'customerId', 'note'];
    const rows = [
      ['Ana', 'a@x', 'c1', ''],
      ['Bo', 'b@x', 'c2', 'n'],
      ['Cy', 'c@x', 'c3', 'n'],
    ];
    assert.equal(bestIdColumn(columnStats(header, rows)), 'customerId');
    const withoutId = columnStats(
      ['paid', 'email'],
      [
        ['1', 'a@x'],
        ['2', 'b@x'],
      ],
    );
    assert.equal(bestIdColumn(withoutId), 'paid', '"paid" is not named like an id, but is the first unique column');
    const none = columnStats(
      ['id', 'email'],
      [
        ['1', 'a@x'],
        ['1', ''],
      ],
    );
    assert.equal(bestIdColumn(none), null);
    assert.equal(describeColumn(stat(none, 'id'), false), '1 repeated of 2 rows');
    assert.equal(describeColumn(stat(none, 'email'), false), '1 empty of 2 rows');
    assert.equal(bestIdColumn(columnStats(['id'], [])), null, 'no rows: nothing to judge by');
  });

  it('judges a large CSV by its first 8 MB of whole rows, and says so', async () => {
    const path = join(tempDir(), 'large.csv');
    writeFileSync(path, candidatesCsv({ rows: 30_000 }));
    const { columns, sampled } = await readColumns(path);
    assert.equal(sampled, true);
    const id = stat(columns, 'candidate_id');
    assert.ok(id.rows > 1000 && id.rows < 30_000, `${id.rows} rows read`);
    assert.match(describeColumn(id, true), /^unique, none empty in the first [\d,]+ rows$/);
  });
});
