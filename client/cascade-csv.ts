// "Run CSV as Cascade…": the CSV's conversion asked as Convert asks it (it needs the answer
// schema), the shortlist rule, a dry run whose estimate sets the cascade against a single pass,
// then both passes' requests written beside the CSV and pass 1 created with its link to pass 2 in
// its metadata. The daemon does the rest: when pass 1 completes it creates pass 2 for the
// shortlist; both show in the Batches view as they run.
import { basename } from 'node:path';
import * as vscode from 'vscode';
import type { ConvertParams, ConvertReport } from '../server/protocol/jobs.js';
import { CASCADE_METADATA as KEYS, parseShortlist, shortlistText } from '../server/protocol/cascade.js';
import { BatchCreateRequest, CsvConvertRequest, FileRegisterRequest } from '../server/protocol/methods.js';
import { askConvertParams, estimateLines, requestsPath } from './convert-csv.js';
import { showRequestPreview } from './request-preview.js';
import { BACK, type WizardStep } from './wizard.js';
import type { Ctx } from './ctx.js';
import { formatCount, formatDuration } from './webview/numbers.js';

const TITLE = 'Run CSV as Cascade';

/** The shortlist rule, as the cascade's last step of the Convert wizard: checked as the daemon reads it. */
function shortlistStep(answer: { rule: string }): WizardStep {
  return async (wizard) => {
    const typed = await wizard.input({
      value: answer.rule,
      prompt: 'The shortlist: rows that get the full answer after every row is scored: "top K%" or ">= SCORE"',
      validate: (text) => {
        try {
          parseShortlist(text);
          return null;
        } catch (error) {
          return (error as Error).message;
        }
      },
    });
    if (typed === undefined || typed === BACK) return typed === BACK ? BACK : false;
    answer.rule = typed;
    return true;
  };
}

/** Single pass against cascade, from the dry run's projection. */
function projectionLine(report: ConvertReport): string {
  const { projection } = report.estimate;
  const cascade = projection.cascade!;
  return `Projected engine time: cascade ${formatDuration(cascade.seconds)} against ${formatDuration(projection.single_pass_seconds)} for a single pass (${cascade.ratio.toFixed(2)}×): ${cascade.score_tokens} tokens per score for every row, the full answer for the shortlist.`;
}

export async function runCascade(ctx: Ctx, argument: unknown): Promise<void> {
  const shortlist = { rule: 'top 10%' };
  // The schema is required: its score field ranks the rows.
  const asked = await askConvertParams(ctx, argument, {
    title: TITLE,
    schemaRequired: true,
    extraSteps: [shortlistStep(shortlist)],
  });
  if (!asked) return;
  const { csv, params: convert } = asked;
  const rule = parseShortlist(shortlist.rule);
  const client = await ctx.requireClient();
  if (!client) return;
  const params: ConvertParams = {
    ...convert,
    cascade: true,
    ...(rule.kind === 'top' && { shortlistShare: rule.percent / 100 }),
  };
  const name = basename(csv.fsPath);
  const dryRun = await vscode.window.withProgress(
    { location: vscode.ProgressLocation.Notification, title: `Ollama Batch: estimating ${name}…` },
    () => client.sendRequest(CsvConvertRequest.type, params),
  );
  const preview = dryRun.sample && (await showRequestPreview(dryRun.sample, basename(requestsPath(csv)), name));
  const start = 'Start Cascade';
  const choice = await vscode.window.showInformationMessage(
    `Score ${formatCount(dryRun.lines_written)} rows, then explain the ${shortlistText(rule)}?`,
    { modal: true, detail: [...estimateLines(dryRun, null), projectionLine(dryRun)].join('\n') },
    start,
  );
  preview?.dispose();
  if (choice !== start) return;
  const output = requestsPath(csv);
  const passOne = await vscode.window.withProgress(
    { location: vscode.ProgressLocation.Notification, title: `Ollama Batch: starting the cascade of ${name}…` },
    async () => {
      const report = await client.sendRequest(CsvConvertRequest.type, { ...params, output });
      const register = (path: string) => client.sendRequest(FileRegisterRequest.type, { path, purpose: 'batch' });
      const [scores, full] = [await register(report.cascade!.score_output!), await register(output)];
      return client.sendRequest(BatchCreateRequest.type, {
        input_file_id: scores.id,
        completion_window: '7d',
        metadata: {
          source: csv.fsPath,
          [KEYS.pass]: '1',
          [KEYS.fullInputFileId]: full.id,
          [KEYS.shortlist]: shortlistText(rule),
          [KEYS.scoreField]: report.cascade!.score_field,
        },
      });
    },
  );
  ctx.log.info(`cascade of ${csv.fsPath}: pass 1 is ${passOne.id}, shortlist ${shortlistText(rule)}`);
  void vscode.window.showInformationMessage(
    `Ollama Batch: cascade started: pass 1 (${passOne.id}) scores every row; the daemon starts pass 2 for the ${shortlistText(rule)} when it completes.`,
  );
}
