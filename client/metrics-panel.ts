// "Ollama Batch: Show Metrics": one panel per batch with its counters and charts. The page holds
// no daemon data: the script says `ready`, gets the batch, its stored time series and the latest
// snapshot, then a point a second from the daemon's batch/metrics notifications. The webview
// keeps the batch id in its state, so the serializer brings the panel back after a reload.
import * as vscode from 'vscode';
import { BatchGetRequest, BatchMetricsRequest } from '../server/protocol/methods.js';
import type { Ctx } from './ctx.js';
import { errorMessage } from './log.js';
import { batchView, countersOf, pointOfSample, pointOfSnapshot, poolOf } from './model/metrics-view.js';
import { NO_GPU } from './webview/counters.js';
import type { FromMetricsWebview, SeriesPoint, ToMetricsWebview } from './webview/messages.js';
import { completeWalkthroughStep } from './walkthrough.js';
import { restoredState, webviewHtml, webviewOptions } from './webview-html.js';
import { batchLabel } from './model/format.js';

export class MetricsPanel {
  static readonly viewType = 'ollamaBatch.metrics';
  private static readonly panels = new Map<string, MetricsPanel>();

  private readonly _disposables: vscode.Disposable[] = [];
  /** Deltas go out only after the snapshot. */
  private ready = false;

  static show(extensionUri: vscode.Uri, ctx: Ctx, batchId: string): void {
    const open = MetricsPanel.panels.get(batchId);
    if (open) {
      open.panel.reveal();
      return;
    }
    const panel = vscode.window.createWebviewPanel(
      MetricsPanel.viewType,
      'Metrics',
      vscode.ViewColumn.Active,
      webviewOptions(extensionUri),
    );
    new MetricsPanel(panel, extensionUri, ctx, batchId);
  }

  /** Takes over a panel that VS Code restores after a reload; its state names the batch. */
  static revive(panel: vscode.WebviewPanel, extensionUri: vscode.Uri, ctx: Ctx, state: unknown): void {
    const kept = restoredState(panel, extensionUri, state, (batchId) => MetricsPanel.panels.has(batchId));
    if (kept) new MetricsPanel(panel, extensionUri, ctx, kept.batchId);
  }

  private constructor(
    private readonly panel: vscode.WebviewPanel,
    extensionUri: vscode.Uri,
    private readonly ctx: Ctx,
    private readonly batchId: string,
  ) {
    MetricsPanel.panels.set(batchId, this);
    completeWalkthroughStep('metricsShown');
    panel.iconPath = vscode.Uri.joinPath(extensionUri, 'media', 'icon.svg');
    panel.webview.html = webviewHtml(panel.webview, extensionUri, {
      title: 'Batch Metrics',
      script: 'metrics',
      styles: ['webview/metrics.css', 'metrics.css'],
      body: BODY,
    });
    panel.onDidDispose(() => this.dispose(), null, this._disposables);
    // A hidden webview loses its script; when shown again it loads anew and says `ready` again.
    panel.webview.onDidReceiveMessage(
      (message: FromMetricsWebview) => {
        if (message.type !== 'ready') return;
        this.ready = false;
        void this.sendSnapshot();
      },
      null,
      this._disposables,
    );
    ctx.onDidChangeBatch(
      (batch) => batch.id === batchId && this.ready && this.post({ type: 'batch', batch: batchView(batch) }),
      null,
      this._disposables,
    );
    ctx.onDidReceiveMetrics(
      ({ id, snapshot }) =>
        id === batchId &&
        this.ready &&
        this.post({
          type: 'metrics',
          point: pointOfSnapshot(snapshot),
          counters: countersOf(snapshot),
          pool: poolOf(snapshot),
        }),
      null,
      this._disposables,
    );
    // Points announced while unconnected were missed: the stored series has them.
    ctx.onDidConnect(() => this.ready && void this.sendSnapshot(), null, this._disposables);
  }

  dispose(): void {
    MetricsPanel.panels.delete(this.batchId);
    this.panel.dispose();
    vscode.Disposable.from(...this._disposables.splice(0)).dispose();
  }

