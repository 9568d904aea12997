// How batches read in the status bar and the tree: pure formatters, no VS Code.
import assert from 'node:assert/strict';
import {
  batchDescription,
  batchLabel,
  batchTooltip,
  contextValue,
  escapeMarkdown,
  progressLine,
  statusBarText,
  statusIcon,
} from '../../client/model/format.js';
import { formatCount, formatDuration, formatRate, formatShare } from '../../client/webview/numbers.js';
import { makeBatch } from './batches.js';

describe('client formatters', () => {
  it('formats durations as people say them', () => {
    const cases: Array<[number, string]> = [
      [0, '0s'],
      [45, '45s'],
      [59.6, '1m'],
      [12 * 60, '12m'],
      [3 * 3600 + 20 * 60, '3h 20m'],
      [2 * 3600, '2h'],
      [11 * 3600 + 10 * 60, '11h'],
      [53 * 3600, '2d 5h'],
      [72 * 3600, '3d'],
    ];
    for (const [seconds, text] of cases) assert.equal(formatDuration(seconds), text, String(seconds));
  });

  it('formats rates, counts and shares', () => {
    assert.equal(formatRate(0.254), '0.25');
    assert.equal(formatRate(3.94), '3.9');
    assert.equal(formatRate(42.4), '42');
    assert.equal(formatCount(170000), '170,000');
    assert.equal(formatShare(0.374), '37%');
    assert.equal(formatShare(0.001), '<1%');
  });

  it('shows a running batch with its pace in the status bar', () => {
    const batch = makeBatch({ id: 'batch_1', request_counts: { total: 170_000, completed: 12_300, failed: 45 } });
    assert.equal(
      statusBarText(batch, { requestsPerSecond: 3.9, etaSeconds: 11 * 3600 }),
      '$(sync~spin) Ollama Batch 12,345 / 170,000 · 3.9 req/s · ETA 11h',
    );
    assert.equal(statusBarText(batch), '$(sync~spin) Ollama Batch 12,345 / 170,000');
    assert.equal(
      statusBarText(batch, { requestsPerSecond: null, etaSeconds: 90 }),
      '$(sync~spin) Ollama Batch 12,345 / 170,000 · ETA 2m',
    );
    assert.equal(
      statusBarText({ ...batch, paused_reason: 'engine down' }),
      '$(debug-pause) Ollama Batch 12,345 / 170,000 · paused',
    );
    assert.equal(progressLine({ ...batch, status: 'validating' }), 'validating');
  });

  it('describes batches in the tree by where they are', () => {
    const running = makeBatch({ id: 'batch_1' });
    assert.equal(batchDescription(running, { requestsPerSecond: 3.9, etaSeconds: 3600 }), '12,345 / 170,000 · ETA 1h');
    assert.equal(batchDescription({ ...running, status: 'validating' }), 'validating…');
    assert.equal(progressLine({ ...running, status: 'finalizing' }), 'finalizing');
    const done = makeBatch({
      id: 'batch_2',
      status: 'completed',
      request_counts: { total: 10, completed: 10, failed: 0 },
    });
    assert.equal(batchDescription(done, { requestsPerSecond: 1, etaSeconds: 5 }), '10 ok');
    assert.equal(
      batchDescription({ ...done, status: 'cancelled', request_counts: { total: 10, completed: 6, failed: 4 } }),
      'cancelled · 6 ok, 4 failed',
    );
  });

  it('names a batch by the file it ran, else its input file, else its id', () => {
    assert.equal(batchLabel(makeBatch({ id: 'batch_1' })), 'batch_1');
    assert.equal(batchLabel(makeBatch({ id: 'batch_1' }), 'uploaded.jsonl'), 'uploaded.jsonl');
    // Run from the CLI: its metadata says the source.
    assert.equal(batchLabel(makeBatch({ id: 'batch_1', metadata: { source: 'runs/people.jsonl' } })), 'people.jsonl');
    assert.equal(
      batchLabel(makeBatch({ id: 'batch_2', metadata: { input_path: '/data/people.jsonl', retry_of: 'batch_1' } })),
      'people.jsonl (retry)',
    );
    assert.equal(
      batchLabel(makeBatch({ id: 'batch_1', metadata: { input_path: '/data/people.jsonl' } })),
      'people.jsonl',
    );
    assert.equal(
      batchLabel(makeBatch({ id: 'batch_1', metadata: { input_path: 'C:\\data\\people.jsonl' } })),
      'people.jsonl',
    );
  });

  it('tags tree items for the context menus', () => {
    const running = makeBatch({ id: 'b', metadata: { input_path: '/x.jsonl' } });
    assert.equal(contextValue(running), 'batch in_progress cancellable input');
    const failedLines = makeBatch({ id: 'b', status: 'completed', output_file_id: 'f-out', error_file_id: 'f-err' });
    assert.equal(contextValue(failedLines), 'batch completed retryable deletable output errors');
    assert.equal(contextValue({ ...failedLines, status: 'cancelling' }), 'batch cancelling output errors');
    const paused = { ...running, paused_reason: 'pilot check: 31 of 50 answers break their schema' };
    assert.equal(contextValue(paused), 'batch in_progress cancellable resumable input');
    assert.doesNotMatch(contextValue({ ...running, paused_reason: 'engine unreachable: down' }), /\bresumable\b/);
    // The menus match tags as words: no tag is a part of another, and no status is a tag.
    assert.doesNotMatch(contextValue({ ...failedLines, status: 'cancelled' }), /\bcancellable\b/);
  });

  it('gives every status an icon', () => {
    for (const status of [
      'validating',
      'failed',
      'in_progress',
      'finalizing',
      'completed',
      'expired',
      'cancelling',
      'cancelled',
    ] as const) {
      assert.ok(statusIcon(makeBatch({ id: 'b', status })).id, status);
    }
    assert.equal(statusIcon(makeBatch({ id: 'b' })).id, 'sync~spin');
    assert.equal(
      statusIcon(makeBatch({ id: 'b', status: 'completed', request_counts: { total: 1, completed: 1, failed: 0 } })).id,
      'pass',
    );
  });

  it('writes tooltips as Markdown with the daemon text escaped', () => {
    const batch = makeBatch({
      id: 'batch_1',
      status: 'failed',
      failed_at: 1_700_000_100,
      errors: {
        object: 'list',
        data: [{ code: 'invalid_request', message: 'line 3: *bad* [json]', param: null, line: 3 }],
      },
    });
    const tooltip = batchTooltip({ ...batch, metadata: { input_path: '/data/people_1.jsonl' } });
    // The name first, the id below it, and how long it took (from its start at 1_700_000_010).
    assert.match(tooltip, /^\*\*people\\_1\\.jsonl\*\* · failed · took 1 m 30 s {2}\n/);
    assert.match(tooltip, /Id: batch\\_1/);
    assert.match(tooltip, /Files: input file\\-in {2}\n/);
    assert.match(tooltip, /line 3: \\\*bad\\\* \\\[json\\\]/);
    // In local time (see test/display/batch-status.test.ts).
    assert.match(tooltip, /Failed: 2023-11-1[45] \d\d:\d5:00/);
    assert.match(tooltip, /12,300 ok, 45 failed of 170,000/);
    assert.equal(escapeMarkdown('a_b'), 'a\\_b');
  });
});
