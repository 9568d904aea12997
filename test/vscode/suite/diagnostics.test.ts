// A broken batch file opened in the workspace gets the daemon's validation as diagnostics, each
// on the line at fault with its validation code.
import assert from 'node:assert/strict';
import * as vscode from 'vscode';
import { BROKEN_BATCH, BROKEN_LINES } from '../broken-batch.js';
import { activeExtension, within, workspaceFolder } from './support.js';

/** The daemon's diagnostics, not VS Code's own JSON ones. */
const SOURCE = 'ollama-batch';

const codeOf = ({ code }: vscode.Diagnostic): string => String(typeof code === 'object' ? code.value : code);

/** Resolves with the daemon's diagnostics for `uri` once they hold every code in `codes`. */
function diagnosticsWith(uri: vscode.Uri, codes: string[]): Promise<vscode.Diagnostic[]> {
  return new Promise((resolve) => {
    const check = (): void => {
      const found = vscode.languages.getDiagnostics(uri).filter((diagnostic) => diagnostic.source === SOURCE);
      if (!codes.every((code) => found.some((diagnostic) => codeOf(diagnostic) === code))) return;
      subscription.dispose();
      resolve(found);
    };
    const subscription = vscode.languages.onDidChangeDiagnostics(({ uris }) => {
      if (uris.some((changed) => changed.toString() === uri.toString())) check();
    });
    check();
  });
}

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
