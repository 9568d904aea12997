// A read-only editor tab for the request Convert is about to write (a virtual document: nothing to
// save, nothing left dirty when it closes).
import * as vscode from 'vscode';
import type { BatchInputLine } from '../server/protocol/openai.js';
import { renderRequest } from './model/request-preview.js';

const SCHEME = 'ollama-batch-preview';
const contents = new Map<string, string>();
/** Each preview its own document: a shown one is not asked to change. */
let shown = 0;

export function registerRequestPreview(): vscode.Disposable {
  return vscode.workspace.registerTextDocumentContentProvider(SCHEME, {
    provideTextDocumentContent: (uri) => contents.get(uri.toString()) ?? '',
  });
}

/**
 * Shows the first request beside the editor, keeping the focus where it is (on the dialog to
 * come); the disposable closes it.
 */
export async function showRequestPreview(
  line: BatchInputLine,
  output: string,
  source: string,
): Promise<vscode.Disposable> {
  const uri = vscode.Uri.from({ scheme: SCHEME, path: `/First request of ${output}.md`, query: String(++shown) });
  contents.set(uri.toString(), renderRequest(line, source));
  const document = await vscode.workspace.openTextDocument(uri);
  await vscode.window.showTextDocument(document, {
    viewColumn: vscode.ViewColumn.Beside,
    preserveFocus: true,
    preview: true,
  });
  return new vscode.Disposable(() => {
    contents.delete(uri.toString());
    const tabs = vscode.window.tabGroups.all
      .flatMap((group) => group.tabs)
      .filter((tab) => tab.input instanceof vscode.TabInputText && tab.input.uri.toString() === uri.toString());
    void vscode.window.tabGroups.close(tabs);
  });
}
