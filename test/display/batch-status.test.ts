// How statuses, durations and times read for people: one wording for the CLI and the extension.
import assert from 'node:assert/strict';
import { elapsedText, localTime, statusText, tookText } from '../../server/display/batch-status.js';
import { makeBatch } from '../client/batches.js';

describe('batch status text', () => {
  it('words every status as people say it, a paused run as paused', () => {
    assert.equal(statusText({ status: 'in_progress', paused_reason: null }), 'in progress');
    assert.equal(statusText({ status: 'in_progress', paused_reason: 'engine unreachable' }), 'paused');
    for (const status of [
      'validating',
      'failed',
      'finalizing',
      'completed',
      'expired',
      'cancelling',
      'cancelled',
    ] as const)
      assert.equal(statusText({ status, paused_reason: null }), status);
  });

  it('gives durations in their two largest units, to the second', () => {
    const cases: Array<[number, string]> = [
      [0, '0 s'],
      [45, '45 s'],
      [60, '1 m'],
      [648, '10 m 48 s'],
      [3600 + 5 * 60 + 59, '1 h 5 m'],
      [7200, '2 h'],
      [3 * 86_400 + 4 * 3600 + 17, '3 d 4 h'],
    ];
    for (const [seconds, text] of cases) assert.equal(elapsedText(seconds), text, String(seconds));
  });

  it('says how long an ended batch took, from its start to its end, and nothing while it runs', () => {
    const running = makeBatch({ id: 'b', in_progress_at: 1000 });
    assert.equal(tookText(running), null);
    assert.equal(tookText({ ...running, status: 'completed', completed_at: 1648 }), 'took 10 m 48 s');
    assert.equal(tookText({ ...running, status: 'cancelled', cancelled_at: 1030 }), 'took 30 s');
    // Failed while validating: never started, so counted from its creation.
    assert.equal(
      tookText({ ...running, status: 'failed', created_at: 990, in_progress_at: null, failed_at: 992 }),
      'took 2 s',
    );
  });

  it('shows times in the local time zone, not UTC', () => {
    const zone = process.env.TZ;
    try {
      process.env.TZ = 'Asia/Kolkata';
      assert.equal(localTime(1_700_000_100), '2023-11-15 03:45:00');
      process.env.TZ = 'America/New_York';
      assert.equal(localTime(1_700_000_100), '2023-11-14 17:15:00');
    } finally {
      if (zone === undefined) delete process.env.TZ;
      else process.env.TZ = zone;
    }
  });
});
