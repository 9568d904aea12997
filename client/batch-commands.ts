// Validate, Run, Cancel, Retry and the batch's files: the commands about one batch file or batch.
import { basename } from 'node:path';
import * as vscode from 'vscode';
import { DIAGNOSTIC_SOURCE } from '../server/protocol/jobs.js';
import { waitsForResume, type Batch } from '../server/protocol/openai.js';
import {
  BatchCancelRequest,
  BatchCreateRequest,
  BatchGetRequest,
  BatchResumeRequest,
  BatchRetryRequest,
  FileGetRequest,
  FileRegisterRequest,
  FileValidateRequest,
} from '../server/protocol/methods.js';
import type { Ctx } from './ctx.js';
import { batchMetadata } from './model/daemon-settings.js';
import { doneCount, isTerminal, paceOf, progressLine, type Pace } from './model/format.js';
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

export async function runBatch(ctx: Ctx, argument: unknown): Promise<void> {
  const file = await batchFile(argument);
  if (!file) return;
  const errors = knownErrors(file);
  if (errors.length > 0 && !(await runDespiteErrors(file, errors))) return;
  const client = await ctx.requireClient();
  if (!client) return;
  const name = basename(file.fsPath);
  const batch = await vscode.window.withProgress(
    { location: vscode.ProgressLocation.Notification, title: `Ollama Batch: ${name}`, cancellable: true },
    async (progress, token) => {
      progress.report({ message: 'copying the file to the daemon…' });
      const input = await client.sendRequest(FileRegisterRequest.type, { path: file.fsPath, purpose: 'batch' });
      if (token.isCancellationRequested) return undefined;
      // num_ctx and trim strategy as set for this file's folder.
      const metadata = batchMetadata(explicitSettings(file), file.fsPath);
      const created = await client.sendRequest(BatchCreateRequest.type, {
        input_file_id: input.id,
        completion_window: '7d',
        metadata,
      });
      ctx.log.info(`${created.id} created from ${file.fsPath}`);
      const cancel = token.onCancellationRequested(() => void cancelById(ctx, created.id));
      if (token.isCancellationRequested) void cancelById(ctx, created.id);
      let reported = 0;
      try {
        return await followUntilOver(ctx, created, (followed, pace) => {
          const percent =
            followed.request_counts.total > 0 ? (100 * doneCount(followed)) / followed.request_counts.total : 0;
          progress.report({ message: progressLine(followed, pace), increment: percent - reported });
          reported = percent;
        });
      } finally {
        cancel.dispose();
      }
    },
  );
  if (batch) await announce(ctx, batch, name, file);
}

async function cancelById(ctx: Ctx, id: string): Promise<void> {
  try {
    const client = await ctx.requireClient();
    await client?.sendRequest(BatchCancelRequest.type, { id });
  } catch (error) {
    ctx.log.error(`batch/cancel ${id} failed`, error);
  }
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

async function announce(ctx: Ctx, batch: Batch, name: string, file: vscode.Uri): Promise<void> {
  const { total, completed, failed } = batch.request_counts;
  const actions = [
    ...(batch.output_file_id && completed > 0 ? ['Open Output', 'Analyze Results'] : []),
    ...(batch.error_file_id && failed > 0 ? ['Open Errors'] : []),
  ];
  const counts = `${formatCount(completed)} of ${formatCount(total)} succeeded, ${formatCount(failed)} failed`;
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
    choice = await vscode.window.showErrorMessage(`Ollama Batch: ${name} failed: ${why}.`, ...problems, ...actions);
    if (choice === SHOW_PROBLEMS) await showProblems(file);
  } else {
    choice = await vscode.window.showWarningMessage(`Ollama Batch: ${name} ${batch.status}: ${counts}.`, ...actions);
  }
  if (choice === 'Open Output') await openFileById(ctx, batch.output_file_id);
  if (choice === 'Open Errors') await openFileById(ctx, batch.error_file_id);
  if (choice === 'Analyze Results') await vscode.commands.executeCommand('ollamaBatch.analyzeResults', batch.id);
}

export async function cancelBatch(ctx: Ctx, batch: Batch): Promise<void> {
  const choice = await vscode.window.showWarningMessage(
    `Cancel ${batch.id}? Finished lines are kept; the rest are not run.`,
    { modal: true },
    'Cancel Batch',
  );
  if (!choice) return;
  const client = await ctx.requireClient();
  if (!client) return;
  const cancelled = await client.sendRequest(BatchCancelRequest.type, { id: batch.id });
  void vscode.window.showInformationMessage(`Ollama Batch: ${cancelled.id} is ${cancelled.status}.`);
}

/** Resumes a batch the pilot check paused: the user overrides the check (nothing is lost either way: no confirmation). */
export async function resumeBatch(ctx: Ctx, batch: Batch): Promise<void> {
  const client = await ctx.requireClient();
  if (!client) return;
  const resumed = await client.sendRequest(BatchResumeRequest.type, { id: batch.id });
  void vscode.window.showInformationMessage(
    `Ollama Batch: ${resumed.id} goes on to its end without the pilot check; invalid answers are marked invalid in its analysis.`,
  );
}

export async function retryBatch(ctx: Ctx, batch: Batch): Promise<void> {
  const client = await ctx.requireClient();
  if (!client) return;
  const retry = await client.sendRequest(BatchRetryRequest.type, { id: batch.id });
  const choice = await vscode.window.showInformationMessage(
    `Ollama Batch: ${retry.id} retries the ${formatCount(batch.request_counts.failed)} failed lines of ${batch.id}.`,
    'Show Metrics',
  );
  if (choice) await vscode.commands.executeCommand('ollamaBatch.showMetrics', retry.id);
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
