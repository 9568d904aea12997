// Start, Stop and Restart Daemon, its log, Check Engine, and the model file's setting.
import { existsSync } from 'node:fs';
import { dirname } from 'node:path';
import * as vscode from 'vscode';
import { engineCheck } from '../server/display/endpoint-lines.js';
import { DaemonStatusRequest } from '../server/protocol/methods.js';
import type { Ctx } from './ctx.js';
import { daemonLogPath } from './daemon.js';
import { engineAnswers } from './model/walkthrough.js';
import { setting } from './settings.js';
import { completeWalkthroughStep } from './walkthrough.js';

export async function startDaemon(ctx: Ctx): Promise<void> {
  if (ctx.client) {
    void vscode.window.showInformationMessage('Ollama Batch: the daemon is running.');
    return;
  }
  // A start that fails has said why, with its ways out.
  await ctx.reconnect();
  if (ctx.client) void vscode.window.showInformationMessage('Ollama Batch: daemon started.');
}

export async function stopDaemon(ctx: Ctx): Promise<void> {
  const running = ctx.info?.runningBatchId;
  if (running) {
    const stop = 'Stop Daemon';
    const choice = await vscode.window.showWarningMessage(
      `Stop the daemon? ${running} is running; it resumes where it stopped at the daemon's next start.`,
      { modal: true },
      stop,
    );
    if (choice !== stop) return;
  }
  await ctx.stopDaemon();
  void vscode.window.showInformationMessage(
    'Ollama Batch: daemon stopped. "Start Daemon" or any command that needs it starts it again.',
  );
}

export async function restartDaemon(ctx: Ctx): Promise<void> {
  await ctx.restartDaemon();
  if (ctx.client) void vscode.window.showInformationMessage('Ollama Batch: daemon restarted.');
}

/** The daemon's own log (its stderr, appended to daemon.log when started detached), scrolled to the end. */
export async function showDaemonLog(ctx: Ctx): Promise<void> {
  const path = daemonLogPath(ctx.dataDir);
  if (!existsSync(path)) {
    ctx.log.show();
    void vscode.window.showInformationMessage(
      `Ollama Batch: no daemon log at ${path} yet; showing the extension's log.`,
    );
    return;
  }
  const editor = await vscode.window.showTextDocument(vscode.Uri.file(path), { preview: true });
  const end = editor.document.lineAt(editor.document.lineCount - 1).range.end;
  editor.selection = new vscode.Selection(end, end);
  editor.revealRange(new vscode.Range(end, end));
}

/** Asks the daemon afresh: is each endpoint of the pool up, which models does it have, how full is the GPU. */
export async function checkEngine(ctx: Ctx): Promise<void> {
  const client = await ctx.requireClient();
  if (!client) return;
  const info = await client.sendRequest(DaemonStatusRequest.type);
  if (engineAnswers(info)) {
    completeWalkthroughStep('engineAnswered');
    completeWalkthroughStep('engineChecked');
  }
  const check = engineCheck(info);
  const message = `Ollama Batch: ${check.message}`;
  const detail = check.detail.join('\n');
  const settings = 'Open Settings';
  const choice = check.allUp
    ? await vscode.window.showInformationMessage(message, { modal: true, detail })
    : await vscode.window.showWarningMessage(message, { modal: true, detail }, settings);
  if (choice === settings) await vscode.commands.executeCommand('workbench.action.openSettings', 'ollamaBatch.');
}

/** A file dialog for the llama-cpp engine's model, into the user's `ollamaBatch.modelPath`. */
export async function chooseModelFile(): Promise<void> {
  const current = setting<string>('modelPath')?.trim();
  const picked = await vscode.window.showOpenDialog({
    title: 'Choose the GGUF model file (ollamaBatch.modelPath)',
    openLabel: 'Use This Model',
    canSelectMany: false,
    filters: { 'GGUF models': ['gguf'] },
    // Where the current model lies, since models seldom live in the workspace.
    ...(current && { defaultUri: vscode.Uri.file(dirname(current)) }),
  });
  const file = picked?.[0];
  if (!file) return;
  // The daemon reads it at its start: the settings watcher offers the restart.
  await vscode.workspace
    .getConfiguration('ollamaBatch')
    .update('modelPath', file.fsPath, vscode.ConfigurationTarget.Global);
}
