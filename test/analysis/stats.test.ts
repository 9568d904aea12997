// Streaming statistics against values worked out independently.
import assert from 'node:assert/strict';
import { Columns, FieldStats, NumberSeries, type FieldRule, type FieldSummary } from '../../server/analysis/stats.js';
import { renderHistogram } from '../../server/display/analysis-text.js';
import { fieldRules } from '../../server/analysis/schema.js';
import { referencePercentile } from './result-lines.js';

/** The summary of values added in turn. */
function field(values: unknown[], rule?: FieldRule): FieldSummary {
  const stats = new FieldStats(rule);
  for (const value of values) stats.add(value);
  return stats.summary();
}

/** Bin counts worked out directly: `bins` equal bins from `from` to `to`, the last closed. */
function binCounts(values: number[], from: number, to: number, bins: number): number[] {
  const width = (to - from) / bins;
  return Array.from(
    { length: bins },
    (_, bin) =>
      values.filter(
        (value) => value >= from + bin * width && (bin === bins - 1 ? value <= to : value < from + (bin + 1) * width),
      ).length,
  );
}

describe('analysis statistics', () => {
  it('gives exact percentiles, the mean and a 10-bin histogram over many values', () => {
    // 3,000 values: more than the first allocation, so the series has to grow.
    const values = Array.from({ length: 3000 }, (_, index) => (index * 37) % 101);
    const series = new NumberSeries();
    for (const value of values) series.add(value);
    const summary = series.summary()!;
    assert.equal(summary.count, 3000);
    assert.equal(summary.min, 0);
    assert.equal(summary.max, 100);
    assert.equal(summary.mean, values.reduce((sum, value) => sum + value, 0) / values.length);
    for (const p of [50, 90, 95, 99] as const) assert.equal(summary[`p${p}`], referencePercentile(values, p), `p${p}`);
    assert.equal(summary.histogram.length, 10);
    summary.histogram.forEach((bin, index) => {
      assert.equal(bin.from, index * 10);
      assert.equal(bin.to, (index + 1) * 10);
      const last = index === 9;
      assert.equal(
        bin.count,
        values.filter((value) => value >= bin.from && (value < bin.to || (last && value === bin.to))).length,
        `bin ${index}`,
      );
    });
  });

  it('handles one value', () => {
    const single = new NumberSeries();
    single.add(7);
    assert.deepEqual(single.summary()!.histogram, [{ from: 7, to: 7, count: 1 }]);
    assert.equal(single.summary()!.below + single.summary()!.above, 0);
    assert.equal(new NumberSeries().summary(), null);
  });

  it('types fields: numbers, enums of short strings, and the rest as presence', () => {
    assert.equal(field([1, 2, null, 3]).type, 'number');
    assert.deepEqual(field(['maybe', 'advance', 'maybe', null, undefined]), {
      type: 'enum',
      counts: { maybe: 2, advance: 1 },
    });
    assert.deepEqual(field([true, false, true]), { type: 'enum', counts: { true: 2, false: 1 } });
    assert.deepEqual(field([['a'], ['b', 'c']]), { type: 'other', present: 2 });
    assert.deepEqual(field(['x'.repeat(41), 'short']), { type: 'other', present: 2 });
    assert.deepEqual(field(Array.from({ length: 21 }, (_, index) => `value ${index}`)), { type: 'other', present: 21 });
    assert.deepEqual(field(Array.from({ length: 20 }, (_, index) => `value ${index}`)).type, 'enum');
    assert.deepEqual(field([1, 'one']), { type: 'enum', counts: { 1: 1, one: 1 } }, 'half numbers is not most');
    assert.deepEqual(field([1, ['a'], 2]).type, 'number');
    assert.deepEqual(field([1, ['a'], ['b']]), { type: 'other', present: 3 });
  });

  it('keeps a field of mostly numbers a number field and counts the values that are not numbers', () => {
    // "30" is a number written as text; Infinity is what JSON.parse makes of 1e999.
    const values = [10, 20, '30', ' 40 ', Infinity, -Infinity, NaN, 'n/a', true, { a: 1 }, 50, 60, 70, 80, 90];
    const summary = field([...values, null]);
    assert.equal(summary.type, 'number');
    if (summary.type !== 'number') return;
    const numbers = [10, 20, 30, 40, 50, 60, 70, 80, 90];
    assert.equal(summary.not_number, values.length - numbers.length);
    assert.equal(summary.range, null);
    assert.equal(summary.stats!.count, numbers.length);
    assert.equal(summary.stats!.mean, numbers.reduce((sum, value) => sum + value, 0) / numbers.length);
    assert.deepEqual(
      summary.stats!.histogram.map((bin) => bin.count),
      binCounts(numbers, 10, 90, 10),
    );
  });

  it('bins the numbers over the schema range (the answers were checked against it before)', () => {
    const values = [50, 100, 0, 73, 12.5, 99];
    const summary = field(values, { minimum: 0, maximum: 100 });
    assert.equal(summary.type, 'number');
    if (summary.type !== 'number') return;
    assert.equal(summary.not_number, 0);
    assert.deepEqual(summary.range, { minimum: 0, maximum: 100 });
    const stats = summary.stats!;
    assert.deepEqual([stats.count, stats.min, stats.max], [values.length, 0, 100]);
    assert.deepEqual([stats.histogram[0]!.from, stats.histogram.at(-1)!.to], [0, 100]);
    assert.deepEqual(
      stats.histogram.map((bin) => bin.count),
      binCounts(values, 0, 100, 10),
    );
    // With only a minimum, the top of the bins comes from the values.
    const open = field([5, 7, 2], { minimum: 0 });
    assert.ok(open.type === 'number' && open.stats!.histogram.at(-1)!.to === 7 && open.range!.maximum === null);
    // No number at all: still a number field, with what was there instead.
    assert.deepEqual(field(['x'], { numeric: true, minimum: 0, maximum: 10 }), {
      type: 'number',
      stats: null,
      not_number: 1,
      range: { minimum: 0, maximum: 10 },
    });
  });

  it('keeps a field the schema types as a number a number field, however few answers hold one', () => {
    const values = ['high', 'low', Infinity, 'n/a', 42];
    assert.notEqual(field(values, {}).type, 'number', 'without the schema, mostly text is no number field');
    const summary = field(
      values,
      fieldRules({ properties: { score: { type: ['integer', 'null'], minimum: 0, maximum: 100 } } }).get('score'),
    );
    assert.ok(summary.type === 'number');
    assert.equal(summary.not_number, 4);
    assert.deepEqual([summary.stats!.count, summary.stats!.min], [1, 42]);
    assert.deepEqual([summary.stats!.histogram[0]!.from, summary.stats!.histogram.at(-1)!.to], [0, 100]);
  });

  it('counts every value of the schema enum, listing unseen values with 0', () => {
    const summary = field(['yes', 'no', 'yes', null], { enum: ['yes', 'no', 'maybe'] });
    assert.deepEqual(summary, { type: 'enum', counts: { yes: 2, no: 1, maybe: 0 } });
  });

  it('without a schema, leaves a far outlier out of the bins instead of squeezing the rest into one', () => {
    const scores = Array.from({ length: 40 }, (_, index) => index % 11);
    const series = new NumberSeries();
    for (const value of [...scores, 8e127, -7_000_000_000]) series.add(value);
    const summary = series.summary()!;
    assert.deepEqual(
      [summary.min, summary.max, summary.below, summary.above],
      [-7_000_000_000, 8e127, 1, 1],
      'min and max still show them',
    );
    assert.deepEqual([summary.histogram[0]!.from, summary.histogram.at(-1)!.to], [0, 10]);
    assert.deepEqual(
      summary.histogram.map((bin) => bin.count),
      binCounts(scores, 0, 10, 10),
    );
    // Mostly equal values keep their neighbours in the bins.
    const sevens = new NumberSeries();
    for (const value of [...Array<number>(200).fill(7), 6, 8, 3]) sevens.add(value);
    const bins = sevens.summary()!;
    assert.deepEqual([bins.histogram[0]!.from, bins.histogram.at(-1)!.to, bins.below, bins.above], [3, 8, 0, 0]);
  });

  it('draws a histogram with the longest bar full width and every non-empty bin visible', () => {
    const lines = renderHistogram(
      [
        { from: 0, to: 5, count: 1 },
        { from: 5, to: 10, count: 0 },
        { from: 10, to: 12.5, count: 1000 },
      ],
      20,
    );
    assert.deepEqual(lines, ['    0 – 5 │█ 1', '   5 – 10 │ 0', '10 – 12.5 │████████████████████ 1,000']);
  });

  it('grows columns together and keeps what they held', () => {
    const columns = new Columns({ a: new Float64Array(2), b: new Uint8Array(2) });
    for (let index = 0; index < 5; index++) {
      const row = columns.push();
      columns.arrays.a[row] = index / 2;
      columns.arrays.b[row] = index;
    }
    assert.equal(columns.length, 5);
    assert.deepEqual([...columns.arrays.a.subarray(0, 5)], [0, 0.5, 1, 1.5, 2]);
    assert.deepEqual([...columns.arrays.b.subarray(0, 5)], [0, 1, 2, 3, 4]);
  });
});