  private async sendSnapshot(): Promise<void> {
    const client = this.ctx.client;
    if (!client) {
      this.post({
        type: 'snapshot',
        batchId: this.batchId,
        batch: null,
        points: [],
        counters: null,
        pool: null,
        problem: 'The daemon is not running.',
      });
      return;
    }
    try {
      const [batch, metrics] = await Promise.all([
        client.sendRequest(BatchGetRequest.type, { id: this.batchId }),
        client.sendRequest(BatchMetricsRequest.type, { id: this.batchId, series: true }),
      ]);
      const stored = (metrics.series ?? []).map(pointOfSample).filter((point): point is SeriesPoint => point !== null);
      // The batch by its file's name, as the tree shows it, not by its id.
      this.panel.title = `Metrics ${batchLabel(batch)}`;
      this.post({
        type: 'snapshot',
        batchId: this.batchId,
        batch: batchView(batch),
        points: [...stored, pointOfSnapshot(metrics.snapshot)],
        counters: countersOf(metrics.snapshot),
        pool: poolOf(metrics.snapshot),
        problem: null,
      });
      this.ready = true;
    } catch (error) {
      this.ctx.log.error(`batch/metrics ${this.batchId} failed`, error);
      this.post({
        type: 'snapshot',
        batchId: this.batchId,
        batch: null,
        points: [],
        counters: null,
        pool: null,
        problem: errorMessage(error),
      });
    }
  }

  private post(message: ToMetricsWebview): void {
    void this.panel.webview.postMessage(message);
  }
}

const counter = (id: string, label: string): string =>
  `<div><dt id="${id}-label">${label}</dt><dd id="${id}">–</dd></div>`;
/** A chart; `empty` says why it has no line, shown over it while it has none. */
const chart = (id: string, title: string, empty?: { id: string; text: string }): string =>
  `<section class="chart"><h2>${title}</h2><div id="${id}"></div>${
    empty ? `<p id="${empty.id}" class="chart-empty" hidden>${empty.text}</p>` : ''
  }</section>`;

const BODY = `
  <p class="placeholder" id="placeholder">Loading…</p>
  <main id="main" hidden>
    <header>
      <h1 id="batch-id"></h1>
      <span id="status" class="status"></span>
      <span id="model" class="model"></span>
    </header>
    <p id="paused" class="paused" hidden></p>
    <progress id="progress" max="1" value="0"></progress>
    <dl class="counters">
      ${counter('done', 'Done')}
      ${counter('rate', 'Requests/s')}
      ${counter('eta', 'ETA')}
      ${counter('tokens', 'Prompt / completion tokens')}
      ${counter('cached', 'Cached share')}
      ${counter('errors', 'Errors (retries)')}
      ${counter('latency', 'Latency p50 / p95')}
      ${counter('context', 'num_ctx · trims')}
      ${counter('vram', 'VRAM')}
    </dl>
    <section id="endpoints" class="endpoints" hidden>
      <h2 id="endpoints-title">Endpoints</h2>
      <p id="endpoint-line" class="endpoint-line" hidden></p>
      <table id="endpoint-table" hidden>
        <thead>
          <tr>
            <th>Endpoint</th><th>State</th><th class="number">In flight</th><th class="number">Req/s</th>
            <th class="number">Answered</th><th class="number">Errors</th><th class="number">Hedges won</th>
          </tr>
        </thead>
        <tbody id="endpoint-rows"></tbody>
      </table>
    </section>
    <div class="charts">
      ${chart('chart-throughput', 'Throughput (requests/s)')}
      ${chart('chart-latency', 'Latency (ms)')}
      ${chart('chart-tokens', 'Tokens')}
      ${chart('chart-context', 'Context utilisation (%) and trims')}
      ${chart('chart-vram', 'VRAM used (MiB)', { id: 'vram-none', text: NO_GPU })}
      ${chart('chart-errors', 'Errors by class')}
    </div>
    <section id="adjustments" class="adjustments" hidden>
      <h2>Adjustments</h2>
      <ul id="adjustment-list"></ul>
    </section>
  </main>`;
