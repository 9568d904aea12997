// One status bar item: the daemon's state, and while a batch runs its progress, live from the
// daemon's notifications. Clicking it shows the daemon log.
import * as vscode from 'vscode';
import type { Batch } from '../server/openai/types.js';
import { doneCount, isTerminal, type BatchWatch } from './batch-watch.js';
import type { Ctx } from './ctx.js';

export const formatCount = (value: number): string => value.toLocaleString();

export class StatusBar implements vscode.Disposable {
  private readonly item = vscode.window.createStatusBarItem('ollamaBatch.status', vscode.StatusBarAlignment.Left);
  private readonly subscriptions: vscode.Disposable[];

  constructor(
    private readonly ctx: Ctx,
    private readonly watch: BatchWatch,
  ) {
    this.item.name = 'Ollama Batch';
    this.item.command = 'ollamaBatch.showDaemonLog';
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
        item.tooltip = 'The Ollama Batch daemon is not running. Click to show its log.';
        item.backgroundColor = new vscode.ThemeColor('statusBarItem.warningBackground');
        return;
      case 'running': {
        const batch = this.watch.current;
        if (batch && !isTerminal(batch)) return this.renderBatch(batch);
        const info = this.ctx.info;
        item.text = '$(server-process) Ollama Batch';
        item.tooltip = info
          ? `Daemon ${info.version}, pid ${info.pid}: engine ${info.engine.name}${info.engine.url ? ` at ${info.engine.url}` : ''}, data in ${info.dataDir}. Click to show its log.`
          : 'The Ollama Batch daemon is running. Click to show its log.';
      }
    }
  }

  private renderBatch(batch: Batch): void {
    const progress = `${formatCount(doneCount(batch))} / ${formatCount(batch.request_counts.total)}`;
    const lines = [`Batch ${batch.id} (${batch.model ?? 'model not known yet'}): ${batch.status}`];
    if (batch.request_counts.failed > 0) lines.push(`${formatCount(batch.request_counts.failed)} failed`);
    if (batch.paused_reason) {
      this.item.text = `$(debug-pause) ${progress}`;
      lines.push(`Paused: ${batch.paused_reason}`);
    } else {
      this.item.text = batch.status === 'in_progress' ? `$(sync~spin) ${progress}` : `$(sync~spin) ${batch.status}`;
    }
    lines.push('Click to show the daemon log.');
    this.item.tooltip = lines.join('\n');
  }
}
