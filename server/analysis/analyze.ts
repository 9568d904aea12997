// Analysis of a batch's results: counts, tokens, latency and the statistics of the structured
// answers, streamed from the output and error files. Only a small index entry per custom_id is
// kept (where its line is, its status and sort values); lines are read back by position when
// their answer is needed again (the top rows, the joined CSV).
import { closeSync, openSync, readSync, statSync } from 'node:fs';
import { basename, resolve } from 'node:path';
import { isObject } from '../common/is-object.js';
import type { CsvEncoding } from '../csv/encoding.js';
import { DEFAULT_MAX_LINE_BYTES, readLines } from '../jsonl/lines.js';
import { parseAnswer } from './answers.js';
import {
  AnalysisError,
  compareKeys,
  joinSource,
  normaliseKeys,
  type JoinResults,
  type JoinSort,
  type JoinSummary,
} from './join.js';
import { readFieldRules } from './schema.js';
import { Columns, FieldStats, NumberSeries, validNumber, type FieldRule, type FieldSummary } from './stats.js';
import { textOf } from '../common/text-of.js';

export { AnalysisError };

export interface AnalyzeOptions {
  /** The batch output JSONL. */
  output: string;
  /** The batch error JSONL. */
  errors?: string;
  /** The batch input JSONL: its first request's json_schema response_format gives each answer
   *  field's allowed range or values. */
  input?: string;
  /** The CSV the batch was made from: joins the answers to its rows. */
  source?: string;
  idColumn?: string;
  /** The source's text encoding; default detected, as `convert` does. */
  encoding?: CsvEncoding;
  /** Where the joined CSV goes; default `<output without .jsonl>.scored.csv`. */
  csv?: string;
  /** An answer field or a source column; default the first numeric answer field. */
  sortBy?: string;
  /** The joined CSV's order; default desc. */
  order?: 'asc' | 'desc';
  /** How many top and bottom rows to list; default 5. */
  top?: number;
}

export interface TopRow {
  custom_id: string;
  value: number | string;
  /** A short excerpt of the answer's reason field, when it has one. */
  reason: string | null;
}

export interface AnalysisReport {
  output_file: string;
  error_file: string | null;
  /** Non-blank lines read from both files. */
  lines: number;
  succeeded: number;
  failed: number;
  failures_by_code: Record<string, number>;
  /** Lines that are not result lines (invalid JSON, no custom_id), with the first few named. */
  malformed: { count: number; lines: Array<{ file: string; line: number; problem: string }> };
  /** Lines for a custom_id seen before; only the first counts. */
  duplicates: number;
  tokens: { prompt: number; completion: number; cached: number };
  /** `length` means the answer was cut at max_tokens. */
  finish_reasons: Record<string, number>;
  /** Null when no line recorded its latency. */
  latency_ms: { count: number; p50: number; p95: number; p99: number } | null;
  answers: {
    /** Includes the repaired ones. */
    parsed: number;
    repaired: number;
    unparseable: { count: number; custom_ids: string[] };
    empty: number;
    fields: Record<string, FieldSummary>;
  };
  /** The field that orders `top` and `bottom`. */
  sort_by: string | null;
  /** The highest values first. */
  top: TopRow[];
  /** The lowest values first. */
  bottom: TopRow[];
  csv?: JoinSummary;
}

const LISTED = 20;
const REASON_FIELD = /reason|rationale|explanation|justification/i;
const REASON_LENGTH = 100;
const ERROR_EXCERPT = 80;

type Outcome =
  | {
      ok: true;
      customId: string;
      content: unknown;
      finishReason: string | null;
      usage: Record<string, unknown> | null;
      latencyMs: number | null;
    }
  | { ok: false; customId: string; code: string; message: string };

/** What a result line came to; a string says why it is not a result line. */
function outcomeOf(line: unknown): Outcome | string {
  if (!isObject(line)) return 'not a JSON object';
  const customId = line.custom_id;
  if (typeof customId !== 'string') return 'no custom_id';
  if (isObject(line.error))
    return { ok: false, customId, code: textOf(line.error.code ?? 'error'), message: textOf(line.error.message ?? '') };
  const response = line.response;
  if (!isObject(response)) return 'neither a response nor an error';
  const body = isObject(response.body) ? response.body : {};
  const choice: unknown = Array.isArray(body.choices) ? (body.choices as unknown[])[0] : undefined;
  if (response.status_code === 200 && isObject(choice)) {
    const latency = isObject(line.ollama_batch) ? line.ollama_batch.latency_ms : undefined;
    return {
      ok: true,
      customId,
      content: isObject(choice.message) ? choice.message.content : undefined,
      finishReason: typeof choice.finish_reason === 'string' ? choice.finish_reason : null,
      usage: isObject(body.usage) ? body.usage : null,
      latencyMs: typeof latency === 'number' ? latency : null,
    };
  }
  const error = isObject(body.error) ? body.error : {};
  const code =
    error.code ??
    error.type ??
    (response.status_code === 200 ? 'no_completion' : `http_${textOf(response.status_code)}`);
  return { ok: false, customId, code: textOf(code), message: textOf(error.message ?? '') };
}

