// Streaming statistics against values worked out independently.
import assert from 'node:assert/strict';
import { Columns, FieldStats, NumberSeries, percentile, renderHistogram } from '../../server/analysis/stats.js';
import { referencePercentile } from './result-lines.js';

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
      assert.equal(bin.count, values.filter((value) => value >= bin.from && (value < bin.to || (last && value === bin.to))).length, `bin ${index}`);
    });
  });

  it('interpolates between ranks and handles one value', () => {
    assert.equal(percentile(Float64Array.from([1, 2, 3, 4]), 50), 2.5);
    const single = new NumberSeries();
    single.add(7);
    assert.deepEqual(single.summary()!.histogram, [{ from: 7, to: 7, count: 1 }]);
    assert.equal(new NumberSeries().summary(), null);
  });

  it('types fields: numbers, enums of short strings, and the rest as presence', () => {
    const field = (values: unknown[]) => {
      const stats = new FieldStats();
      for (const value of values) stats.add(value);
      return stats.summary();
    };
    assert.equal(field([1, 2, null, 3]).type, 'number');
    assert.deepEqual(field(['maybe', 'advance', 'maybe', null, undefined]), { type: 'enum', counts: { maybe: 2, advance: 1 } });
    assert.deepEqual(field([true, false, true]), { type: 'enum', counts: { true: 2, false: 1 } });
    assert.deepEqual(field([['a'], ['b', 'c']]), { type: 'other', present: 2 });
    assert.deepEqual(field(['x'.repeat(41), 'short']), { type: 'other', present: 2 });
    assert.deepEqual(field(Array.from({ length: 21 }, (_, index) => `value ${index}`)), { type: 'other', present: 21 });
    assert.deepEqual(field(Array.from({ length: 20 }, (_, index) => `value ${index}`)).type, 'enum');
    assert.deepEqual(field([1, 'one']), { type: 'other', present: 2 });
  });

  it('draws a histogram with the longest bar full width and every non-empty bin visible', () => {
    const lines = renderHistogram([
      { from: 0, to: 5, count: 1 },
      { from: 5, to: 10, count: 0 },
      { from: 10, to: 12.5, count: 1000 },
    ], 20);
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
