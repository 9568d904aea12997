import assert from 'node:assert/strict';
import { serveTime } from './capacity.js';

describe('serveTime: the least time a pool needs, each endpoint at its pace while up', () => {
  it('adds the paces of endpoints that stay up', () => {
    assert.equal(
      serveTime(800, [
        { perSecond: 40, down: [] },
        { perSecond: 40, down: [] },
      ]),
      10_000,
    );
    assert.equal(
      serveTime(600, [
        { perSecond: 40, down: [] },
        { perSecond: 20, down: [] },
      ]),
      10_000,
    );
  });

  it('counts a killed endpoint only while it was up, before and after its return', () => {
    const pool = [
      { perSecond: 40, down: [] },
      { perSecond: 40, down: [[5_000, 35_000]] as Array<[number, number]> },
    ];
    // 400 lines by 5 s on both, 1,200 more on one by 35 s, then the last 800 on both: 10 s.
    assert.equal(serveTime(2_400, pool), 45_000);
    // Done before the kill, or while one endpoint is down.
    assert.equal(serveTime(200, pool), 2_500);
    assert.equal(serveTime(1_000, pool), 20_000);
  });

  it('refuses a pool that never has an endpoint up for the rest', () => {
    assert.throws(() => serveTime(100, [{ perSecond: 40, down: [[1_000, Infinity]] }]), /no endpoint is ever up/);
  });
});