const tokens = (value: unknown): number => (typeof value === 'number' && Number.isFinite(value) ? value : 0);

/** The parts of the report that are plain counts. */
type Counts = Omit<
  AnalysisReport,
  'output_file' | 'error_file' | 'latency_ms' | 'answers' | 'sort_by' | 'top' | 'bottom' | 'csv'
> & {
  answers: Omit<AnalysisReport['answers'], 'fields'>;
};

interface Position {
  file: number;
  offset: number;
  length: number;
}

/**
 * Each custom_id's result in compact columns: where its line is, what it came to, and its sort
 * values. Lines are read back by position when their answer is needed again.
 */
class ResultIndex implements JoinResults {
  readonly ids = new Map<string, number>();
  private readonly statusNames: string[] = [];
  private readonly statusCodes = new Map<string, number>();
  private readonly columns = new Columns({
    statuses: new Uint32Array(1024),
    files: new Uint8Array(1024),
    offsets: new Float64Array(1024),
    lengths: new Uint32Array(1024),
    /** The value of the first numeric answer field; NaN when there is none or it is not valid. */
    firstNumbers: new Float64Array(1024),
  });
  /** The value of --sort-by in each answer (only set when it is given). */
  private readonly sortValues: Array<number | string | null> = [];
  private readonly fds: number[];
  /** Lines are read back into this one buffer: a buffer per line would churn memory. */
  private scratch = Buffer.allocUnsafe(64 * 1024);

  constructor(paths: string[]) {
    this.fds = paths.map((path) => openSync(path, 'r'));
  }

  /** The new result's index, or null when the custom_id has one already. */
  add(customId: string, position: Position): number | null {
    if (this.ids.has(customId)) return null;
    const index = this.columns.push();
    this.ids.set(customId, index);
    const { files, offsets, lengths, firstNumbers } = this.columns.arrays;
    files[index] = position.file;
    offsets[index] = position.offset;
    lengths[index] = position.length;
    firstNumbers[index] = NaN;
    return index;
  }

  setStatus(index: number, status: string): void {
    let code = this.statusCodes.get(status);
    if (code === undefined) {
      code = this.statusNames.push(status) - 1;
      this.statusCodes.set(status, code);
    }
    this.columns.arrays.statuses[index] = code;
  }

  status(index: number): string {
    return this.statusNames[this.columns.arrays.statuses[index]!]!;
  }

  setFirstNumber(index: number, value: number): void {
    this.columns.arrays.firstNumbers[index] = value;
  }

  firstNumber(index: number): number | null {
    const value = this.columns.arrays.firstNumbers[index]!;
    return Number.isNaN(value) ? null : value;
  }

  setSortValue(index: number, value: number | string | null): void {
    this.sortValues[index] = value;
  }

  sortValue(index: number): number | string | null {
    return this.sortValues[index] ?? null;
  }

  private outcome(index: number): Outcome {
    const { files, offsets, lengths } = this.columns.arrays;
    const length = lengths[index]!;
    if (length > this.scratch.length) this.scratch = Buffer.allocUnsafe(length);
    readSync(this.fds[files[index]!]!, this.scratch, 0, length, offsets[index]!);
    return outcomeOf(JSON.parse(this.scratch.toString('utf8', 0, length))) as Outcome;
  }

  details(index: number): { fields: Record<string, unknown> | null; error: string } {
    const outcome = this.outcome(index);
    if (!outcome.ok) return { fields: null, error: outcome.message };
    const cut = outcome.finishReason === 'length' ? 'cut at max_tokens (finish_reason length)' : '';
    const answer = parseAnswer(outcome.content);
    if (answer.kind === 'parsed') return { fields: answer.fields, error: cut };
    const problem =
      answer.kind === 'empty'
        ? 'empty answer'
        : `not JSON: ${JSON.stringify(String(outcome.content).slice(0, ERROR_EXCERPT))}`;
    return { fields: null, error: cut ? `${problem}; ${cut}` : problem };
  }

  close(): void {
    for (const fd of this.fds) closeSync(fd);
  }
}

