// The lanes of a pooled run, alone: which lane a try goes to, what waits, what VRAM pressure
// and a down endpoint change. The endpoints' engines are never asked to chat here; a down
// endpoint's health check is a ping the test answers.
import assert from 'node:assert/strict';
import type { Engine } from '../../server/engines/engine.js';
import { Lanes } from '../../server/batches/lanes.js';
import { Endpoint } from '../../server/pool/endpoint.js';
import type { Adjustment } from '../../server/protocol/metrics.js';

/** An engine that only answers pings, true once `answering` is set. */
function pingOnly(): Engine & { answering: boolean } {
  const engine = {
    name: 'ollama' as const,
    answering: false,
    ping: async () => engine.answering,
    close: async () => undefined,
  };
  return engine as unknown as Engine & { answering: boolean };
}

function endpoint(name: string, url: string, weight = 1): Endpoint {
  return new Endpoint({ name, engine: pingOnly(), url, weight });
}

describe('lanes', () => {
  const endpoints: Endpoint[] = [];
  const stop = new AbortController();
  afterEach(async () => {
    await Promise.all(endpoints.splice(0).map((each) => each.close()));
  });

  function lanesOver(
    at: Endpoint[],
    concurrency: number[],
    events: { pauses?: Array<string | null>; adjustments?: Adjustment[] } = {},
  ) {
    endpoints.push(...at);
    return new Lanes(
      at.map((each) => ({ endpoint: each, model: 'tiny' })),
      ({ endpoint: each }) => concurrency[at.indexOf(each)]!,
      8192,
      {
        onAdjusted: (adjustment) => events.adjustments?.push(adjustment),
        onPause: (reason) => events.pauses?.push(reason),
        onIdleSlots: () => undefined,
      },
      stop.signal,
    );
  }

  it('gives a try to the lane with the most free slots for its weight, and a freed slot to the try waiting', async () => {
    const [a, b] = [endpoint('a', 'http://127.0.0.1:1'), endpoint('b', 'http://127.0.0.1:2', 3)];
    const lanes = lanesOver([a, b], [2, 1]);
    const taken = [await lanes.takeSlot(), await lanes.takeSlot(), await lanes.takeSlot()];
    // b: 1 free × weight 3 beats a: 2 free × 1; then a twice.
    assert.deepEqual(
      taken.map((lane) => lane?.endpoint.name),
      ['b', 'a', 'a'],
    );
    const waiting = lanes.takeSlot();
    lanes.giveSlot(taken[0]!);
    assert.equal((await waiting)?.endpoint.name, 'b', 'the freed slot went to the try that waited');
    assert.deepEqual(
      lanes.lanes.map((lane) => lane.used),
      [2, 1],
    );
  });

  it('lowers limits under VRAM pressure only on the endpoints on this machine, naming each', () => {
    const adjustments: Adjustment[] = [];
    const lanes = lanesOver(
      [endpoint('here', 'http://localhost:11434'), endpoint('there', 'http://gpu-box:11434')],
      [4, 4],
      { adjustments },
    );
    lanes.setPressure('warning');
    assert.deepEqual(
      lanes.lanes.map((lane) => lane.limit),
      [2, 4],
    );
    assert.deepEqual(
      adjustments.map((adjustment) => [adjustment.endpoint, adjustment.concurrency]),
      [['here', 2]],
    );
  });

  it('passes over a down endpoint, pauses while all are down, and goes on when one answers its health check', async () => {
    const [a, b] = [endpoint('a', 'http://127.0.0.1:1'), endpoint('b', 'http://127.0.0.1:2')];
    const pauses: Array<string | null> = [];
    const lanes = lanesOver([a, b], [1, 1], { pauses });
    a.markDown('connection refused');
    assert.equal((await lanes.takeSlot())?.endpoint.name, 'b');
    b.markDown('connection refused');
    assert.deepEqual(pauses, ['engine unreachable: a: connection refused; b: connection refused']);
    const waiting = lanes.takeSlot();
    const back = new Promise<boolean>((resolve) => a.onChange(resolve));
    (a.engine as Engine & { answering: boolean }).answering = true;
    assert.equal(await back, true);
    assert.equal((await waiting)?.endpoint.name, 'a', 'the try waited for the endpoint that came back');
    assert.deepEqual(pauses.at(-1), null);
  });
});
