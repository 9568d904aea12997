// The VS Code extension's entry: a Ctx that owns the connection to the daemon, the batch the UI
// follows, the status bar, the metrics panel and the commands.
import * as vscode from 'vscode';
import { BatchWatch } from './batch-watch.js';
import { registerCommands } from './commands.js';
import { Ctx } from './ctx.js';
import { Log } from './log.js';
import { MetricsPanel } from './metrics-panel.js';
import { StatusBar } from './status-bar.js';

let activeCtx: Ctx | undefined;

export function activate(context: vscode.ExtensionContext): void {
  const log = new Log();
  const ctx = new Ctx(context, log);
  activeCtx = ctx;
  const watch = new BatchWatch(ctx);
  context.subscriptions.push(
    ctx,
    watch,
    new StatusBar(ctx, watch),
    vscode.window.registerWebviewPanelSerializer(MetricsPanel.viewType, {
      deserializeWebviewPanel: async (panel) => MetricsPanel.revive(panel, context.extensionUri, watch),
    }),
    vscode.workspace.onDidChangeConfiguration((event) => {
      if (event.affectsConfiguration('ollamaBatch.dataDir')) void ctx.reconnect();
    }),
    log,
  );
  registerCommands(context, ctx, watch);
  void ctx.start();
}

/** Closes this window's connection; the daemon and its batches keep running. */
export function deactivate(): Promise<void> | undefined {
  return activeCtx?.stopClient();
}