/** Everything counted while the files stream past. */
class Tally {
  readonly fields = new Map<string, FieldStats>();
  readonly latency = new NumberSeries();
  /** The first answer field seen holding a number. */
  numberField: string | null = null;
  readonly report: Counts = {
    lines: 0,
    succeeded: 0,
    failed: 0,
    failures_by_code: {},
    malformed: { count: 0, lines: [] },
    duplicates: 0,
    tokens: { prompt: 0, completion: 0, cached: 0 },
    finish_reasons: {},
    answers: { parsed: 0, repaired: 0, unparseable: { count: 0, custom_ids: [] }, empty: 0 },
  };

  constructor(
    readonly results: ResultIndex,
    private readonly sortBy: string | undefined,
    readonly rules: ReadonlyMap<string, FieldRule>,
  ) {}

  malformed(file: string, line: number, problem: string): void {
    this.report.lines++;
    const { malformed } = this.report;
    if (malformed.count++ < LISTED) malformed.lines.push({ file, line, problem });
  }

  add(outcome: Outcome, position: Position): void {
    const { report, results } = this;
    report.lines++;
    const index = results.add(outcome.customId, position);
    if (index === null) {
      report.duplicates++;
      return;
    }
    if (!outcome.ok) {
      report.failed++;
      report.failures_by_code[outcome.code] = (report.failures_by_code[outcome.code] ?? 0) + 1;
      results.setStatus(index, outcome.code);
      return;
    }
    report.succeeded++;
    if (outcome.usage) {
      report.tokens.prompt += tokens(outcome.usage.prompt_tokens);
      report.tokens.completion += tokens(outcome.usage.completion_tokens);
      if (isObject(outcome.usage.prompt_tokens_details))
        report.tokens.cached += tokens(outcome.usage.prompt_tokens_details.cached_tokens);
    }
    if (outcome.finishReason)
      report.finish_reasons[outcome.finishReason] = (report.finish_reasons[outcome.finishReason] ?? 0) + 1;
    if (outcome.latencyMs !== null) this.latency.add(outcome.latencyMs);
    const answer = parseAnswer(outcome.content);
    if (answer.kind === 'empty') {
      report.answers.empty++;
      results.setStatus(index, 'empty');
      return;
    }
    if (answer.kind === 'unparseable') {
      const { unparseable } = report.answers;
      if (unparseable.count++ < LISTED) unparseable.custom_ids.push(outcome.customId);
      results.setStatus(index, 'unparseable');
      return;
    }
    report.answers.parsed++;
    if (answer.repaired) report.answers.repaired++;
    results.setStatus(index, 'ok');
    for (const [name, value] of Object.entries(answer.fields)) {
      let stats = this.fields.get(name);
      if (!stats) this.fields.set(name, (stats = new FieldStats(this.rules.get(name))));
      stats.add(value, outcome.customId);
      if (this.numberField === null && typeof value === 'number' && Number.isFinite(value)) this.numberField = name;
    }
    if (this.sortBy !== undefined) results.setSortValue(index, sortValueOf(answer.fields[this.sortBy]));
    // Out-of-range values and non-numbers are not ranked: they sort after the valid ones.
    const number =
      this.numberField === null ? null : validNumber(answer.fields[this.numberField], this.rules.get(this.numberField));
    if (number !== null) results.setFirstNumber(index, number);
  }
}

const sortValueOf = (value: unknown): number | string | null =>
  (typeof value === 'number' && Number.isFinite(value)) || typeof value === 'string' ? value : null;

async function scanFile(tally: Tally, file: number, path: string): Promise<void> {
  const name = basename(path);
  let offset = 0;
  for await (const line of readLines(path)) {
    const position = { file, offset, length: line.size };
    offset += line.size + 1;
    if (line.bytes === null) {
      tally.malformed(name, line.number, `longer than ${DEFAULT_MAX_LINE_BYTES} bytes`);
      continue;
    }
    const text = line.bytes.toString('utf8');
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      if (text.trim() !== '') tally.malformed(name, line.number, 'not valid JSON');
      continue;
    }
    const outcome = outcomeOf(parsed);
    if (typeof outcome === 'string') tally.malformed(name, line.number, outcome);
    else tally.add(outcome, position);
  }
}

function requireFile(path: string): void {
  let isFile: boolean;
  try {
    isFile = statSync(path).isFile();
  } catch {
    throw new AnalysisError(`no such file: ${path}`);
  }
  if (!isFile) throw new AnalysisError(`not a file: ${path}`);
}

export const defaultCsvPath = (output: string): string => `${output.replace(/\.jsonl?$/i, '')}.scored.csv`;

