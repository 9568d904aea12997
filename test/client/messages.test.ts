// The results webview's messages are checked before the panel obeys them.
import assert from 'node:assert/strict';
import { isFromResultsWebview } from '../../client/webview/messages.js';

describe('webview messages', () => {
  it('accepts the messages the results webview sends', () => {
    for (const message of [
      { type: 'ready' },
      { type: 'export' },
      { type: 'refresh' },
      { type: 'rows', version: 2, start: 100, count: 100 },
      { type: 'view', sort: { column: 3, order: 'desc' }, filter: null },
      { type: 'view', sort: null, filter: { column: 0, text: '>= 7' } },
      { type: 'detail', customId: 'p1' },
    ]) {
      assert.ok(isFromResultsWebview(message), JSON.stringify(message));
    }
  });

  it('refuses anything else', () => {
    for (const message of [
      null,
      'ready',
      { type: 'unknown' },
      { type: 'rows', version: 1, start: -1, count: 10 },
      { type: 'rows', version: 1, start: 0, count: 1.5 },
      { type: 'view', sort: { column: 1, order: 'sideways' }, filter: null },
      { type: 'view', sort: null },
      { type: 'detail', customId: 7 },
    ]) {
      assert.ok(!isFromResultsWebview(message), JSON.stringify(message));
    }
  });
});
