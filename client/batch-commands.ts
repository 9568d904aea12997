// Validate, Run, Cancel, Retry and the batch's files: the commands about one batch file or batch.
import { basename } from 'node:path';
import * as vscode from 'vscode';
import { DIAGNOSTIC_SOURCE } from '../server/protocol/jobs.js';
import { waitsForResume, type Batch } from '../server/protocol/openai.js';
import {
  BatchCancelRequest,
  BatchCreateRequest,
  BatchDeleteRequest,
  BatchGetRequest,
  BatchResumeRequest,
  BatchRetryRequest,
  FileGetRequest,
  FileRegisterRequest,
  FileValidateRequest,
} from '../server/protocol/methods.js';
import type { Ctx } from './ctx.js';
import { batchMetadata } from './model/daemon-settings.js';
import { statusText, tookText } from '../server/display/batch-status.js';
import type { BatchesTree } from './batches-tree.js';
import { batchLabel, doneCount, isTerminal, paceOf, progressLine, type Pace } from './model/format.js';
import { pickFile } from './pick.js';
import { explicitSettings } from './settings.js';
import { formatCount } from './webview/numbers.js';

const JSONL_DIALOG = { filter: 'Batch files (JSONL)', openLabel: 'Choose', title: 'Choose a batch file' };

/** The batch file from the argument, the editor or a dialog, saved if the editor has changes. */
async function batchFile(argument: unknown): Promise<vscode.Uri | undefined> {
  const file = await pickFile(argument, 'jsonl', JSONL_DIALOG);
  if (!file) return undefined;
  if (file.scheme !== 'file') throw new Error(`only local files can run, not ${file.toString()}`);
  // Use what the editor shows, not an older copy on disk.
  const open = vscode.workspace.textDocuments.find((document) => document.uri.toString() === file.toString());
  if (open?.isDirty && !(await open.save())) return undefined;
  return file;
}

export async function validateBatchFile(ctx: Ctx, argument: unknown): Promise<void> {
  const file = await batchFile(argument);
  if (!file) return;
  const client = await ctx.requireClient();
  if (!client) return;
  const name = basename(file.fsPath);
  const report = await vscode.window.withProgress(
    { location: vscode.ProgressLocation.Window, title: `Validating ${name}` },
    () => client.sendRequest(FileValidateRequest.type, { path: file.fsPath }),
  );
  const summary = `${formatCount(report.requests)} requests${report.model ? ` for ${report.model}` : ''}`;
  if (report.errorCount === 0) {
    const choice = await vscode.window.showInformationMessage(
      `Ollama Batch: ${name} is valid: ${summary}.`,
      'Run Batch',
    );
    if (choice) await vscode.commands.executeCommand('ollamaBatch.runBatch', file);
    return;
  }
  const first = report.errors[0]?.message;
  const choice = await vscode.window.showWarningMessage(
    `Ollama Batch: ${name} has ${formatCount(report.errorCount)} problem${report.errorCount === 1 ? '' : 's'} (${summary})${first ? `, the first: ${first}` : ''}.`,
    SHOW_PROBLEMS,
  );
  if (choice) await showProblems(file);
}

const SHOW_PROBLEMS = 'Show Problems';
const RUN_ANYWAY = 'Run Anyway';

/** The file in the editor (its diagnostics come with it) and the Problems panel. */
async function showProblems(file: vscode.Uri): Promise<void> {
  await vscode.window.showTextDocument(file, { preview: false });
  await vscode.commands.executeCommand('workbench.actions.view.problems');
}

/** The errors the language server found in the file (as open in an editor): a run would fail on them. */
function knownErrors(file: vscode.Uri): vscode.Diagnostic[] {
  return vscode.languages
    .getDiagnostics(file)
    .filter(
      (diagnostic) =>
        diagnostic.source === DIAGNOSTIC_SOURCE && diagnostic.severity === vscode.DiagnosticSeverity.Error,
    );
}

/** Whether to run a file with known errors: Show Problems comes first; a run needs a second choice. */
async function runDespiteErrors(file: vscode.Uri, errors: vscode.Diagnostic[]): Promise<boolean> {
  const first = errors[0]!;
  const choice = await vscode.window.showWarningMessage(
    `Ollama Batch: ${basename(file.fsPath)} has ${plural(errors.length, 'problem')} (line ${first.range.start.line + 1} first): a run would fail.`,
    SHOW_PROBLEMS,
    RUN_ANYWAY,
  );
  if (choice === SHOW_PROBLEMS) await showProblems(file);
  return choice === RUN_ANYWAY;
}

const plural = (count: number, noun: string): string => `${formatCount(count)} ${noun}${count === 1 ? '' : 's'}`;

/**
 * Submits the file and follows the batch to its end. Its progress shows in the status bar and on
 * the Batches view, not in a notification that would cover the editor for hours ("Show Progress"
 * opens one on request); the end is announced with its outcome and duration.
 */
