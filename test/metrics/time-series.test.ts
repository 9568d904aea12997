// The metrics time series: appended in order, bounded by compaction that keeps the whole span,
// and readable after a crash tore its last line.
import assert from 'node:assert/strict';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { TimeSeriesWriter, readTimeSeries } from '../../server/metrics/time-series.js';
import { tempDir } from '../support/batch-files.js';

interface Point {
  t: number;
  rps: number;
}

const point = (t: number): Point => ({ t, rps: Math.round(t * 7.3) / 10 });

describe('metrics time series', () => {
  it('reads back what was appended, in order, even when appends overlap; a missing file has no samples', async () => {
    const path = join(tempDir(), 'series.jsonl');
    assert.deepEqual(await readTimeSeries(path), []);
    const writer = new TimeSeriesWriter<Point>(path);
    await Promise.all(Array.from({ length: 20 }, (_, t) => writer.append(point(t))));
    assert.deepEqual(
      await readTimeSeries<Point>(path),
      Array.from({ length: 20 }, (_, t) => point(t)),
    );
  });

  it('stays under maxBytes by halving its lines, keeping the first and last sample and the span', async () => {
    const path = join(tempDir(), 'series.jsonl');
    const maxBytes = 2000;
    const writer = new TimeSeriesWriter<Point>(path, { maxBytes });
    const count = 2000;
    for (let t = 0; t < count; t++) {
      await writer.append(point(t));
      assert.ok(statSync(path).size <= maxBytes, `after sample ${t}: ${statSync(path).size} bytes`);
    }
    const samples = await readTimeSeries<Point>(path);
    assert.deepEqual(samples[0], point(0));
    assert.deepEqual(samples.at(-1), point(count - 1));
    assert.ok(samples.length > maxBytes / JSON.stringify(point(count)).length / 4, `${samples.length} samples left`);
    const times = samples.map((sample) => sample.t);
    const gaps = times.slice(1).map((t, index) => t - times[index]!);
    assert.ok(
      gaps.every((gap) => gap > 0),
      'in order',
    );
    assert.ok(gaps[0]! > gaps.at(-1)!, `older history is coarser: ${gaps.join(',')}`);
    samples.forEach((sample) => assert.deepEqual(sample, point(sample.t)));
    assert.equal(existsSync(`${path}.tmp`), false);
  });

  it('skips a torn last line, and a new writer cuts it before appending', async () => {
    const path = join(tempDir(), 'series.jsonl');
    const whole = `${JSON.stringify(point(0))}\n${JSON.stringify(point(1))}\n`;
    writeFileSync(path, `${whole}{"t":2,"rp`);
    assert.deepEqual(await readTimeSeries<Point>(path), [point(0), point(1)]);
    await new TimeSeriesWriter<Point>(path).append(point(3));
    assert.equal(readFileSync(path, 'utf8'), `${whole}${JSON.stringify(point(3))}\n`);
    assert.deepEqual(await readTimeSeries<Point>(path), [point(0), point(1), point(3)]);
  });
});
