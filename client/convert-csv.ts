// "Convert CSV to Batch…": a guided csv/convert. The CSV, a rubric (the system prompt), the user
// message (a template file, or columns picked from the header), the id column, the model and a
// schema; then a dry run for the pre-run estimate, and only on "Write" the JSONL next to the CSV.
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { basename, dirname, extname, join } from 'node:path';
import * as vscode from 'vscode';
import type { ConvertParams, ConvertReport } from '../server/protocol/jobs.js';
import { CsvConvertRequest } from '../server/protocol/methods.js';
import type { Ctx } from './ctx.js';
import { readHead } from './model/csv-head.js';
import { pickFile, pickOptionalFile, STAY_OPEN } from './pick.js';
import { setting } from './settings.js';
import { completeWalkthroughStep } from './walkthrough.js';
import { formatCount, formatDuration } from './webview/numbers.js';

/** The daemon's convert default (server/cli/convert-command.ts). */
const TITLE = 'Convert CSV to Batch';

/** The CSV and the conversion the user asks for (shared with the cascade); undefined when they cancel. */
export async function askConvertParams(
  ctx: Ctx,
  argument: unknown,
): Promise<{ csv: vscode.Uri; params: ConvertParams } | undefined> {
  const csv = await pickFile(argument, 'csv', {
    filter: 'CSV files',
    openLabel: 'Convert',
    title: 'Choose the CSV to convert',
  });
  if (!csv) return;
  const { columns } = await readHead(csv.fsPath);
  if (columns.length === 0) throw new Error(`${basename(csv.fsPath)} has no header row`);

  const rubric = await pickOptionalFile('Rubric: the system prompt of every request', 'No rubric', {
    'Text or Markdown': ['md', 'txt'],
    'All files': ['*'],
  });
  if (rubric === undefined) return;
  const template = await pickTemplate(columns);
  if (template === undefined) return;
  const idColumn = await pickIdColumn(columns);
  if (idColumn === undefined) return;
  const model = await pickModel(ctx, csv);
  if (!model) return;
  const schemaFile = await pickOptionalFile('JSON schema every answer must follow', 'No schema', {
    'JSON schema': ['json'],
  });
  if (schemaFile === undefined) return;

  // No setting: the daemon checks the lines against its assumed num_ctx (context/num-ctx.ts).
  const numCtx = setting<number | null>('numCtx', csv);
  const params: ConvertParams = {
    input: csv.fsPath,
    model,
    ...(numCtx !== null && { numCtx }),
    ...(rubric && { systemPrompt: await readFile(rubric.fsPath, 'utf8') }),
    ...(template !== null && { template }),
    ...(idColumn !== null && { idColumn }),
    ...(schemaFile && { schema: await readSchema(schemaFile) }),
  };
  return { csv, params };
}

export async function convertCsv(ctx: Ctx, argument: unknown): Promise<void> {
  const asked = await askConvertParams(ctx, argument);
  if (!asked) return;
  const { csv, params } = asked;
  const client = await ctx.requireClient();
  if (!client) return;
  const name = basename(csv.fsPath);
  const dryRun = await vscode.window.withProgress(
    { location: vscode.ProgressLocation.Notification, title: `Ollama Batch: estimating ${name}…` },
    () => client.sendRequest(CsvConvertRequest.type, params),
  );
  const output = requestsPath(csv);
  const write = `Write ${formatCount(dryRun.lines_written)} Lines`;
  const choice = await vscode.window.showInformationMessage(
    `Write ${formatCount(dryRun.lines_written)} request lines to ${basename(output)}?`,
    { modal: true, detail: estimateLines(dryRun, existsSync(output) ? output : null).join('\n') },
    write,
  );
  if (choice !== write) return;
  const report = await vscode.window.withProgress(
    { location: vscode.ProgressLocation.Notification, title: `Ollama Batch: writing ${basename(output)}…` },
    () => client.sendRequest(CsvConvertRequest.type, { ...params, output }),
  );
  ctx.log.info(
    `converted ${csv.fsPath} to ${output}: ${report.lines_written} lines, ${report.skipped_count} rows skipped`,
  );
  completeWalkthroughStep('converted');
  await vscode.commands.executeCommand('vscode.open', vscode.Uri.file(output));
  const run = await vscode.window.showInformationMessage(
    `Ollama Batch: wrote ${formatCount(report.lines_written)} lines to ${basename(output)}.`,
    'Run Batch',
  );
  if (run) await vscode.commands.executeCommand('ollamaBatch.runBatch', vscode.Uri.file(output));
}

/** Where the request lines of a CSV go: beside it, x.csv gives x.jsonl. */
export const requestsPath = (csv: vscode.Uri): string =>
  join(dirname(csv.fsPath), `${basename(csv.fsPath, extname(csv.fsPath))}.jsonl`);

