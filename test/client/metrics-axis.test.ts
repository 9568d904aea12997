// The metrics charts' time axis: ticks far enough apart for their labels at any span and width,
// on whole steps of the clock, and one label format per axis chosen by the span.
import assert from 'node:assert/strict';
import { LABEL_GAP, timeFormat, timeTicks } from '../../client/webview/time-axis.js';

const T0 = Date.UTC(2026, 11, 4, 9, 12, 5) / 1000;
const MINUTE = 60;
const HOUR = 3600;
const DAY = 86_400;

describe('metrics time axis', () => {
  it('never places two labels closer than their width, whatever the span and width', () => {
    for (const span of [5, 59, 90, 10 * MINUTE, 47 * MINUTE, 3 * HOUR, 13 * HOUR, 2 * DAY, 40 * DAY])
      for (const width of [150, 360, 720, 1400])
        for (const labelWidth of [50, 80, 110]) {
          const ticks = timeTicks(T0, T0 + span, width, labelWidth);
          const pxPerSecond = width / span;
          assert.ok(ticks.length >= 1, `no tick for span ${span}, width ${width}`);
          assert.ok(ticks.length <= Math.floor(width / (labelWidth + LABEL_GAP)) + 1, `too many: ${ticks.length}`);
          for (let index = 1; index < ticks.length; index++)
            assert.ok(
              (ticks[index]! - ticks[index - 1]!) * pxPerSecond >= labelWidth + LABEL_GAP,
              `span ${span}, width ${width}, label ${labelWidth}: ticks ${ticks[index - 1]} and ${ticks[index]} overlap`,
            );
          for (const tick of ticks) assert.ok(tick >= T0 && tick <= T0 + span);
        }
  });

  it('puts ticks on whole steps of the local clock, as many as fit', () => {
    // 10 minutes over 400 px with 60 px labels: 76 px a label is 114 s, so ticks every 2 minutes.
    const at = (hours: number, minutes: number): number => Date.UTC(2026, 11, 4, hours, minutes) / 1000;
    assert.deepEqual(timeTicks(T0, T0 + 10 * MINUTE, 400, 60), [at(9, 14), at(9, 16), at(9, 18), at(9, 20), at(9, 22)]);
    // Hours on the local clock: UTC+5:30 puts the hour at :30 UTC.
    const ticks = timeTicks(T0, T0 + 6 * HOUR, 400, 60, 5.5 * HOUR);
    assert.ok(ticks.length > 1);
    for (const tick of ticks) assert.equal((tick + 5.5 * HOUR) % HOUR, 0);
  });

  it('writes every label of an axis in the one format its span calls for', () => {
    const labels = (span: number): string[] => {
      const { format } = timeFormat(span, 'en-GB', 'UTC');
      return timeTicks(T0, T0 + span, 700, 70).map(format);
    };
    for (const label of labels(5 * MINUTE)) assert.match(label, /^\d\d:\d\d:\d\d$/);
    for (const label of labels(5 * HOUR)) assert.match(label, /^\d\d:\d\d$/);
    for (const label of labels(3 * DAY)) assert.match(label, /^\d\d\/12, \d\d:\d\d$/);
    assert.equal(timeFormat(5 * MINUTE, 'en-GB', 'UTC').format(T0), '09:12:05');
    assert.equal(timeFormat(3 * DAY, 'en-US', 'UTC').format(T0), '12/4, 09:12 AM');
  });

  it('measures with a label as wide as any the format writes', () => {
    for (const span of [MINUTE, HOUR, 3 * DAY]) {
      const { widest, format } = timeFormat(span, 'en-US', 'UTC');
      for (let t = T0; t < T0 + DAY; t += 7 * MINUTE + 13) assert.ok(format(t).length <= widest.length);
    }
  });
});
