// The page every panel starts from: a strict CSP (`default-src 'none'`, the bundled script by
// nonce, style sheets only from media/), no daemon data in the markup (it comes by message).
import { randomBytes } from 'node:crypto';
import * as vscode from 'vscode';

/** Scripts on, and nothing outside media/ readable. */
export function webviewOptions(extensionUri: vscode.Uri): vscode.WebviewOptions {
  return { enableScripts: true, localResourceRoots: [vscode.Uri.joinPath(extensionUri, 'media')] };
}

/**
 * Takes over a panel that VS Code restores after a reload, with the state its webview kept
 * (setState, which names the batch): its options are not restored, so they are set again. A
 * state without a batch, or one for a batch that already has its panel (`taken`), closes it.
 */
export function restoredState<S extends { batchId: string }>(
  panel: vscode.WebviewPanel,
  extensionUri: vscode.Uri,
  state: unknown,
  taken: (batchId: string) => boolean,
): S | undefined {
  const batchId = (state as { batchId?: unknown } | undefined)?.batchId;
  if (typeof batchId !== 'string' || taken(batchId)) {
    panel.dispose();
    return undefined;
  }
  panel.webview.options = webviewOptions(extensionUri);
  return state as S;
}

export interface PageOptions {
  title: string;
  /** The bundled script under media/webview/, without `.js`. */
  script: string;
  /** Style sheets under media/. */
  styles: string[];
  body: string;
}

export function webviewHtml(webview: vscode.Webview, extensionUri: vscode.Uri, page: PageOptions): string {
  const media = (path: string): vscode.Uri =>
    webview.asWebviewUri(vscode.Uri.joinPath(extensionUri, 'media', ...path.split('/')));
  const nonce = randomBytes(16).toString('base64');
  const links = page.styles.map((style) => `<link rel="stylesheet" href="${media(style).toString()}">`).join('\n  ');
  return `<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="UTF-8">
  <meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src ${webview.cspSource}; script-src 'nonce-${nonce}';">
  <meta name="viewport" content="width=device-width, initial-scale=1.0">
  ${links}
  <title>${page.title}</title>
</head>
<body>
${page.body}
  <script nonce="${nonce}" src="${media(`webview/${page.script}.js`).toString()}"></script>
</body>
</html>`;
}
