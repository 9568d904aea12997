// The VS Code extension's entry: a Ctx that owns the connection to the daemon, the batch the UI
// follows, the status bar, the Batches tree and the commands. Activation only wires these up;
// the panels load on first use, and the connection is made in the background.
import * as vscode from 'vscode';
import { BatchWatch } from './batch-watch.js';
import { BatchesTree } from './batches-tree.js';
import { registerCommands } from './commands.js';
import { Ctx, type DaemonState } from './ctx.js';
import { Log } from './log.js';
import { watchSettings } from './settings.js';
import { RunProgress } from './run-progress.js';
import { StatusBar } from './status-bar.js';
import { watchWalkthrough } from './walkthrough.js';

let activeCtx: Ctx | undefined;

const TREE_MESSAGES: Record<DaemonState, string | undefined> = {
  starting: 'Connecting to the daemon…',
  running: undefined,
  stopped: 'The daemon is not running: these are the batches as last seen.',
};

const BATCHES_VIEW = 'ollamaBatch.batches';

export function activate(context: vscode.ExtensionContext): void {
  const log = new Log();
  const ctx = new Ctx(context, log);
  activeCtx = ctx;
  const watch = new BatchWatch(ctx);
  const tree = new BatchesTree(ctx);
  const treeView = vscode.window.createTreeView(BATCHES_VIEW, { treeDataProvider: tree });
  const showState = (state: DaemonState): void => {
    treeView.message = tree.batches.size > 0 ? TREE_MESSAGES[state] : undefined;
    void vscode.commands.executeCommand('setContext', 'ollamaBatch.daemonState', state);
  };
  context.subscriptions.push(
    ctx,
    watch,
    tree,
    treeView,
    ctx.onDidChangeState(showState),
    new StatusBar(ctx, watch),
    new RunProgress(treeView, watch),
    // The panels VS Code brings back after a reload; their modules load only then.
    vscode.window.registerWebviewPanelSerializer('ollamaBatch.metrics', {
      deserializeWebviewPanel: async (panel, state: unknown) =>
        (await import('./metrics-panel.js')).MetricsPanel.revive(panel, context.extensionUri, ctx, state),
    }),
    vscode.window.registerWebviewPanelSerializer('ollamaBatch.results', {
      deserializeWebviewPanel: async (panel, state: unknown) =>
        (await import('./results-panel.js')).ResultsPanel.revive(panel, context, ctx, state),
    }),
    watchSettings(ctx),
    watchWalkthrough(ctx),
    log,
  );
  registerCommands(context, ctx, watch, tree);
  showState(ctx.state);
  void ctx.start();
}

/**
 * This bundle's copy of vscode-jsonrpc, which dist/language-client.cjs uses instead of its own
 * (esbuild.mjs): the protocol's request types are made with it, and vscode-jsonrpc tells its
 * parameter structures apart by identity. Getters, so nothing loads before the client needs it.
 */
export const sharedModules = {
  get 'vscode-jsonrpc'(): unknown {
    return require('vscode-jsonrpc');
  },
  get 'vscode-jsonrpc/node'(): unknown {
    return require('vscode-jsonrpc/node');
  },
};

/** Closes this window's connection; the daemon and its batches keep running. */
export function deactivate(): Promise<void> | undefined {
  return activeCtx?.stopClient();
}
