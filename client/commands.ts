// The commands, registered once for the window's life. Each asks the Ctx for a connected client
// and gets a "daemon not running" answer when there is none; errors end in one message and the log.
import * as vscode from 'vscode';
import { waitsForResume, type Batch } from '../server/protocol/openai.js';
import {
  cancelBatch,
  clearFinishedBatches,
  deleteBatch,
  openFileById,
  resumeBatch,
  retryBatch,
  revealInputFile,
  runBatch,
  showProgress,
  validateBatchFile,
} from './batch-commands.js';
import type { BatchWatch } from './batch-watch.js';
import type { BatchesTree } from './batches-tree.js';
import { convertCsv } from './convert-csv.js';
import { runCascade } from './cascade-csv.js';
import type { Ctx } from './ctx.js';
import {
  checkEngine,
  chooseModelFile,
  restartDaemon,
  showDaemonLog,
  startDaemon,
  stopDaemon,
} from './daemon-commands.js';
import { installEmbeddedEngine } from './install-engine-command.js';
import { errorMessage } from './log.js';
import { isTerminal } from './model/format.js';
import { pickBatch } from './pick.js';
import { registerRequestPreview } from './request-preview.js';
import { analyzeResults, exportScoredCsv } from './results-commands.js';

export function registerCommands(
  context: vscode.ExtensionContext,
  ctx: Ctx,
  watch: BatchWatch,
  tree: BatchesTree,
): void {
  const command = (id: string, run: (argument?: unknown) => Promise<void>): vscode.Disposable =>
    vscode.commands.registerCommand(id, async (argument?: unknown) => {
      try {
        await run(argument);
      } catch (error) {
        ctx.log.error(id, error);
        void vscode.window.showErrorMessage(`Ollama Batch: ${errorMessage(error)}`);
      }
    });
  /** A command about one batch: the tree passes its id; from the palette the user picks one that `fits`. */
  const batchCommand = (
    id: string,
    fits: (batch: Batch) => boolean,
    placeHolder: string,
    run: (batch: Batch) => Promise<void>,
  ): vscode.Disposable =>
    command(id, async (argument) => {
      const batch = await pickBatch(ctx, tree, argument, fits, placeHolder);
      if (batch) await run(batch);
    });
  const hasOutput = (batch: Batch): boolean => batch.output_file_id !== null;

  context.subscriptions.push(
    registerRequestPreview(),
    command('ollamaBatch.convertCsv', (argument) => convertCsv(ctx, argument)),
    command('ollamaBatch.runCascade', (argument) => runCascade(ctx, argument)),
    command('ollamaBatch.validateBatchFile', (argument) => validateBatchFile(ctx, argument)),
    command('ollamaBatch.runBatch', (argument) => runBatch(ctx, argument)),
    batchCommand(
      'ollamaBatch.cancelBatch',
      (batch) => !isTerminal(batch) && batch.status !== 'cancelling',
      'Cancel which batch?',
      (batch) => cancelBatch(ctx, batch),
    ),
    batchCommand('ollamaBatch.deleteBatch', isTerminal, 'Delete which finished batch?', (batch) =>
      deleteBatch(ctx, tree, batch),
    ),
    command('ollamaBatch.clearFinishedBatches', () => clearFinishedBatches(ctx, tree)),
    batchCommand(
      'ollamaBatch.showProgress',
      (batch) => !isTerminal(batch),
      'Show the progress of which batch?',
      (batch) => showProgress(ctx, batch),
    ),
    batchCommand('ollamaBatch.resumeBatch', waitsForResume, 'Resume which paused batch?', (batch) =>
      resumeBatch(ctx, batch),
    ),
    batchCommand(
      'ollamaBatch.retryBatch',
      (batch) => isTerminal(batch) && batch.request_counts.failed > 0,
      'Retry the failed lines of which batch?',
      (batch) => retryBatch(ctx, batch),
    ),
    batchCommand('ollamaBatch.openOutput', hasOutput, 'Open the output of which batch?', (batch) =>
      openFileById(ctx, batch.output_file_id),
    ),
    batchCommand(
      'ollamaBatch.openErrors',
      (batch) => batch.error_file_id !== null,
      'Open the errors of which batch?',
      (batch) => openFileById(ctx, batch.error_file_id),
    ),
    batchCommand('ollamaBatch.analyzeResults', hasOutput, 'Analyze the results of which batch?', (batch) =>
      analyzeResults(ctx, context, batch),
    ),
    batchCommand('ollamaBatch.exportScoredCsv', hasOutput, 'Export the scored CSV of which batch?', (batch) =>
      exportScoredCsv(ctx, batch),
    ),
    batchCommand(
      'ollamaBatch.revealInputFile',
      (batch) => Boolean(batch.metadata?.input_path),
      'Reveal the input of which batch?',
      revealInputFile,
    ),
    command('ollamaBatch.showMetrics', async (argument) => {
      // The followed batch when none is named; a pick only when nothing runs or ran.
      const batch = await pickBatch(
        ctx,
        tree,
        argument ?? watch.current?.id,
        () => true,
        'Show the metrics of which batch?',
      );
      if (!batch) return;
      const { MetricsPanel } = await import('./metrics-panel.js');
      MetricsPanel.show(context.extensionUri, ctx, batch.id);
    }),
    command('ollamaBatch.openBatchFile', async (argument) =>
      openFileById(ctx, typeof argument === 'string' ? argument : null),
    ),
    command('ollamaBatch.refreshBatches', () => tree.refresh()),
    command('ollamaBatch.showDaemonLog', () => showDaemonLog(ctx)),
    command('ollamaBatch.startDaemon', () => startDaemon(ctx)),
    command('ollamaBatch.stopDaemon', () => stopDaemon(ctx)),
    command('ollamaBatch.restartDaemon', () => restartDaemon(ctx)),
    command('ollamaBatch.checkEngine', () => checkEngine(ctx)),
    command('ollamaBatch.chooseModelFile', chooseModelFile),
    command('ollamaBatch.installEmbeddedEngine', () => installEmbeddedEngine(context, ctx)),
  );
}
