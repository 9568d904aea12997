// `ollama-batch convert FILE.csv`: a CSV into a batch input JSONL, one chat request per row, with
// the rows it skipped (by line) and a pre-run estimate of tokens and time.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { Option, type Command } from 'commander';
import type { ConvertOptions, ConvertReport } from '../csv/convert.js';
import { DEFAULT_TOP_LOGPROBS } from '../protocol/jobs.js';
import { REASONING_EFFORTS, type ReasoningEffort } from '../protocol/openai.js';
import { CSV_ENCODINGS, type CsvEncoding } from '../csv/encoding.js';
import { CliError } from './daemon-connection.js';
import { count } from './format.js';
import { readModelStats } from '../store/store.js';
import { addDataDirOption, dataDirOf, nonNegativeInteger, positiveInteger } from './options.js';
import { ASSUMED_NUM_CTX } from '../context/num-ctx.js';

export const DEFAULT_MODEL = 'gemma3:12b';
/** Skipped and kept rows listed in the summary; --json lists more. */
const LISTED_ROWS = 20;

export interface ConvertFlags {
  output?: string;
  systemPrompt?: string;
  template?: string;
  idColumn?: string;
  model?: string;
  temperature?: number;
  seed?: number;
  maxTokens?: number;
  schema?: string;
  delimiter?: string;
  encoding?: CsvEncoding;
  keepBadRows?: boolean;
  numCtx?: number;
  thinking?: ReasoningEffort;
  logprobs?: number;
  cascade?: boolean;
  scoreField?: string;
  /** Percent of rows a cascade's second pass explains. */
  top?: number;
  dryRun?: boolean;
  json?: boolean;
  dataDir?: string;
}

/** A file's text without a BOM and trailing whitespace. */
function readText(path: string, flag: string): string {
  if (!existsSync(path) || !statSync(path).isFile()) throw new CliError(`${flag} ${path}: no such file`);
  return readFileSync(path, 'utf8')
    .replace(/^\uFEFF/, '')
    .trimEnd();
}

/** --template names a file, or is the template itself. */
function templateOf(argument: string): string {
  if (existsSync(argument) && statSync(argument).isFile()) return readText(argument, '--template');
  if (!argument.includes('{{'))
    throw new CliError(`--template ${argument}: no such file, and no {{column}} placeholder in it as a template`);
  return argument;
}

function schemaOf(path: string): Record<string, unknown> {
  const text = readText(path, '--schema');
  let schema: unknown;
  try {
    schema = JSON.parse(text);
  } catch (error) {
    throw new CliError(`--schema ${path}: not valid JSON (${(error as Error).message})`);
  }
  if (typeof schema !== 'object' || schema === null || Array.isArray(schema))
    throw new CliError(`--schema ${path}: a JSON schema must be a JSON object`);
  return schema as Record<string, unknown>;
}

/** FILE.csv → FILE.jsonl. */
const defaultOutput = (file: string): string => `${file.replace(/\.csv$/i, '')}.jsonl`;

const plural = (value: number, noun: string): string => `${count(value)} ${noun}${value === 1 ? '' : 's'}`;

export function duration(seconds: number): string {
  if (seconds < 90) return `${Math.round(seconds)} s`;
  const minutes = Math.round(seconds / 60);
  return minutes < 90 ? `${minutes} min` : `${Math.floor(minutes / 60)} h ${minutes % 60} min`;
}

function rowList(title: string, rows: ConvertReport['skipped'], total: number): string[] {
  if (total === 0) return [];
  const lines = [title, ...rows.slice(0, LISTED_ROWS).map((row) => `  line ${row.line}: ${row.reason}`)];
  if (total > LISTED_ROWS)
    lines.push(`  and ${count(total - LISTED_ROWS)} more (--json lists the first ${count(rows.length)})`);
  return lines;
}

