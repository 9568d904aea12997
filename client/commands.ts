// The commands, registered once for the window's life. Each asks the Ctx for a connected client
// and gets a "daemon not running" answer when there is none.
import { existsSync } from 'node:fs';
import { basename } from 'node:path';
import * as vscode from 'vscode';
import type { Batch } from '../server/openai/types.js';
import { BatchCancelRequest, BatchCreateRequest, BatchGetRequest, FileGetRequest, FileRegisterRequest } from '../server/protocol/methods.js';
import { doneCount, isTerminal, type BatchWatch } from './batch-watch.js';
import type { Ctx } from './ctx.js';
import { daemonLogPath } from './daemon.js';
import { errorMessage } from './log.js';
import { MetricsPanel } from './metrics-panel.js';
import { formatCount } from './status-bar.js';

export function registerCommands(context: vscode.ExtensionContext, ctx: Ctx, watch: BatchWatch): void {
  const command = <A extends unknown[]>(id: string, run: (...args: A) => Promise<void>): vscode.Disposable =>
    vscode.commands.registerCommand(id, async (...args: A) => {
      try {
        await run(...args);
      } catch (error) {
        ctx.log.error(id, error);
        void vscode.window.showErrorMessage(`Ollama Batch: ${errorMessage(error)}`);
      }
    });
  context.subscriptions.push(
    command('ollamaBatch.runBatch', (uri?: vscode.Uri) => runBatch(ctx, uri)),
    command('ollamaBatch.showDaemonLog', () => showDaemonLog(ctx)),
    command('ollamaBatch.restartDaemon', () => restartDaemon(ctx)),
    command('ollamaBatch.showMetrics', async () => MetricsPanel.show(context.extensionUri, watch)),
  );
}

/** The file from a menu, else the active .jsonl editor, else one the user picks. */
async function batchFile(uri: vscode.Uri | undefined): Promise<vscode.Uri | undefined> {
  if (uri) return uri;
  const active = vscode.window.activeTextEditor?.document.uri;
  if (active?.scheme === 'file' && active.path.endsWith('.jsonl')) return active;
  const picked = await vscode.window.showOpenDialog({
    canSelectMany: false,
    filters: { 'Batch files (JSONL)': ['jsonl'] },
    openLabel: 'Run Batch',
    title: 'Ollama Batch: Run Batch File',
  });
  return picked?.[0];
}

async function runBatch(ctx: Ctx, uri: vscode.Uri | undefined): Promise<void> {
  const file = await batchFile(uri);
  if (!file) return;
  if (file.scheme !== 'file') throw new Error(`only local files can run, not ${file.toString()}`);
  // Run what the editor shows, not an older copy on disk.
  const open = vscode.workspace.textDocuments.find((document) => document.uri.toString() === file.toString());
  if (open?.isDirty && !(await open.save())) return;
  const client = await ctx.requireClient();
  if (!client) return;
  const name = basename(file.fsPath);
  const batch = await vscode.window.withProgress(
    { location: vscode.ProgressLocation.Notification, title: `Ollama Batch: ${name}`, cancellable: true },
    async (progress, token) => {
      progress.report({ message: 'copying the file to the daemon…' });
      const input = await client.sendRequest(FileRegisterRequest.type, { path: file.fsPath, purpose: 'batch' });
      if (token.isCancellationRequested) return undefined;
      const created = await client.sendRequest(BatchCreateRequest.type, { input_file_id: input.id, completion_window: '7d' });
      ctx.log.info(`${created.id} created from ${file.fsPath}`);
      const cancelBatch = (): void => {
        void ctx
          .requireClient()
          .then((connected) => connected?.sendRequest(BatchCancelRequest.type, { id: created.id }))
          .catch((error: unknown) => ctx.log.error(`batch/cancel ${created.id} failed`, error));
      };
      const cancel = token.onCancellationRequested(cancelBatch);
      if (token.isCancellationRequested) cancelBatch();
      let reported = 0;
      try {
        return await followUntilOver(ctx, created, (batch) => {
          const percent = batch.request_counts.total > 0 ? (100 * doneCount(batch)) / batch.request_counts.total : 0;
          progress.report({ message: progressMessage(batch), increment: percent - reported });
          reported = percent;
        });
      } finally {
        cancel.dispose();
      }
    },
  );
  if (batch) await announce(ctx, batch, name);
}

