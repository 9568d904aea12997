// `ollama-batch analyze OUTPUT.jsonl`: what a batch's results came to, read from its files
// without a daemon; with --source, the answers joined to the source CSV as a sorted CSV.
import { Option, type Command } from 'commander';
import type { AnalysisReport, AnalyzeOptions, TopRow } from '../analysis/analyze.js';
import { formatNumber, leftOutText, namedIds, renderHistogram } from '../display/analysis-text.js';
import { CSV_ENCODINGS } from '../csv/encoding.js';
import { CliError } from './daemon-connection.js';
import { count } from './format.js';
import { positiveInteger } from './options.js';

export type AnalyzeFlags = Omit<AnalyzeOptions, 'output'> & { json?: boolean };

/** Returns the exit code: 0 when the analysis completed. */
export async function analyze(file: string, flags: AnalyzeFlags): Promise<number> {
  if (flags.csv !== undefined && flags.source === undefined)
    throw new CliError('--csv needs --source, the CSV to join the answers to');
  // The analysis code, loaded only by the command that runs it.
  const { AnalysisError, analyzeResults } = await import('../analysis/analyze.js');
  let report: AnalysisReport;
  try {
    report = await analyzeResults({
      output: file,
      ...flags,
      ...(flags.source && { csv: flags.csv ?? scoredBeside(flags.source) }),
    });
  } catch (error) {
    if (error instanceof AnalysisError) throw new CliError(error.message);
    throw error;
  }
  console.log(flags.json ? JSON.stringify(report, null, 2) : formatReport(report));
  return 0;
}

/**
 * The joined CSV's default: beside the source, which the user knows, not beside the output,
 * which for a batch the daemon ran is in its data dir.
 */
const scoredBeside = (source: string): string => `${source.replace(/\.(csv|tsv|txt)$/i, '')}.scored.csv`;

export function addAnalyzeCommand(program: Command): void {
  program
    .command('analyze')
    .argument('<output>', 'batch output JSONL')
    .description(
      "counts, tokens, latency and answer statistics of a batch's results; with --source, the source CSV with the answers, sorted",
    )
    .option('--errors <file>', 'the batch error JSONL')
    .option('--input <file>', "the batch input JSONL: its json_schema's minimum, maximum and enum check the answers")
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
    .option('--top <n>', 'how many top and bottom rows to list', positiveInteger, 5)
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
  const values = rows.map((row) => (typeof row.value === 'number' ? formatNumber(row.value) : row.value));
  const valueWidth = Math.max(...values.map((value) => value.length));
  return [
    '',
    title,
    ...rows.map((row, index) =>
      `  ${row.custom_id.padEnd(idWidth)}  ${values[index]!.padStart(valueWidth)}  ${row.reason ?? ''}`.trimEnd(),
    ),
  ];
}

function formatReport(report: AnalysisReport): string {
  const { answers, latency_ms: latency, malformed } = report;
  const lines = [
    `${report.output_file}${report.error_file ? ` + ${report.error_file}` : ''}: ${count(report.lines)} lines, ${count(report.succeeded)} succeeded, ${count(report.failed)} failed`,
  ];
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
  lines.push(
    `  answers:    ${count(answers.parsed)} parsed (${count(answers.repaired)} repaired), ${count(answers.unparseable.count)} unparseable${unparseable}, ${count(answers.empty)} empty`,
  );
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
    const problems = leftOutText(field, true);
    if (problems) lines.push(`    ${problems}`);
  }
  lines.push(
    ...topRows(`top ${report.top.length} by ${report.sort_by}:`, report.top),
    ...topRows(`bottom ${report.bottom.length} by ${report.sort_by}:`, report.bottom),
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