function estimateLines(report: ConvertReport): string[] {
  const estimate = report.estimate;
  const prompt = estimate.prompt_tokens!;
  const calibration =
    estimate.calibration === 'learned'
      ? "learned from this model's batches"
      : 'a safety margin until this model has run a batch';
  const fit =
    estimate.lines_over_context === 0
      ? `every line fits num_ctx ${estimate.num_ctx}${estimate.max_tokens === null ? '' : ' with max_tokens'}`
      : `${plural(estimate.lines_over_context, 'line')} ${estimate.lines_over_context === 1 ? 'does' : 'do'} not fit num_ctx ${estimate.num_ctx}${estimate.max_tokens === null ? '' : ' with max_tokens'}: ${estimate.over_context_ids.join(', ')}${estimate.lines_over_context > estimate.over_context_ids.length ? ', ...' : ''}`;
  return [
    `estimate, in model tokens (o200k counts × ${estimate.calibration_factor.toFixed(2)}, ${calibration}):`,
    `  prompt per line: min ${count(prompt.min)}, mean ${count(prompt.mean)}, p95 ${count(prompt.p95)}, max ${count(prompt.max)}; ${count(prompt.total)} in all`,
    `  shared prefix:   ${count(estimate.shared_prefix_tokens)} tokens the same on every line, which the engine's KV cache reuses`,
    estimate.max_tokens === null
      ? '  output budget:   no max_tokens; answers are bounded only by the context window'
      : `  output budget:   ${count(estimate.max_tokens)} max_tokens per line, ${count(estimate.output_tokens_budget!)} in all`,
    `  context:         ${fit}`,
    estimate.eta_seconds === null
      ? '  ETA:             unknown until the engine has run a batch with this model'
      : `  ETA:             about ${duration(estimate.eta_seconds)} at ${estimate.requests_per_second!.toFixed(1)} requests/s`,
    ...projectionLines(report),
  ];
}

/** Thinking's cost and single pass against cascade, from tokens per line. */
function projectionLines(report: ConvertReport): string[] {
  const projection = report.estimate.projection;
  const basis =
    report.estimate.requests_per_second === null
      ? `at published rates of a 12B Q4 model on a 16 GB card (${count(projection.prefill_tokens_per_second)} prompt and ${projection.decode_tokens_per_second} generated tokens/s), ${projection.answer_tokens} tokens per full answer`
      : `scaled to this model's learned pace, ${projection.answer_tokens} tokens per full answer`;
  const thinking =
    projection.thinking === 'off'
      ? `  thinking:        off (reasoning_effort ${report.reasoning_effort}); --thinking low|medium|high turns it on`
      : `  thinking:        ${projection.thinking === 'model default' ? 'left to the model (no reasoning_effort): a thinking model thinks' : `on (reasoning_effort ${projection.thinking})`}; at ~${count(projection.thinking_tokens)} thinking tokens per line it takes ${duration(projection.single_pass_seconds)} instead of ${duration(projection.single_pass_seconds_without_thinking)}`;
  const logprobs = logprobsLine(report);
  const lines = [
    `projection, ${basis}:`,
    thinking,
    logprobs,
    `  single pass:     ${duration(projection.single_pass_seconds)}`,
  ];
  if (projection.cascade) {
    const { cascade } = projection;
    lines.push(
      `  cascade:         ${duration(cascade.seconds)} (${cascade.ratio.toFixed(2)}× the single pass): ${cascade.score_tokens} tokens per score for every line, the full answer for the top ${Math.round(cascade.shortlist_share * 100)}%`,
    );
  }
  return lines;
}

function logprobsLine({ top_logprobs: full, cascade }: ConvertReport): string {
  const pass1 = cascade?.score_top_logprobs ?? null;
  if (full === null && pass1 === null)
    return '  logprobs:        none asked for: the analysis ranks by the integer score alone';
  if (!cascade)
    return `  logprobs:        top ${full} per answer token, for expected scores in the analysis; --logprobs 0 turns them off`;
  const fullAnswers =
    full === null
      ? 'none for the full answers of pass 2 (pass 1 ranks; --logprobs N asks for them)'
      : `top ${full} for the full answers too`;
  return `  logprobs:        top ${pass1} per token of pass 1's scores, for the expected scores that rank the rows; ${fullAnswers}`;
}

