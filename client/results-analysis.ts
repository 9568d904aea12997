// A batch's results/analyze request, as "Analyze Results" makes it and as the results panel makes
// it again when VS Code restores the panel after a reload (the report is not stored).
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import * as vscode from 'vscode';
import type { AnalysisReport } from '../server/protocol/jobs.js';
import { ResultsAnalyzeRequest } from '../server/protocol/methods.js';
import type { Batch } from '../server/protocol/openai.js';
import type { Ctx } from './ctx.js';

/** What the panel shows: a batch's analysis, joined to its source CSV or not (null). */
export interface Analysis {
  batch: Batch;
  report: AnalysisReport;
  source: string | null;
}

/** A batch's report, joined to `source` when there is one; undefined when the daemon is not running. */
export async function analyze(
  ctx: Ctx,
  extension: vscode.ExtensionContext,
  batch: Batch,
  source: string | null,
): Promise<Analysis | undefined> {
  const client = await ctx.requireClient();
  if (!client) return undefined;
  // The joined CSV the table pages through is the extension's own: it goes to its storage.
  const storage = extension.globalStorageUri.fsPath;
  await mkdir(storage, { recursive: true });
  const report = await vscode.window.withProgress(
    { location: vscode.ProgressLocation.Notification, title: `Ollama Batch: analysing ${batch.id}…` },
    () =>
      client.sendRequest(ResultsAnalyzeRequest.type, {
        batch_id: batch.id,
        // Cells as they are: the panel shows them (an export neutralises them for spreadsheets).
        ...(source && { source, csv: join(storage, `${batch.id}.scored.csv`), neutralise: false }),
      }),
  );
  return { batch, report, source };
}
