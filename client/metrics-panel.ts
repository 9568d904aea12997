// "Ollama Batch: Show Metrics": one webview panel with the live counters of the followed batch.
// The page holds no daemon data: the script asks with `ready`, gets a snapshot, then updates.
import { randomBytes } from 'node:crypto';
import * as vscode from 'vscode';
import type { Batch } from '../server/openai/types.js';
import { isTerminal, type BatchWatch } from './batch-watch.js';
import type { BatchView, FromWebview, ToWebview } from './webview/messages.js';

function batchView(batch: Batch): BatchView {
  return {
    id: batch.id,
    status: batch.status,
    model: batch.model,
    pausedReason: batch.paused_reason,
    total: batch.request_counts.total,
    completed: batch.request_counts.completed,
    failed: batch.request_counts.failed,
    promptTokens: batch.usage.input_tokens,
    cachedTokens: batch.usage.input_tokens_details.cached_tokens,
    completionTokens: batch.usage.output_tokens,
    startedAt: batch.in_progress_at,
    endedAt: batch.completed_at ?? batch.failed_at ?? batch.cancelled_at ?? batch.expired_at,
    over: isTerminal(batch),
  };
}

export class MetricsPanel {
  static readonly viewType = 'ollamaBatch.metrics';
  private static current: MetricsPanel | undefined;

  private readonly _disposables: vscode.Disposable[] = [];
  private ready = false;

  static show(extensionUri: vscode.Uri, watch: BatchWatch): void {
    if (MetricsPanel.current) {
      MetricsPanel.current.panel.reveal();
      return;
    }
    const panel = vscode.window.createWebviewPanel(MetricsPanel.viewType, 'Batch Metrics', vscode.ViewColumn.Active, MetricsPanel.options(extensionUri));
    MetricsPanel.current = new MetricsPanel(panel, extensionUri, watch);
  }

  /** Takes over a panel that VS Code restores after a reload. */
  static revive(panel: vscode.WebviewPanel, extensionUri: vscode.Uri, watch: BatchWatch): void {
    panel.webview.options = MetricsPanel.options(extensionUri);
    MetricsPanel.current = new MetricsPanel(panel, extensionUri, watch);
  }

  private static options(extensionUri: vscode.Uri): vscode.WebviewOptions {
    return { enableScripts: true, localResourceRoots: [vscode.Uri.joinPath(extensionUri, 'media')] };
  }

  private constructor(
    private readonly panel: vscode.WebviewPanel,
    extensionUri: vscode.Uri,
    watch: BatchWatch,
  ) {
    panel.iconPath = vscode.Uri.joinPath(extensionUri, 'media', 'icon.svg');
    panel.webview.html = MetricsPanel.html(panel.webview, extensionUri);
    panel.onDidDispose(() => this.dispose(), null, this._disposables);
    // A hidden webview loses its script; when shown again it loads anew and says `ready` again.
    panel.webview.onDidReceiveMessage(
      (message: FromWebview) => {
        if (message.type !== 'ready') return;
        this.ready = true;
        this.post({ type: 'snapshot', batch: watch.current ? batchView(watch.current) : null });
      },
      null,
      this._disposables,
    );
    watch.onDidChange((batch) => this.ready && this.post({ type: 'batch', batch: batchView(batch) }), null, this._disposables);
  }

  dispose(): void {
    MetricsPanel.current = undefined;
    this.panel.dispose();
    vscode.Disposable.from(...this._disposables.splice(0)).dispose();
  }

  private post(message: ToWebview): void {
    void this.panel.webview.postMessage(message);
  }

  private static html(webview: vscode.Webview, extensionUri: vscode.Uri): string {
    const media = (...path: string[]): vscode.Uri => webview.asWebviewUri(vscode.Uri.joinPath(extensionUri, 'media', ...path));
    const nonce = randomBytes(16).toString('base64');
    return `<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="UTF-8">
  <meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src ${webview.cspSource}; script-src 'nonce-${nonce}';">
  <meta name="viewport" content="width=device-width, initial-scale=1.0">
  <link rel="stylesheet" href="${media('metrics.css')}">
  <title>Batch Metrics</title>
</head>
<body class="empty">
  <p class="placeholder">No batch is running. Start one with “Ollama Batch: Run Batch File”.</p>
  <main>
    <header>
      <h1 id="batch-id"></h1>
      <span id="status" class="status"></span>
      <span id="model" class="model"></span>
    </header>
    <p id="paused" class="paused" hidden></p>
    <progress id="progress" max="1" value="0"></progress>
    <dl class="counters">
      <div><dt>Done</dt><dd id="done">–</dd></div>
      <div><dt>Failed</dt><dd id="failed">–</dd></div>
      <div><dt>Requests/s</dt><dd id="rate">–</dd></div>
      <div><dt>Prompt tokens</dt><dd id="prompt-tokens">–</dd></div>
      <div><dt>Cached tokens</dt><dd id="cached-tokens">–</dd></div>
      <div><dt>Completion tokens</dt><dd id="completion-tokens">–</dd></div>
    </dl>
  </main>
  <script nonce="${nonce}" src="${media('webview', 'metrics.js')}"></script>
</body>
</html>`;
  }
}