function summary(file: string, report: ConvertReport): string {
  const source = `${plural(report.lines_written, 'request line')} from ${plural(report.rows_read, 'row')} (${report.encoding}, delimiter ${JSON.stringify(report.delimiter)})`;
  return [
    report.output === null ? `${file}, dry run, nothing written: ${source}` : `${file} → ${report.output}: ${source}`,
    ...rowList(`${plural(report.skipped_count, 'row')} skipped:`, report.skipped, report.skipped_count),
    ...rowList(
      `${plural(report.kept_bad_rows_count, 'bad row')} kept (--keep-bad-rows):`,
      report.kept_bad_rows,
      report.kept_bad_rows_count,
    ),
    ...estimateLines(report),
    ...(report.cascade?.score_output ? [`cascade pass 1 (score only) → ${report.cascade.score_output}`] : []),
    ...(report.output === null ? ['sample line:', JSON.stringify(report.sample)] : []),
  ].join('\n');
}

/** The options of convertCsv that convert's flags give (the cascade command converts with them too). */
export function convertOptionsOf(file: string, output: string | undefined, flags: ConvertFlags): ConvertOptions {
  return {
    input: file,
    output,
    model: flags.model ?? DEFAULT_MODEL,
    systemPrompt: flags.systemPrompt === undefined ? undefined : readText(flags.systemPrompt, '--system-prompt'),
    template: flags.template === undefined ? undefined : templateOf(flags.template),
    schema: flags.schema === undefined ? undefined : schemaOf(flags.schema),
    idColumn: flags.idColumn,
    temperature: flags.temperature,
    seed: flags.seed,
    maxTokens: flags.maxTokens,
    delimiter: flags.delimiter,
    encoding: flags.encoding,
    keepBadRows: flags.keepBadRows,
    numCtx: flags.numCtx,
    reasoningEffort: flags.thinking,
    topLogprobs: flags.logprobs,
    cascade: flags.cascade,
    scoreField: flags.scoreField,
    ...(flags.top !== undefined && { shortlistShare: flags.top / 100 }),
  };
}

/** Returns the exit code: 0 when request lines were written (or, in a dry run, would be). */
export async function convert(file: string, flags: ConvertFlags): Promise<number> {
  const output = flags.dryRun ? undefined : (flags.output ?? defaultOutput(file));
  if (output !== undefined && resolve(output) === resolve(file))
    throw new CliError(`the output ${output} would overwrite the CSV; name another with -o`);
  // Loaded here, not at start-up: the tokenizer takes half a second and 70 MB that other commands do without.
  const [{ convertCsv, ConvertError }, { learnedInputs }] = await Promise.all([
    import('../csv/convert.js'),
    import('../csv/estimate.js'),
  ]);
  const model = flags.model ?? DEFAULT_MODEL;
  // What the daemon of this data dir learned from earlier batches of the model: its tokenizer and pace.
  const learned = readModelStats(dataDirOf(flags), model);
  let report: ConvertReport;
  try {
    report = await convertCsv({ ...learnedInputs(learned), ...convertOptionsOf(file, output, flags) });
  } catch (error) {
    if (error instanceof ConvertError) throw new CliError(error.message);
    throw error;
  }
  console.log(flags.json ? JSON.stringify(report, null, 2) : summary(file, report));
  return 0;
}

export const percentOf = (value: string): number => {
  const parsed = Number(value.replace(/%$/, ''));
  if (value.trim() === '' || !(parsed > 0 && parsed <= 100))
    throw new Error(`expected a percent above 0 and up to 100, got "${value}"`);
  return parsed;
};

