// "Analyze Results" (results/analyze into the results panel) and "Export Scored CSV" (the answers
// joined to their source CSV, written where the user says).
import { existsSync } from 'node:fs';
import { basename, dirname, extname, join } from 'node:path';
import * as vscode from 'vscode';
import { CASCADE_METADATA } from '../server/protocol/cascade.js';
import type { Batch } from '../server/protocol/openai.js';
import { ResultsAnalyzeRequest } from '../server/protocol/methods.js';
import type { Ctx } from './ctx.js';
import { STAY_OPEN } from './pick.js';
import { analyze } from './results-analysis.js';
import { formatCount } from './webview/numbers.js';

/** The CSV a batch was converted from: a cascade's passes name it (both are joined on it);
 *  Convert writes `people.jsonl` next to `people.csv`. */
function guessSourceCsv(batch: Batch): string | null {
  const cascadeSource = batch.metadata?.[CASCADE_METADATA.pass] ? batch.metadata.source : undefined;
  if (cascadeSource && existsSync(cascadeSource)) return cascadeSource;
  const input = batch.metadata?.input_path;
  if (!input) return null;
  const csv = join(dirname(input), `${basename(input, extname(input))}.csv`);
  return existsSync(csv) ? csv : null;
}

/** The source CSV: the guessed one, else one the user picks; null for "answers only". */
async function pickSourceCsv(batch: Batch, allowNone: boolean): Promise<string | null | undefined> {
  const guessed = guessSourceCsv(batch);
  if (guessed) return guessed;
  const choose = { label: '$(folder-opened) Choose the source CSV…', description: 'join the answers to its rows' };
  const none = { label: 'Answers only', description: 'no table of every row' };
  const choice = await vscode.window.showQuickPick(allowNone ? [choose, none] : [choose], {
    ...STAY_OPEN,
    title: `Ollama Batch: the CSV ${batch.id} was made from`,
  });
  if (!choice) return undefined;
  if (choice === none) return null;
  const picked = await vscode.window.showOpenDialog({
    canSelectMany: false,
    filters: { 'CSV files': ['csv', 'tsv', 'txt'] },
    title: 'Ollama Batch: source CSV',
  });
  return picked?.[0]?.fsPath;
}

export async function analyzeResults(ctx: Ctx, extension: vscode.ExtensionContext, batch: Batch): Promise<void> {
  const source = await pickSourceCsv(batch, true);
  if (source === undefined) return;
  const analysis = await analyze(ctx, extension, batch, source);
  if (!analysis) return;
  // The panel (and its CSV reader) loads only now, on first use.
  const { ResultsPanel } = await import('./results-panel.js');
  await ResultsPanel.show(extension, ctx, analysis);
}

export async function exportScoredCsv(ctx: Ctx, batch: Batch): Promise<void> {
  const source = await pickSourceCsv(batch, false);
  if (!source) return;
  const target = await vscode.window.showSaveDialog({
    defaultUri: vscode.Uri.file(join(dirname(source), `${basename(source, extname(source))}.scored.csv`)),
    filters: { 'CSV files': ['csv'] },
    title: 'Ollama Batch: Export Scored CSV',
  });
  if (!target) return;
  const client = await ctx.requireClient();
  if (!client) return;
  const report = await vscode.window.withProgress(
    { location: vscode.ProgressLocation.Notification, title: `Ollama Batch: writing ${basename(target.fsPath)}…` },
    () => client.sendRequest(ResultsAnalyzeRequest.type, { batch_id: batch.id, source, csv: target.fsPath }),
  );
  const rows = report.csv
    ? `${formatCount(report.csv.rows)} rows${report.csv.missing > 0 ? `, ${formatCount(report.csv.missing)} without an answer` : ''}`
    : 'the rows';
  // A cascade's passes come joined: explanations where pass 2 ran.
  const cascade = report.cascade
    ? ` Both passes of the cascade: shortlisted ${formatCount(report.cascade.shortlisted)}, explained ${formatCount(report.cascade.explained)}.`
    : '';
  const choice = await vscode.window.showInformationMessage(
    `Ollama Batch: wrote ${rows} to ${basename(target.fsPath)}, sorted by ${report.csv?.sort_by ?? 'the CSV order'}.${cascade}`,
    'Open',
  );
  if (choice) await vscode.commands.executeCommand('vscode.open', target);
}