export async function runBatch(ctx: Ctx, argument: unknown): Promise<void> {
  const file = await batchFile(argument);
  if (!file) return;
  const errors = knownErrors(file);
  if (errors.length > 0 && !(await runDespiteErrors(file, errors))) return;
  const client = await ctx.requireClient();
  if (!client) return;
  const name = basename(file.fsPath);
  const created = await vscode.window.withProgress(
    { location: vscode.ProgressLocation.Window, title: `Submitting ${name}` },
    async () => {
      const input = await client.sendRequest(FileRegisterRequest.type, { path: file.fsPath, purpose: 'batch' });
      // num_ctx and trim strategy as set for this file's folder.
      const metadata = batchMetadata(explicitSettings(file), file.fsPath);
      return client.sendRequest(BatchCreateRequest.type, {
        input_file_id: input.id,
        completion_window: '7d',
        metadata,
      });
    },
  );
  ctx.log.info(`${created.id} created from ${file.fsPath}`);
  await announce(ctx, await followUntilOver(ctx, created, () => undefined), file);
}

/** "Show Progress": a notification that follows the batch to its end, for whoever asks for one; closing it leaves the batch running. */
export async function showProgress(ctx: Ctx, batch: Batch): Promise<void> {
  const name = batchLabel(batch);
  await vscode.window.withProgress(
    { location: vscode.ProgressLocation.Notification, title: `Ollama Batch: ${name}`, cancellable: true },
    (progress, token) => {
      let reported = 0;
      const over = followUntilOver(ctx, batch, (followed, pace) => {
        const percent =
          followed.request_counts.total > 0 ? (100 * doneCount(followed)) / followed.request_counts.total : 0;
        progress.report({ message: progressLine(followed, pace), increment: percent - reported });
        reported = percent;
      });
      // The notification's Cancel button only closes it: cancelling a batch has its own command.
      return Promise.race([over, new Promise<void>((resolve) => token.onCancellationRequested(() => resolve()))]);
    },
  );
}

/** Resolves with the batch in its terminal status (or paused for a resume), reporting every change and pace on the way. */
function followUntilOver(
  ctx: Ctx,
  created: Batch,
  onChange: (batch: Batch, pace: Pace | undefined) => void,
): Promise<Batch> {
  return new Promise((resolve) => {
    let latest = created;
    let pace: Pace | undefined;
    const apply = (batch: Batch): void => {
      if (batch.id !== created.id) return;
      latest = batch;
      onChange(batch, pace);
      if (!isTerminal(batch) && !waitsForResume(batch)) return;
      subscriptions.dispose();
      resolve(batch);
    };
    // Re-read on every (re)connect: changes announced while unconnected were missed.
    const reread = (): void => {
      ctx.client
        ?.sendRequest(BatchGetRequest.type, { id: created.id })
        .then(apply, (error: unknown) => ctx.log.error(`batch/get ${created.id} failed`, error));
    };
    const subscriptions = vscode.Disposable.from(
      ctx.onDidChangeBatch(apply),
      ctx.onDidConnect(reread),
      ctx.onDidReceiveMetrics(({ id, snapshot }) => {
        if (id !== created.id) return;
        pace = paceOf(snapshot);
        onChange(latest, pace);
      }),
    );
    apply(created);
    reread();
  });
}

async function announce(ctx: Ctx, batch: Batch, file: vscode.Uri): Promise<void> {
  const name = batchLabel(batch);
  const { total, completed, failed } = batch.request_counts;
  const took = tookText(batch);
  const actions = [
    ...(batch.output_file_id && completed > 0 ? ['Open Output', 'Analyze Results'] : []),
    ...(batch.error_file_id && failed > 0 ? ['Open Errors'] : []),
  ];
  const counts = `${formatCount(completed)} of ${formatCount(total)} succeeded, ${formatCount(failed)} failed${took ? `, ${took}` : ''}`;
  let choice: string | undefined;
  if (waitsForResume(batch)) {
    choice = await vscode.window.showWarningMessage(
      `Ollama Batch: ${name} is paused: ${batch.paused_reason}`,
      'Resume Batch',
      'Cancel Batch',
      ...actions,
    );
    if (choice === 'Resume Batch') await resumeBatch(ctx, batch);
    if (choice === 'Cancel Batch') await cancelBatch(ctx, batch);
  } else if (batch.status === 'completed') {
    choice = await vscode.window.showInformationMessage(`Ollama Batch: ${name} completed: ${counts}.`, ...actions);
  } else if (batch.status === 'failed') {
    const errors = batch.errors?.data ?? [];
    // A short toast (a long one is cut off); every problem in the log and, from the editor, in Problems.
    for (const error of errors) ctx.log.warn(`${batch.id} (${name}): ${error.message}`);
    const first = errors[0];
    const why = first
      ? `${plural(errors.length, 'problem')}${first.line ? ` (line ${first.line} first)` : ''}`
      : counts;
    const problems = errors.length > 0 ? [SHOW_PROBLEMS] : [];
    choice = await vscode.window.showErrorMessage(
      `Ollama Batch: ${name} failed: ${why}.${took ? ` It ${took}.` : ''}`,
      ...problems,
      ...actions,
    );
    if (choice === SHOW_PROBLEMS) await showProblems(file);
  } else {
    choice = await vscode.window.showWarningMessage(
      `Ollama Batch: ${name} ${statusText(batch)}: ${counts}.`,
      ...actions,
    );
  }
  if (choice === 'Open Output') await openFileById(ctx, batch.output_file_id);
  if (choice === 'Open Errors') await openFileById(ctx, batch.error_file_id);
  if (choice === 'Analyze Results') await vscode.commands.executeCommand('ollamaBatch.analyzeResults', batch.id);
}