const numberOf =
  (check: (value: number) => boolean, expected: string) =>
  (value: string): number => {
    const parsed = Number(value);
    if (value.trim() === '' || !check(parsed)) throw new Error(`expected ${expected}, got "${value}"`);
    return parsed;
  };

function delimiterOf(value: string): string {
  const delimiter = value === 'tab' || value === '\\t' ? '\t' : value;
  if (delimiter.length !== 1 || delimiter === '"' || delimiter === '\n' || delimiter === '\r')
    throw new Error(`expected one character (or "tab") as the delimiter, got "${value}"`);
  return delimiter;
}

/** The request options convert and cascade share. */
export function addRequestOptions(command: Command): Command {
  return command
    .option(
      '--system-prompt <file>',
      'system message of every request (the rubric), byte-identical on every line so the engine reuses its KV cache',
    )
    .option(
      '--template <file|text>',
      'user message with {{column}} placeholders, a file or the text itself (default: every column as "column: value")',
    )
    .option(
      '--id-column <name>',
      'column whose values are the custom_ids, unique and non-empty (default: row-1, row-2, ...)',
    )
    .option('--model <name>', `model of every request (default ${DEFAULT_MODEL})`)
    .option(
      '--temperature <t>',
      'sampling temperature',
      numberOf((value) => Number.isFinite(value) && value >= 0, 'a number of 0 or more'),
    )
    .option('--seed <n>', 'sampling seed', numberOf(Number.isInteger, 'an integer'))
    .option('--max-tokens <n>', 'most tokens per answer', positiveInteger)
    .option('--schema <file>', 'JSON schema every answer must follow (response_format json_schema, strict)')
    .option(
      '--delimiter <char>',
      'field delimiter (default: the most frequent of , ; and tab in the header line)',
      delimiterOf,
    )
    .addOption(
      new Option(
        '--encoding <name>',
        'text encoding (default: from a BOM, UTF-16 from NUL bytes, else utf8; latin1 reads Windows-1252)',
      ).choices(CSV_ENCODINGS),
    )
    .option(
      '--keep-bad-rows',
      'keep rows with too few or too many fields (padded or cut) or undecodable bytes, instead of skipping them; reported either way',
    )
    .option(
      '--num-ctx <n>',
      `context window the estimate checks each line against (default ${ASSUMED_NUM_CTX})`,
      positiveInteger,
    )
    .addOption(
      new Option(
        '--thinking <effort>',
        'reasoning_effort of every request (default: none where --schema shapes the answer, else left to the model)',
      ).choices(REASONING_EFFORTS),
    )
    .option(
      '--logprobs <n>',
      `top_logprobs of every answer, for expected scores in the analysis (default ${DEFAULT_TOP_LOGPROBS} where --schema shapes the answer; 0 asks for none)`,
      nonNegativeInteger,
    )
    .option(
      '--score-field <name>',
      "with a cascade: the schema's field that ranks the rows (default: its first integer or number)",
    );
}

export function addConvertCommand(program: Command): void {
  addRequestOptions(
    addDataDirOption(program.command('convert'))
      .argument('<file>', 'CSV file, with a header row')
      .description(
        'turn a CSV into a batch input JSONL, one chat request per row; report skipped rows by line and estimate tokens and time',
      )
      .option('-o, --output <file>', 'JSONL to write (default: FILE with .jsonl)'),
  )
    .option(
      '--cascade',
      "also write a cascade's first pass, FILE.score.jsonl: the score field alone for every row (see the cascade command)",
    )
    .option(
      '--top <percent>',
      'with --cascade: the share of rows the estimate has pass 2 explain (default 10)',
      percentOf,
    )
    .option('--dry-run', 'print the report and a sample line; write nothing')
    .option('--json', 'print the report as JSON')
    .action(async (file: string, flags: ConvertFlags) => {
      process.exitCode = await convert(file, flags);
    });
}
