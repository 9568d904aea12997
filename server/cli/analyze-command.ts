// `ollama-batch analyze OUTPUT.jsonl`: what a batch's results came to, read from its files
// without a daemon; with --source, the answers joined to the source CSV as a sorted CSV.
// `analyze BATCH_ID` asks the daemon, which knows the batch's files and whether it still runs.
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { Option, type Command } from 'commander';
import type { AnalysisReport, AnalyzeOptions, TopRow } from '../analysis/analyze.js';
import {
  cascadeText,
  expectedText,
  formatNumber,
  leftOutText,
  namedIds,
  partialText,
  renderHistogram,
  scoreText,
  validText,
} from '../display/analysis-text.js';
import { CSV_ENCODINGS } from '../csv/encoding.js';
import { ResultsAnalyzeRequest } from '../protocol/methods.js';
import { CliError, call, requireDaemon } from './daemon-connection.js';
import { count } from './format.js';
import { addDataDirOption, dataDirOf, positiveInteger } from './options.js';

export type AnalyzeFlags = Omit<AnalyzeOptions, 'output' | 'running'> & { json?: boolean; dataDir?: string };

/** A batch id rather than a file: the daemon analyses the batch, running or not. */
const BATCH_ID = /^batch_[\w-]+$/;

/** Returns the exit code: 0 when the analysis completed. */
export async function analyze(file: string, flags: AnalyzeFlags): Promise<number> {
  if (flags.csv !== undefined && flags.source === undefined)
    throw new CliError('--csv needs --source, the CSV to join the answers to');
  const { json, dataDir, ...options } = flags;
  const csv = options.source && (options.csv ?? scoredBeside(options.source));
  const report =
    BATCH_ID.test(file) && !existsSync(file)
      ? await analyzeBatch(file, { ...options, ...(csv && { csv }) }, dataDirOf({ dataDir }))
      : await analyzeFiles(file, { ...options, ...(csv && { csv }) });
  console.log(json ? JSON.stringify(report, null, 2) : formatReport(report));
  return 0;
}

async function analyzeFiles(output: string, options: Omit<AnalyzeOptions, 'output'>): Promise<AnalysisReport> {
  // The analysis code, loaded only by the command that runs it.
  const { AnalysisError, analyzeResults } = await import('../analysis/analyze.js');
  try {
    return await analyzeResults({ output, ...options });
  } catch (error) {
    if (error instanceof AnalysisError) throw new CliError(error.message);
    throw error;
  }
}

/** The daemon's analysis of a batch: its paths are the daemon's, so the CLI's are made absolute. */
async function analyzeBatch(
  id: string,
  options: Omit<AnalyzeOptions, 'output' | 'running'>,
  dataDir: string,
): Promise<AnalysisReport> {
  const absolute = (path: string | undefined): string | undefined => path && resolve(path);
  const connection = await requireDaemon(dataDir);
  try {
    return await call(() =>
      connection.sendRequest(ResultsAnalyzeRequest.type, {
        ...options,
        batch_id: id,
        errors: absolute(options.errors),
        input: absolute(options.input),
        source: absolute(options.source),
        csv: absolute(options.csv),
      }),
    );
  } finally {
    connection.dispose();
  }
}

/**
 * The joined CSV's default: beside the source, which the user knows, not beside the output,
 * which for a batch the daemon ran is in its data dir.
 */
const scoredBeside = (source: string): string => `${source.replace(/\.(csv|tsv|txt)$/i, '')}.scored.csv`;

export function addAnalyzeCommand(program: Command): void {
  addDataDirOption(program.command('analyze'))
    .argument('<output>', 'batch output JSONL, or a batch id (asks the daemon; a running batch gives a partial report)')
    .description(
      "counts, tokens, latency and answer statistics of a batch's results; with --source, the source CSV with the answers, sorted",
    )
    .option('--errors <file>', 'the batch error JSONL')
    .option('--input <file>', 'the batch input JSONL: every answer is checked against its json_schema')
    .option('--source <file>', 'the CSV the batch was made from: join the answers to its rows')
    .option(
      '--id-column <name>',
      'the source column holding the custom_ids (default: the column whose values match; else row-N is the N-th data row)',
    )
    .addOption(
      new Option(
        '--encoding <name>',
        "the source CSV's text encoding, as for convert (default: from a BOM, UTF-16 from NUL bytes, else utf8)",
      ).choices(CSV_ENCODINGS),
    )
    .option('--csv <file>', 'where the joined CSV goes (default: beside the source, x.csv gives x.scored.csv)')
    .option('--sort-by <field>', 'an answer field or a source column (default: the first numeric answer field)')
    .addOption(new Option('--order <order>', 'sort order of the CSV').choices(['asc', 'desc']).default('desc'))
    .option('--top <n>', 'how many top, bottom and most uncertain rows to list', positiveInteger, 5)
    .option('--json', 'print the report as JSON')
    .action(async (file: string, flags: AnalyzeFlags) => {
      process.exitCode = await analyze(file, flags);
    });
}

const counts = (record: Record<string, number>): string =>
  Object.entries(record)
    .map(([name, value]) => `${name} ${count(value)}`)
    .join(', ');