function progressMessage(batch: Batch): string {
  if (batch.status !== 'in_progress') return isTerminal(batch) ? batch.status : `${batch.status}…`;
  const counts = `${formatCount(doneCount(batch))} / ${formatCount(batch.request_counts.total)}`;
  return batch.paused_reason ? `${counts}, paused: ${batch.paused_reason}` : counts;
}

/** Resolves with the batch in its terminal status, reporting every change on the way. */
function followUntilOver(ctx: Ctx, created: Batch, onChange: (batch: Batch) => void): Promise<Batch> {
  return new Promise((resolve) => {
    const apply = (batch: Batch): void => {
      if (batch.id !== created.id) return;
      onChange(batch);
      if (!isTerminal(batch)) return;
      subscriptions.dispose();
      resolve(batch);
    };
    // Re-read on every (re)connect: changes announced while unconnected were missed.
    const reread = (): void => {
      ctx.client?.sendRequest(BatchGetRequest.type, { id: created.id }).then(apply, (error: unknown) => ctx.log.error(`batch/get ${created.id} failed`, error));
    };
    const subscriptions = vscode.Disposable.from(ctx.onDidChangeBatch(apply), ctx.onDidConnect(reread));
    apply(created);
    reread();
  });
}

async function announce(ctx: Ctx, batch: Batch, name: string): Promise<void> {
  const { total, completed, failed } = batch.request_counts;
  const actions = [...(batch.output_file_id && completed > 0 ? ['Open Output'] : []), ...(batch.error_file_id && failed > 0 ? ['Open Errors'] : [])];
  const counts = `${formatCount(completed)} of ${formatCount(total)} succeeded, ${formatCount(failed)} failed`;
  let choice: string | undefined;
  if (batch.status === 'completed') {
    choice = await vscode.window.showInformationMessage(`Ollama Batch: ${name} completed: ${counts}.`, ...actions);
  } else if (batch.status === 'failed') {
    const errors = batch.errors?.data ?? [];
    const first = errors[0];
    const why = first ? `${first.message}${errors.length > 1 ? ` (and ${errors.length - 1} more)` : ''}` : counts;
    choice = await vscode.window.showErrorMessage(`Ollama Batch: ${name} failed: ${why}`, ...actions);
  } else {
    choice = await vscode.window.showWarningMessage(`Ollama Batch: ${name} ${batch.status}: ${counts}.`, ...actions);
  }
  const fileId = choice === 'Open Output' ? batch.output_file_id : choice === 'Open Errors' ? batch.error_file_id : null;
  if (!fileId) return;
  const client = await ctx.requireClient();
  if (!client) return;
  const { path } = await client.sendRequest(FileGetRequest.type, { id: fileId });
  // vscode.open lets VS Code handle very large result files its own way.
  await vscode.commands.executeCommand('vscode.open', vscode.Uri.file(path));
}

/** The daemon's own log (its stderr, appended to daemon.log when started detached), scrolled to the end. */
async function showDaemonLog(ctx: Ctx): Promise<void> {
  const path = daemonLogPath(ctx.dataDir);
  if (!existsSync(path)) {
    ctx.log.show();
    void vscode.window.showInformationMessage(`Ollama Batch: no daemon log at ${path} yet; showing the extension's log.`);
    return;
  }
  const editor = await vscode.window.showTextDocument(vscode.Uri.file(path), { preview: true });
  const end = editor.document.lineAt(editor.document.lineCount - 1).range.end;
  editor.selection = new vscode.Selection(end, end);
  editor.revealRange(new vscode.Range(end, end));
}

async function restartDaemon(ctx: Ctx): Promise<void> {
  await ctx.restartDaemon();
  if (ctx.client) void vscode.window.showInformationMessage('Ollama Batch: daemon restarted.');
  else await ctx.requireClient();
}
