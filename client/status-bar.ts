// One status bar item: the daemon's state, and while a batch runs its progress and pace, live
// from the daemon's notifications. Clicking it shows the metrics of the followed batch.
import * as vscode from 'vscode';
import type { BatchWatch } from './batch-watch.js';
import type { Ctx } from './ctx.js';
import { statusText } from '../server/display/batch-status.js';
import { batchLabel, doneCount, isTerminal, statusBarText } from './model/format.js';
import { formatCount } from './webview/numbers.js';

export class StatusBar implements vscode.Disposable {
  private readonly item = vscode.window.createStatusBarItem('ollamaBatch.status', vscode.StatusBarAlignment.Left);
  private readonly subscriptions: vscode.Disposable[];

  constructor(
    private readonly ctx: Ctx,
    private readonly watch: BatchWatch,
  ) {
    this.item.name = 'Ollama Batch';
    this.item.command = 'ollamaBatch.showMetrics';
    this.subscriptions = [
      this.item,
      ctx.onDidChangeState(() => this.render()),
      ctx.onDidConnect(() => this.render()),
      watch.onDidChange(() => this.render()),
    ];
    this.render();
    this.item.show();
  }

  dispose(): void {
    vscode.Disposable.from(...this.subscriptions).dispose();
  }

  private render(): void {
    const { item } = this;
    item.backgroundColor = undefined;
    switch (this.ctx.state) {
      case 'starting':
        item.text = '$(loading~spin) Ollama Batch';
        item.tooltip = `Connecting to the daemon for ${this.ctx.dataDir}…`;
        return;
      case 'stopped':
        item.text = '$(circle-slash) Ollama Batch';
        item.tooltip = 'The Ollama Batch daemon is not running. Use "Ollama Batch: Start Daemon", or see its log.';
        item.backgroundColor = new vscode.ThemeColor('statusBarItem.warningBackground');
        return;
      case 'running': {
        const batch = this.watch.current;
        if (batch && !isTerminal(batch)) {
          item.text = statusBarText(batch, this.watch.pace);
          const failed = batch.request_counts.failed;
          item.tooltip = [
            `${batchLabel(batch)} (${batch.model ?? 'model not known yet'}): ${statusText(batch)}, ${formatCount(doneCount(batch))} of ${formatCount(batch.request_counts.total)} done`,
            batch.id,
            ...(failed > 0 ? [`${formatCount(failed)} failed`] : []),
            ...(batch.paused_reason ? [`Paused: ${batch.paused_reason}`] : []),
            'Click to show its metrics; "Ollama Batch: Show Progress" follows it in a notification.',
          ].join('\n');
          return;
        }
        const info = this.ctx.info;
        item.text = '$(server-process) Ollama Batch';
        item.tooltip = info
          ? `Daemon ${info.version}, pid ${info.pid}: engine ${info.engine.name}${info.engine.url ? ` at ${info.engine.url}` : ''}${info.engine.up ? '' : ' (not answering)'}, data in ${info.dataDir}, HTTP API ${info.http}/v1. Click to show metrics.`
          : 'The Ollama Batch daemon is running. Click to show metrics.';
      }
    }
  }
}
