// The results table's windowing: only the rows in view (and the overscan) are drawn, in the right place.
import assert from 'node:assert/strict';
import { MAX_SCROLL_HEIGHT, pagesOf, visibleWindow } from '../../client/webview/virtual-window.js';

const base = { viewportHeight: 480, rowHeight: 24, overscan: 5 };

describe('virtual table window', () => {
  it('draws the rows in view and the overscan', () => {
    assert.deepEqual(visibleWindow({ ...base, scrollTop: 0, rowCount: 170_000 }), {
      first: 0,
      end: 25,
      offset: 0,
      height: 170_000 * 24,
    });
    const middle = visibleWindow({ ...base, scrollTop: 24 * 1000 + 10, rowCount: 170_000 });
    assert.equal(middle.first, 995);
    assert.equal(middle.end, 1026);
    assert.equal(middle.offset, 995 * 24);
  });

  it('stops at the last row', () => {
    const rowCount = 170_000;
    const end = visibleWindow({ ...base, scrollTop: rowCount * 24 - 480, rowCount });
    assert.equal(end.end, rowCount);
    assert.equal(end.offset + (end.end - end.first) * 24, rowCount * 24, 'the last row ends at the bottom');
  });

  it('handles fewer rows than fit, and none', () => {
    assert.deepEqual(visibleWindow({ ...base, scrollTop: 0, rowCount: 3 }), {
      first: 0,
      end: 3,
      offset: 0,
      height: 72,
    });
    assert.deepEqual(visibleWindow({ ...base, scrollTop: 100, rowCount: 0 }), {
      first: 0,
      end: 0,
      offset: 0,
      height: 0,
    });
  });

  it('scales the scroll range past the browser height limit, reaching both ends', () => {
    const rowCount = 1_000_000;
    const top = visibleWindow({ ...base, scrollTop: 0, rowCount });
    assert.equal(top.height, MAX_SCROLL_HEIGHT);
    assert.equal(top.first, 0);
    const bottom = visibleWindow({ ...base, scrollTop: MAX_SCROLL_HEIGHT - 480, rowCount });
    assert.equal(bottom.end, rowCount);
    assert.equal(
      bottom.offset + (bottom.end - bottom.first) * 24,
      MAX_SCROLL_HEIGHT,
      'the last row ends at the bottom of the scroll range',
    );
    const half = visibleWindow({ ...base, scrollTop: (MAX_SCROLL_HEIGHT - 480) / 2, rowCount });
    assert.ok(Math.abs(half.first + 5 - (rowCount - 20) / 2) <= 1, String(half.first));
    // The first row in view starts at the viewport's top edge, within a row.
    const visibleTop = half.offset + 5 * 24;
    assert.ok(Math.abs(visibleTop - (MAX_SCROLL_HEIGHT - 480) / 2) < 24);
  });

  it('lists the pages of a window', () => {
    assert.deepEqual(pagesOf(0, 25, 100), [0]);
    assert.deepEqual(pagesOf(95, 130, 100), [0, 1]);
    assert.deepEqual(pagesOf(200, 200, 100), []);
  });
});