function topRows(title: string, rows: TopRow[]): string[] {
  if (rows.length === 0) return [];
  const idWidth = Math.max(...rows.map((row) => row.custom_id.length));
  const values = rows.map(scoreText);
  const valueWidth = Math.max(...values.map((value) => value.length));
  return [
    '',
    title,
    ...rows.map((row, index) =>
      `  ${row.custom_id.padEnd(idWidth)}  ${values[index]!.padStart(valueWidth)}  ${row.reason ?? ''}`.trimEnd(),
    ),
  ];
}

/** The expected scores and the rows to review, or the one line saying why there are none. */
function expectedLines(report: AnalysisReport): string[] {
  const text = expectedText(report);
  const expected = report.expected_scores;
  if (!text) return [];
  if (!expected) return ['', text];
  return [
    '',
    `expected scores: ${text}`,
    ...topRows(
      `to review, the ${expected.most_uncertain.length} least certain ${expected.field}s (value (expected ± sd)):`,
      expected.most_uncertain,
    ),
  ];
}

function formatReport(report: AnalysisReport): string {
  const { answers, latency_ms: latency, malformed } = report;
  const lines = [
    `${report.output_file}${report.error_file ? ` + ${report.error_file}` : ''}: ${count(report.lines)} lines, ${count(report.succeeded)} succeeded, ${count(report.failed)} failed`,
  ];
  const cascade = cascadeText(report);
  if (cascade) lines.push(`  ${cascade}`);
  const partial = partialText(report);
  if (partial) lines.push(`  ${partial}`);
  lines.push(`  ${validText(report)}`);
  if (report.failed > 0) lines.push(`  failures:   ${counts(report.failures_by_code)}`);
  if (malformed.count > 0) {
    const named = malformed.lines.map((line) => `${line.file} line ${line.line}: ${line.problem}`).join('; ');
    lines.push(
      `  malformed:  ${count(malformed.count)} lines (${named}${malformed.count > malformed.lines.length ? '; …' : ''})`,
    );
  }
  if (report.duplicates > 0)
    lines.push(`  duplicates: ${count(report.duplicates)} lines for a custom_id seen before, ignored`);
  lines.push(
    `  tokens:     ${count(report.tokens.prompt)} prompt (${count(report.tokens.cached)} cached), ${count(report.tokens.completion)} completion`,
  );
  const cut = report.finish_reasons['length']
    ? ` (${count(report.finish_reasons['length'])} answers cut at max_tokens)`
    : '';
  lines.push(`  finish:     ${counts(report.finish_reasons) || '-'}${cut}`);
  lines.push(
    `  latency:    ${latency ? `p50 ${formatNumber(latency.p50)} ms, p95 ${formatNumber(latency.p95)} ms, p99 ${formatNumber(latency.p99)} ms (${count(latency.count)} recorded)` : 'not recorded'}`,
  );
  const unparseable = namedIds(answers.unparseable.custom_ids, answers.unparseable.count);
  const invalid = namedIds(answers.invalid.custom_ids, answers.invalid.count);
  lines.push(
    `  answers:    ${count(answers.parsed)} parsed (${count(answers.repaired)} repaired), ${count(answers.invalid.count)} invalid${invalid}, ${count(answers.unparseable.count)} unparseable${unparseable}, ${count(answers.empty)} empty`,
  );
  for (const [reason, times] of Object.entries(answers.invalid.reasons))
    lines.push(`    invalid: ${reason} (${count(times)})`);
  if (Object.keys(answers.fields).length > 0) lines.push('', 'answer fields:');
  for (const [name, field] of Object.entries(answers.fields)) {
    if (field.type === 'number') {
      const { stats } = field;
      const summary =
        stats &&
        (['min', 'max', 'mean', 'p50', 'p90', 'p95', 'p99'] as const)
          .map((key) => `${key} ${formatNumber(stats[key])}`)
          .join(', ');
      lines.push(
        `  ${name}: ${count(stats?.count ?? 0)} ${field.range ? 'valid ' : ''}numbers${summary ? `; ${summary}` : ''}`,
      );
      if (stats) lines.push(...renderHistogram(stats.histogram).map((line) => `    ${line}`));
    } else if (field.type === 'enum') {
      lines.push(`  ${name}: ${counts(field.counts)}`);
    } else {
      lines.push(`  ${name}: present in ${count(field.present)} answers`);
    }
    const problems = leftOutText(field);
    if (problems) lines.push(`    ${problems}`);
  }
  lines.push(...expectedLines(report));
  const rankedBy =
    report.expected_scores?.field === report.sort_by ? `${report.sort_by} (expected where known)` : report.sort_by;
  lines.push(
    ...topRows(`top ${report.top.length} by ${rankedBy}:`, report.top),
    ...topRows(`bottom ${report.bottom.length} by ${rankedBy}:`, report.bottom),
  );
  if (report.csv) {
    const { csv } = report;
    const sorted = csv.sort_by ? `sorted by ${csv.sort_by} ${csv.order}` : 'in source order';
    const joined = csv.id_column ? `joined on ${csv.id_column}` : 'joined by row number (row-N)';
    const unmatched = csv.unmatched > 0 ? `; ${count(csv.unmatched)} results match no row` : '';
    lines.push(
      '',
      `wrote ${csv.path}: ${count(csv.rows)} rows ${sorted}, ${joined}; ${count(csv.missing)} without a result${unmatched}`,
    );
  }
  return lines.join('\n');
}