export async function analyzeResults(options: AnalyzeOptions): Promise<AnalysisReport> {
  const paths = [options.output, ...(options.errors ? [options.errors] : [])];
  for (const path of [...paths, ...(options.source ? [options.source] : []), ...(options.input ? [options.input] : [])])
    requireFile(path);
  const csv = options.csv ?? defaultCsvPath(options.output);
  if (options.source && [...paths, options.source].some((path) => resolve(path) === resolve(csv))) {
    throw new AnalysisError(`--csv ${csv} would overwrite an input file`);
  }

  const rules = options.input ? await readFieldRules(options.input) : new Map<string, FieldRule>();
  const results = new ResultIndex(paths);
  try {
    const tally = new Tally(results, options.sortBy, rules);
    for (const [file, path] of paths.entries()) await scanFile(tally, file, path);
    const fields = Object.fromEntries([...tally.fields].map(([name, stats]) => [name, stats.summary()]));

    // Top and bottom follow --sort-by when it names an answer field, else the first numeric one.
    // A number field sorts by its valid numbers only.
    const bySortBy = options.sortBy !== undefined && tally.fields.has(options.sortBy);
    if (options.sortBy !== undefined && !bySortBy && !options.source)
      throw new AnalysisError(`--sort-by ${options.sortBy}: no answer has that field`);
    const sortField = bySortBy ? options.sortBy! : tally.numberField;
    const numeric = bySortBy && fields[options.sortBy!]!.type === 'number';
    const rule = bySortBy ? rules.get(options.sortBy!) : undefined;
    const answerKey = (index: number): number | string | null =>
      !bySortBy
        ? results.firstNumber(index)
        : numeric
          ? validNumber(results.sortValue(index), rule)
          : results.sortValue(index);
    const { top, bottom } = extremes(results, answerKey, options.top ?? 5);
    const { answers, ...counts } = tally.report;
    const report: AnalysisReport = {
      output_file: options.output,
      error_file: options.errors ?? null,
      ...counts,
      latency_ms: latencyOf(tally.latency),
      answers: { ...answers, fields },
      sort_by: sortField,
      top,
      bottom,
    };
    if (options.source) {
      const sortName = options.sortBy ?? tally.numberField;
      const sort: JoinSort | null =
        sortName === null
          ? null
          : {
              field: sortName,
              order: options.order ?? 'desc',
              ...(options.sortBy === undefined || bySortBy ? { answerKey } : {}),
            };
      const { source, idColumn, encoding } = options;
      report.csv = await joinSource({
        source,
        csv,
        idColumn,
        encoding,
        results,
        answerFields: [...tally.fields.keys()],
        sort,
      });
    }
    return report;
  } finally {
    results.close();
  }
}

function latencyOf(series: NumberSeries): AnalysisReport['latency_ms'] {
  const summary = series.summary();
  return summary && { count: summary.count, p50: summary.p50, p95: summary.p95, p99: summary.p99 };
}

/** The `count` highest and lowest answered results by their sort value. */
function extremes(
  results: ResultIndex,
  keyOf: (index: number) => number | string | null,
  count: number,
): { top: TopRow[]; bottom: TopRow[] } {
  const keyed: number[] = [];
  for (let index = 0; index < results.ids.size; index++)
    if (results.status(index) === 'ok' && keyOf(index) !== null) keyed.push(index);
  const keys = normaliseKeys(keyed.map(keyOf));
  const order = keyed.map((_, position) => position).sort((a, b) => compareKeys(keys[b]!, keys[a]!));
  const top = order.slice(0, count).map((position) => keyed[position]!);
  const bottom = order
    .slice(Math.max(0, order.length - count))
    .reverse()
    .map((position) => keyed[position]!);
  const wanted = new Set([...top, ...bottom]);
  const idOf = new Map<number, string>();
  for (const [id, index] of results.ids) if (wanted.has(index)) idOf.set(index, id);
  const row = (index: number): TopRow => ({
    custom_id: idOf.get(index)!,
    value: keyOf(index)!,
    reason: reasonOf(results.details(index).fields),
  });
  return { top: top.map(row), bottom: bottom.map(row) };
}

function reasonOf(fields: Record<string, unknown> | null): string | null {
  const name = Object.keys(fields ?? {}).find((key) => REASON_FIELD.test(key) && typeof fields![key] === 'string');
  if (!name) return null;
  const reason = (fields![name] as string).replace(/\s+/g, ' ').trim();
  return reason.length > REASON_LENGTH ? `${reason.slice(0, REASON_LENGTH - 1)}…` : reason;
}