export async function cancelBatch(ctx: Ctx, batch: Batch): Promise<void> {
  const choice = await vscode.window.showWarningMessage(
    `Cancel ${batchLabel(batch)}? Finished lines are kept; the rest are not run.`,
    { modal: true, detail: batch.id },
    'Cancel Batch',
  );
  if (!choice) return;
  const client = await ctx.requireClient();
  if (!client) return;
  const cancelled = await client.sendRequest(BatchCancelRequest.type, { id: batch.id });
  void vscode.window.showInformationMessage(`Ollama Batch: ${batchLabel(cancelled)} is ${statusText(cancelled)}.`);
}

/** Resumes a batch the pilot check paused: the user overrides the check (nothing is lost either way: no confirmation). */
export async function resumeBatch(ctx: Ctx, batch: Batch): Promise<void> {
  const client = await ctx.requireClient();
  if (!client) return;
  const resumed = await client.sendRequest(BatchResumeRequest.type, { id: batch.id });
  void vscode.window.showInformationMessage(
    `Ollama Batch: ${batchLabel(resumed)} goes on to its end without the pilot check; invalid answers are marked invalid in its analysis.`,
  );
}

export async function retryBatch(ctx: Ctx, batch: Batch): Promise<void> {
  const client = await ctx.requireClient();
  if (!client) return;
  const retry = await client.sendRequest(BatchRetryRequest.type, { id: batch.id });
  const choice = await vscode.window.showInformationMessage(
    `Ollama Batch: retrying the ${formatCount(batch.request_counts.failed)} failed lines of ${batchLabel(batch)}.`,
    'Show Metrics',
  );
  if (choice) await vscode.commands.executeCommand('ollamaBatch.showMetrics', retry.id);
}

/** Deletes an ended batch, with its files that no other batch uses, once the user confirms. */
export async function deleteBatch(ctx: Ctx, tree: BatchesTree, batch: Batch): Promise<void> {
  const choice = await vscode.window.showWarningMessage(
    `Delete ${batchLabel(batch)}? Its output, errors and metrics are deleted with it; the file you ran stays.`,
    { modal: true, detail: batch.id },
    'Delete',
  );
  if (!choice) return;
  const client = await ctx.requireClient();
  if (!client) return;
  await client.sendRequest(BatchDeleteRequest.type, { id: batch.id });
  tree.remove([batch.id]);
}

/** Deletes every batch that has ended, once the user confirms how many. */
export async function clearFinishedBatches(ctx: Ctx, tree: BatchesTree): Promise<void> {
  const client = await ctx.requireClient();
  if (!client) return;
  await tree.refresh();
  const finished = tree.batches.ids().filter((id) => isTerminal(tree.batches.get(id)!));
  if (finished.length === 0) {
    void vscode.window.showInformationMessage('Ollama Batch: no finished batch to clear.');
    return;
  }
  const choice = await vscode.window.showWarningMessage(
    `Delete ${formatCount(finished.length)} finished batch${finished.length === 1 ? '' : 'es'}? Their outputs, errors and metrics are deleted with them; running and queued batches stay.`,
    { modal: true },
    'Delete',
  );
  if (!choice) return;
  const deleted: string[] = [];
  try {
    for (const id of finished) {
      await client.sendRequest(BatchDeleteRequest.type, { id });
      deleted.push(id);
    }
  } finally {
    tree.remove(deleted);
  }
}

/** Opens one of the daemon's files (it keeps them readable for local clients). */
export async function openFileById(ctx: Ctx, fileId: string | null): Promise<void> {
  if (!fileId) return;
  const client = await ctx.requireClient();
  if (!client) return;
  const { path } = await client.sendRequest(FileGetRequest.type, { id: fileId });
  // vscode.open lets VS Code handle very large result files its own way.
  await vscode.commands.executeCommand('vscode.open', vscode.Uri.file(path));
}

/** Shows the file the batch was run from: in the Explorer when it is in the workspace, else in the OS. */
export async function revealInputFile(batch: Batch): Promise<void> {
  const path = batch.metadata?.input_path;
  if (!path)
    throw new Error(
      `${batch.id} was not run from this editor, so its input file is not known; its copy is under Input`,
    );
  const uri = vscode.Uri.file(path);
  await vscode.commands.executeCommand(
    vscode.workspace.getWorkspaceFolder(uri) ? 'revealInExplorer' : 'revealFileInOS',
    uri,
  );
}
