// "Convert CSV to Batch…": a guided csv/convert. The CSV, then a wizard (step n of m, Back keeps
// each answer): a rubric (the system prompt), the user message (a template file, or columns of the
// header), the id column (by its real figures), the model, a schema and max_tokens, the workspace's
// files offered before a dialog; then a dry run for the estimate with the first request rendered
// beside it, and only on "Write" the JSONL next to the CSV.
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { basename, dirname, extname, join } from 'node:path';
import * as vscode from 'vscode';
import type { ConvertParams, ConvertReport } from '../server/protocol/jobs.js';
import { CsvConvertRequest } from '../server/protocol/methods.js';
import type { Ctx } from './ctx.js';
import { bestIdColumn, describeColumn, readColumns, type ColumnStats } from './model/csv-columns.js';
import { pickFile, workspaceFiles } from './pick.js';
import { showRequestPreview } from './request-preview.js';
import { setting } from './settings.js';
import { completeWalkthroughStep } from './walkthrough.js';
import { formatCount, formatDuration } from './webview/numbers.js';
import { BACK, runWizard, type Answer, type Wizard, type WizardStep } from './wizard.js';

const TITLE = 'Convert CSV to Batch';

/** A file step's item: a workspace file, a dialog, or none. */
interface FileItem extends vscode.QuickPickItem {
  uri?: vscode.Uri;
  browse?: true;
}

/** What a file step asks for: workspace files that fit are offered first, a dialog behind "Browse…". */
interface FileStep {
  placeholder: string;
  /** null: the step can be left without a file (this item's label says what that means). */
  none: string | null;
  glob: string;
  fits: (text: string) => boolean;
  filters: Record<string, string[]>;
}

/**
 * One file, offered from the workspace first: resolves with it, null for none, BACK or undefined.
 * `extra` items (e.g. "All columns") come after the files and are returned as they are.
 */
async function pickFileStep<E extends vscode.QuickPickItem = never>(
  wizard: Wizard,
  step: FileStep,
  earlier: vscode.Uri | null | E | undefined,
  extra: readonly E[] = [],
): Promise<Answer<vscode.Uri | null | E>> {
  const files = await workspaceFiles(step.glob, step.fits);
  for (;;) {
    const fileItems: FileItem[] = files.map((uri) => ({
      label: `$(file) ${basename(uri.fsPath)}`,
      description: vscode.workspace.asRelativePath(dirname(uri.fsPath)),
      uri,
    }));
    // A file browsed to earlier is offered again, as the one picked.
    if (earlier instanceof vscode.Uri && !files.some((uri) => uri.toString() === earlier.toString()))
      fileItems.unshift({ label: `$(file) ${basename(earlier.fsPath)}`, description: earlier.fsPath, uri: earlier });
    const none: FileItem | undefined = step.none === null ? undefined : { label: step.none };
    const browse: FileItem = { label: '$(folder-opened) Browse…', description: 'choose a file', browse: true };
    const items: (FileItem | E)[] = [...fileItems, ...extra, ...(none ? [none] : []), browse];
    const active =
      earlier === null
        ? none
        : earlier instanceof vscode.Uri
          ? fileItems.find((item) => item.uri?.toString() === earlier.toString())
          : (earlier ?? items[0]);
    const choice = await wizard.pick({ items, active, placeholder: step.placeholder, matchOnDescription: true });
    if (choice === undefined || choice === BACK) return choice;
    if (choice === none) return null;
    if ('uri' in choice && choice.uri) return choice.uri;
    if (!('browse' in choice && choice.browse)) return choice as E;
    const picked = await vscode.window.showOpenDialog({
      canSelectMany: false,
      filters: step.filters,
      title: `Ollama Batch: ${step.placeholder}`,
    });
    // A closed dialog comes back to the step.
    if (picked?.[0]) return picked[0];
  }
}

const TEXT_FILES = '**/*.{md,txt}';
const hasPlaceholders = (text: string): boolean => /\{\{[^}]+\}\}/.test(text);
/** A JSON object that describes an object's fields: a schema for the answer. */
function looksLikeSchema(text: string): boolean {
  try {
    const value = JSON.parse(text) as Record<string, unknown> | null;
    return typeof value === 'object' && value !== null && (value.type === 'object' || '$schema' in value);
  } catch {
    return false;
  }
}

/** The user message: a template file, columns picked from the header, or all columns (null). */
type TemplateAnswer = { file: vscode.Uri } | { columns: string[] } | null;

export interface ConvertWizardOptions {
  /** The flow's title (the command's name). */
  title?: string;
  /** The answer schema cannot be left out (a cascade ranks by its score field). */
  schemaRequired?: boolean;
  /** Steps after convert's own, in the same flow (step n of m, Back into convert's last step). */
  extraSteps?: readonly WizardStep[];
}