/** null: every column as `column: value` (the daemon's default). */
async function pickTemplate(columns: string[]): Promise<string | null | undefined> {
  const file = { label: '$(file) Template file…', description: 'user message with {{column}} placeholders' };
  const pick = { label: '$(list-selection) Pick columns…', description: 'as "column: value" lines' };
  const all = { label: '$(list-flat) All columns', description: `${columns.length} columns as "column: value" lines` };
  const choice = await vscode.window.showQuickPick([file, pick, all], {
    ...STAY_OPEN,
    title: `Ollama Batch: ${TITLE}: the user message`,
  });
  if (!choice) return undefined;
  if (choice === all) return null;
  if (choice === file) {
    const picked = await vscode.window.showOpenDialog({
      canSelectMany: false,
      title: 'Ollama Batch: template file',
      filters: { 'Text or Markdown': ['txt', 'md'], 'All files': ['*'] },
    });
    return picked && (await readFile(picked[0]!.fsPath, 'utf8'));
  }
  const picked = await vscode.window.showQuickPick(
    columns.map((column) => ({ label: column, picked: true })),
    { ...STAY_OPEN, canPickMany: true, title: `Ollama Batch: ${TITLE}: columns of the user message` },
  );
  if (!picked || picked.length === 0) return undefined;
  return picked.map(({ label }) => `${label}: {{${label}}}`).join('\n');
}

/** null: custom_ids are row-1, row-2, … */
async function pickIdColumn(columns: string[]): Promise<string | null | undefined> {
  const rows = { label: 'Row numbers', description: 'row-1, row-2, …' };
  const choice = await vscode.window.showQuickPick(
    [rows, ...columns.map((column) => ({ label: column, description: 'unique, non-empty values' }))],
    {
      ...STAY_OPEN,
      title: `Ollama Batch: ${TITLE}: the custom_id of each line`,
      placeHolder: 'A column of unique ids lets the results join back to the CSV by id',
    },
  );
  if (!choice) return undefined;
  return choice === rows ? null : choice.label;
}

/** A model the engine has (the default setting first), or one typed in. */
async function pickModel(ctx: Ctx, resource: vscode.Uri): Promise<string | undefined> {
  const preferred = setting<string>('defaultModel', resource)?.trim();
  const models = ctx.info?.engine.models ?? [];
  const names = [...new Set([...(preferred ? [preferred] : []), ...models])];
  const other = { label: '$(edit) Type a model name…' };
  const choice = await vscode.window.showQuickPick(
    [
      ...names.map((name) => ({
        label: name,
        description: models.includes(name) ? 'on the engine' : 'ollamaBatch.defaultModel',
      })),
      other,
    ],
    {
      ...STAY_OPEN,
      title: `Ollama Batch: ${TITLE}: the model`,
    },
  );
  if (!choice) return undefined;
  if (choice !== other) return choice.label;
  return vscode.window.showInputBox({
    ...STAY_OPEN,
    title: 'Ollama Batch: model name',
    placeHolder: 'gemma3:12b',
    validateInput: (value) => (value.trim() ? null : 'name a model'),
  });
}

async function readSchema(file: vscode.Uri): Promise<Record<string, unknown>> {
  let schema: unknown;
  try {
    schema = JSON.parse(await readFile(file.fsPath, 'utf8'));
  } catch (error) {
    throw new Error(`${basename(file.fsPath)}: not valid JSON (${(error as Error).message})`, { cause: error });
  }
  if (typeof schema !== 'object' || schema === null || Array.isArray(schema))
    throw new Error(`${basename(file.fsPath)}: a JSON schema must be a JSON object`);
  return schema as Record<string, unknown>;
}

/** The dry run's estimate, for the confirmation dialog. */
export function estimateLines(report: ConvertReport, overwrites: string | null): string[] {
  const { estimate } = report;
  const lines = [`${formatCount(report.rows_read)} rows read, ${formatCount(report.skipped_count)} skipped.`];
  if (estimate.prompt_tokens) {
    const tokens = estimate.prompt_tokens;
    lines.push(
      `Prompt tokens: ${formatCount(tokens.total)} in all; per line mean ${formatCount(Math.round(tokens.mean))}, p95 ${formatCount(tokens.p95)}, max ${formatCount(tokens.max)} (shared prefix ${formatCount(estimate.shared_prefix_tokens)}).`,
    );
  }
  lines.push(
    estimate.lines_over_context === 0
      ? `Every line fits num_ctx ${formatCount(estimate.num_ctx)}.`
      : `${formatCount(estimate.lines_over_context)} lines do not fit num_ctx ${formatCount(estimate.num_ctx)}: ${estimate.over_context_ids.join(', ')}${estimate.lines_over_context > estimate.over_context_ids.length ? ', …' : ''}`,
  );
  if (estimate.eta_seconds !== null)
    lines.push(
      `Estimated time: ${formatDuration(estimate.eta_seconds)} at ${estimate.requests_per_second?.toFixed(2)} req/s (the pace learned for this model).`,
    );
  else lines.push('No estimate of the time yet: the daemon learns the model’s pace from its first batch.');
  const { projection } = estimate;
  lines.push(
    projection.thinking === 'off'
      ? `Thinking: off (reasoning_effort ${report.reasoning_effort}), as the schema shapes the answer.`
      : `Thinking: ${projection.thinking === 'model default' ? 'left to the model' : `on (${projection.thinking})`}; at ~${formatCount(projection.thinking_tokens)} thinking tokens per line the batch takes about ${formatDuration(projection.single_pass_seconds)} instead of ${formatDuration(projection.single_pass_seconds_without_thinking)}.`,
  );
  if (report.skipped.length > 0)
    lines.push(`First skipped: line ${report.skipped[0]!.line}: ${report.skipped[0]!.reason}.`);
  if (overwrites) lines.push(`${basename(overwrites)} exists and will be replaced.`);
  return lines;
}
