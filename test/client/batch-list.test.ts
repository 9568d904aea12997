// The Batches tree's model: a Map by id, newest first. (The refresh of 1,000 batches is timed in
// `npm run bench -- --only extension`.)
import assert from 'node:assert/strict';
import { BatchList } from '../../client/model/batch-list.js';
import { makeBatch } from './batches.js';

describe('batch list model', () => {
  it('orders newest first and keeps the order across updates', () => {
    const list = new BatchList();
    list.replace([
      makeBatch({ id: 'a', created_at: 1 }),
      makeBatch({ id: 'c', created_at: 3 }),
      makeBatch({ id: 'b', created_at: 2 }),
    ]);
    assert.deepEqual(list.ids(), ['c', 'b', 'a']);
    const order = list.ids();
    assert.equal(list.upsert(makeBatch({ id: 'b', created_at: 2, status: 'completed' })), false);
    assert.equal(list.ids(), order, 'an update does not re-sort');
    assert.equal(list.get('b')?.status, 'completed');
    assert.equal(list.upsert(makeBatch({ id: 'd', created_at: 4 })), true);
    assert.deepEqual(list.ids(), ['d', 'c', 'b', 'a']);
  });

  it('forgets deleted batches and their paces, and says whether it held any', () => {
    const list = new BatchList();
    list.replace([makeBatch({ id: 'a', created_at: 1 }), makeBatch({ id: 'b', created_at: 2 })]);
    list.setPace('a', { requestsPerSecond: 2, etaSeconds: 60 });
    assert.equal(list.remove(['a', 'unknown']), true);
    assert.deepEqual(list.ids(), ['b']);
    assert.equal(list.pace('a'), undefined);
    assert.equal(list.remove(['a']), false);
  });

  it('drops batches and paces gone from a new listing', () => {
    const list = new BatchList();
    list.replace([makeBatch({ id: 'a' }), makeBatch({ id: 'b' })]);
    list.setPace('a', { requestsPerSecond: 2, etaSeconds: 60 });
    list.replace([makeBatch({ id: 'b' })]);
    assert.equal(list.size, 1);
    assert.equal(list.pace('a'), undefined);
  });
});