/** The CSV and the conversion the user asks for (shared with the cascade); undefined when they cancel. */
export async function askConvertParams(
  ctx: Ctx,
  argument: unknown,
  options: ConvertWizardOptions = {},
): Promise<{ csv: vscode.Uri; params: ConvertParams } | undefined> {
  const csv = await pickFile(argument, 'csv', {
    filter: 'CSV files',
    openLabel: 'Convert',
    title: 'Choose the CSV to convert',
  });
  if (!csv) return;
  const { columns, sampled } = await readColumns(csv.fsPath);
  if (columns.length === 0) throw new Error(`${basename(csv.fsPath)} has no header row`);
  const names = columns.map((column) => column.name);

  let rubric: vscode.Uri | null | undefined;
  let template: TemplateAnswer | undefined;
  let idColumn: string | null | undefined;
  let model: string | undefined;
  let schemaFile: vscode.Uri | null | undefined;
  let maxTokens: number | null | undefined;
  /** The answer to a step, or what stops the flow (Back, or a closed prompt). */
  const settle = <T>(answer: Answer<T>, keep: (value: T) => void): boolean | typeof BACK => {
    if (answer === undefined || answer === BACK) return answer === BACK ? BACK : false;
    keep(answer);
    return true;
  };
  const steps: WizardStep[] = [
    async (wizard) =>
      settle(
        await pickFileStep<never>(
          wizard,
          {
            placeholder: 'Rubric: the system prompt of every request',
            none: 'No rubric',
            glob: TEXT_FILES,
            fits: (text) => !hasPlaceholders(text),
            filters: { 'Text or Markdown': ['md', 'txt'], 'All files': ['*'] },
          },
          rubric,
        ),
        (value) => (rubric = value),
      ),
    async (wizard) => {
      const answer = await pickTemplate(wizard, names, template);
      return settle(answer, (value) => (template = value));
    },
    async (wizard) => settle(await pickIdColumn(wizard, columns, sampled, idColumn), (value) => (idColumn = value)),
    async (wizard) => settle(await pickModel(wizard, ctx, csv, model), (value) => (model = value)),
    async (wizard) =>
      settle(
        await pickFileStep<never>(
          wizard,
          {
            placeholder: options.schemaRequired
              ? 'The JSON schema every answer must follow (its score field ranks the rows)'
              : 'JSON schema every answer must follow',
            none: options.schemaRequired ? null : 'No schema',
            glob: '**/*.json',
            fits: looksLikeSchema,
            filters: { 'JSON schema': ['json'] },
          },
          schemaFile,
        ),
        (value) => (schemaFile = value),
      ),
    async (wizard) => settle(await askMaxTokens(wizard, maxTokens), (value) => (maxTokens = value)),
    ...(options.extraSteps ?? []),
  ];
  if (!(await runWizard(options.title ?? TITLE, steps))) return;

  // No setting: the daemon checks the lines against the num_ctx a run would use.
  const numCtx = setting<number | null>('numCtx', csv);
  const templateText =
    template === null || template === undefined
      ? null
      : 'file' in template
        ? await readFile(template.file.fsPath, 'utf8')
        : template.columns.map((column) => `${column}: {{${column}}}`).join('\n');
  const params: ConvertParams = {
    input: csv.fsPath,
    model: model!,
    ...(numCtx !== null && numCtx !== undefined && { numCtx }),
    ...(rubric && { systemPrompt: await readFile(rubric.fsPath, 'utf8') }),
    ...(templateText !== null && { template: templateText }),
    ...(idColumn !== null && idColumn !== undefined && { idColumn }),
    ...(schemaFile && { schema: await readSchema(schemaFile) }),
    ...(maxTokens !== null && maxTokens !== undefined && { maxTokens }),
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
  const preview = dryRun.sample && (await showRequestPreview(dryRun.sample, basename(output), name));
  const write = `Write ${formatCount(dryRun.lines_written)} Lines`;
  const choice = await vscode.window.showInformationMessage(
    `Write ${formatCount(dryRun.lines_written)} request lines to ${basename(output)}?`,
    { modal: true, detail: estimateLines(dryRun, existsSync(output) ? output : null).join('\n') },
    write,
  );
  // It served the choice; the file written is opened next.
  preview?.dispose();
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

/** The user message: a template file (workspace ones with {{placeholders}} first), picked columns, or all. */
async function pickTemplate(
  wizard: Wizard,
  columns: string[],
  earlier: TemplateAnswer | undefined,
): Promise<Answer<TemplateAnswer>> {
  const pickColumns = { label: '$(list-selection) Pick columns…', description: 'as "column: value" lines' };
  const all = { label: '$(list-flat) All columns', description: `${columns.length} columns as "column: value" lines` };
  for (;;) {
    const choice = await pickFileStep(
      wizard,
      {
        placeholder: 'The user message: a template with {{column}} placeholders, or columns of the CSV',
        none: null,
        glob: TEXT_FILES,
        fits: hasPlaceholders,
        filters: { 'Text or Markdown': ['txt', 'md'], 'All files': ['*'] },
      },
      earlier === null ? all : earlier && 'file' in earlier ? earlier.file : earlier && pickColumns,
      [pickColumns, all],
    );
    if (choice === undefined || choice === BACK) return choice;
    if (choice instanceof vscode.Uri) return { file: choice };
    if (choice === all) return null;
    const items = columns.map((column) => ({ label: column }));
    const kept = earlier && 'columns' in earlier ? earlier.columns : columns;
    const picked = await wizard.pickMany({
      items,
      selected: items.filter((item) => kept.includes(item.label)),
      placeholder: 'The columns of the user message (in the CSV’s order)',
    });
    if (picked === undefined) return undefined;
    // Back from the columns: the step's first choice again.
    if (picked !== BACK) return { columns: picked.map(({ label }) => label) };
  }
}

/** The custom_id: a column of the CSV (with its real figures; the best preselected) or row numbers (null). */
async function pickIdColumn(
  wizard: Wizard,
  columns: ColumnStats[],
  sampled: boolean,
  earlier: string | null | undefined,
): Promise<Answer<string | null>> {
  const rows = { label: 'Row numbers', description: 'row-1, row-2, …', column: null };
  const items = [
    ...columns.map((column) => ({
      label: column.name,
      description: describeColumn(column, sampled),
      column: column.name,
    })),
    rows,
  ];
  const preselected = earlier === undefined ? bestIdColumn(columns) : earlier;
  const choice = await wizard.pick({
    items,
    active: items.find((item) => item.column === preselected) ?? rows,
    placeholder: 'The custom_id of each line: a column of unique ids lets the results join back to the CSV by id',
  });
  return choice === undefined || choice === BACK ? choice : choice.column;
}

/** A model the engine has (the default setting first), or one typed in. */
async function pickModel(
  wizard: Wizard,
  ctx: Ctx,
  resource: vscode.Uri,
  earlier: string | undefined,
): Promise<Answer<string>> {
  const preferred = setting<string>('defaultModel', resource)?.trim();
  const models = ctx.info?.engine.models ?? [];
  const names = [...new Set([...(earlier ? [earlier] : []), ...(preferred ? [preferred] : []), ...models])];
  const other = { label: '$(edit) Type a model name…' };
  const items = names.map((name) => ({
    label: name,
    description: models.includes(name) ? 'on the engine' : name === preferred ? 'ollamaBatch.defaultModel' : 'typed in',
  }));
  for (;;) {
    const choice = await wizard.pick({
      items: [...items, other],
      active: items.find((item) => item.label === earlier),
      placeholder: 'The model every request asks for',
    });
    if (choice !== other) return choice === undefined || choice === BACK ? choice : choice.label;
    const typed = await wizard.input({
      value: '',
      prompt: 'The model name, as the engine knows it',
      placeholder: 'gemma3:12b',
      validate: (value) => (value.trim() ? null : 'name a model'),
    });
    if (typed !== BACK) return typed?.trim();
  }
}

/** max_tokens of every request; null for none. */
async function askMaxTokens(wizard: Wizard, earlier: number | null | undefined): Promise<Answer<number | null>> {
  const typed = await wizard.input({
    value: earlier === null || earlier === undefined ? '' : String(earlier),
    prompt: 'max_tokens: the most tokens an answer may take (empty: no max_tokens, the engine’s default room)',
    placeholder: 'e.g. 512',
    validate: (value) =>
      value.trim() === '' || /^[1-9]\d*$/.test(value.trim()) ? null : 'a whole number of tokens above 0, or empty',
  });
  if (typed === undefined || typed === BACK) return typed;
  return typed.trim() === '' ? null : Number(typed.trim());
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

/** What set the num_ctx the run will use, in words. */
const NUM_CTX_SOURCES: Record<ConvertReport['estimate']['num_ctx_source'], string> = {
  setting: 'ollamaBatch.numCtx',
  assumed: 'the default; no ollamaBatch.numCtx set',
  'model limit': 'the model’s limit',
  'learned limit': 'the most that held on this GPU',
};

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
  const numCtx = `num_ctx ${formatCount(estimate.num_ctx)} (${NUM_CTX_SOURCES[estimate.num_ctx_source]})`;
  lines.push(
    estimate.lines_over_context === 0
      ? `Every line fits ${numCtx}.`
      : `${formatCount(estimate.lines_over_context)} lines do not fit ${numCtx}: ${estimate.over_context_ids.join(', ')}${estimate.lines_over_context > estimate.over_context_ids.length ? ', …' : ''}`,
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
