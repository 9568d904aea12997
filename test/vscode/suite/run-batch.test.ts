// "Run Batch File" on a workspace .jsonl: the daemon the extension started runs it on the real
// llama-cpp engine to completion. Followed through the daemon's own change notifications.
import assert from 'node:assert/strict';
import * as vscode from 'vscode';
import type { Batch } from '../../../server/protocol/openai.js';
import { BatchChangedNotification } from '../../../server/protocol/methods.js';
import { activeExtension, daemonConnection, dataDir, within, workspaceFolder } from './support.js';

/** The sample the runner writes into the workspace (3 lines for the tiny model). */
const SAMPLE = 'sample.jsonl';
const SAMPLE_LINES = 3;

describe('Run Batch File', () => {
  it('runs a workspace batch file to completion on the llama-cpp engine', async () => {
    await activeExtension();
    const connection = await daemonConnection(dataDir());
    try {
      const finished = new Promise<Batch>((resolve) => {
        connection.onNotification(BatchChangedNotification.type, (batch) => {
          if (['completed', 'failed', 'expired', 'cancelled'].includes(batch.status)) resolve(batch);
        });
      });
      // Not awaited: the command ends only when its completion message is dismissed.
      void vscode.commands.executeCommand('ollamaBatch.runBatch', vscode.Uri.joinPath(workspaceFolder(), SAMPLE));
      const batch = await within(120_000, 'the batch to finish', finished);
      assert.equal(batch.status, 'completed', JSON.stringify(batch.errors));
      assert.deepEqual(batch.request_counts, { total: SAMPLE_LINES, completed: SAMPLE_LINES, failed: 0 });
    } finally {
      connection.dispose();
    }
  });
});
