// The Batches tree's model: a Map by id, newest first, and a re-list of 1,000 batches in < 50 ms.
import assert from 'node:assert/strict';
import { performance } from 'node:perf_hooks';
import { BatchList } from '../../client/model/batch-list.js';
import { batchDescription, batchLabel, contextValue, statusIcon } from '../../client/model/format.js';
import { makeBatch } from './batches.js';

describe('batch list model', () => {
  it('orders newest first and keeps the order across updates', () => {
    const list = new BatchList();
    list.replace([makeBatch({ id: 'a', created_at: 1 }), makeBatch({ id: 'c', created_at: 3 }), makeBatch({ id: 'b', created_at: 2 })]);
    assert.deepEqual(list.ids(), ['c', 'b', 'a']);
    const order = list.ids();
    assert.equal(list.upsert(makeBatch({ id: 'b', created_at: 2, status: 'completed' })), false);
    assert.equal(list.ids(), order, 'an update does not re-sort');
    assert.equal(list.get('b')?.status, 'completed');
    assert.equal(list.upsert(makeBatch({ id: 'd', created_at: 4 })), true);
    assert.deepEqual(list.ids(), ['d', 'c', 'b', 'a']);
  });

  it('drops batches and paces gone from a new listing', () => {
    const list = new BatchList();
    list.replace([makeBatch({ id: 'a' }), makeBatch({ id: 'b' })]);
    list.setPace('a', { requestsPerSecond: 2, etaSeconds: 60 });
    list.replace([makeBatch({ id: 'b' })]);
    assert.equal(list.size, 1);
    assert.equal(list.pace('a'), undefined);
  });

  it('re-lists 1,000 batches and makes their items in under 50 ms', () => {
    const batches = Array.from({ length: 1000 }, (_, index) =>
      makeBatch({
        id: `batch_${index}`,
        created_at: 1_700_000_000 + ((index * 7919) % 1000),
        status: index % 3 === 0 ? 'completed' : 'in_progress',
        metadata: { input_path: `/data/part-${index}.jsonl` },
      }),
    );
    const list = new BatchList();
    const refresh = (): number => {
      const started = performance.now();
      list.replace(batches);
      // What getChildren and getTreeItem do for each batch.
      const items = list.ids().map((id) => {
        const batch = list.get(id)!;
        return { label: batchLabel(batch), description: batchDescription(batch, list.pace(id)), icon: statusIcon(batch), contextValue: contextValue(batch) };
      });
      assert.equal(items.length, 1000);
      return performance.now() - started;
    };
    refresh(); // warm-up: the first run compiles
    const times = Array.from({ length: 5 }, refresh).sort((a, b) => a - b);
    const median = times[2]!;
    console.log(`      refresh of 1,000 batches: median ${median.toFixed(2)} ms (of 5 runs: ${times.map((time) => time.toFixed(2)).join(', ')})`);
    assert.ok(median < 50, `${median} ms`);
  });
});
