// A broken batch file opened in the workspace gets the daemon's validation as diagnostics, each
// on the line at fault with its validation code.
import assert from 'node:assert/strict';
import * as vscode from 'vscode';
import { BROKEN_BATCH, BROKEN_LINES } from '../broken-batch.js';
import { activeExtension, codeOf, diagnosticsWith, SOURCE, within, workspaceFolder } from './support.js';

describe('diagnostics', () => {
  it('marks the invalid JSON line and the duplicate custom_id of an open .jsonl', async () => {
    await activeExtension();
    const uri = vscode.Uri.joinPath(workspaceFolder(), 'broken.jsonl');
    await vscode.workspace.fs.writeFile(uri, new TextEncoder().encode(BROKEN_BATCH));
    const codes = Object.keys(BROKEN_LINES);
    const published = diagnosticsWith(uri, codes);
    await vscode.window.showTextDocument(uri);
    const diagnostics = await within(60_000, `${SOURCE} diagnostics ${codes.join(', ')} for ${uri.fsPath}`, published);
    for (const [code, line] of Object.entries(BROKEN_LINES)) {
      assert.equal(
        diagnostics.find((diagnostic) => codeOf(diagnostic) === code)?.range.start.line,
        line,
        `${code}'s line`,
      );
    }
  });
});
