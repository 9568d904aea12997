// Analysis of a batch's results: counts, tokens, latency and the statistics of the structured
// answers, streamed from the output and error files. Only a small index entry per custom_id is
// kept (where its line is, its status and sort values); lines are read back by position when
// their answer is needed again (the top rows, the joined CSV).
// Each answer is checked against the batch's whole JSON schema by the one answer check: one that
// breaks it is `invalid`, with the reason, and is neither counted in the field statistics nor
// ranked. A running batch is analysed as far as its journals go, and the report says so.
import { closeSync, existsSync, openSync, readSync, statSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { basename, resolve } from 'node:path';
import { isObject } from '../common/is-object.js';
import type { CsvEncoding } from '../csv/encoding.js';
import { DEFAULT_MAX_LINE_BYTES, readLines, wholeLinesLength } from '../jsonl/lines.js';
import { checkValue, schemaValidator } from '../openai/answer-check.js';
import type { TokenLogprob } from '../openai/types.js';
import { parseAnswer } from '../openai/answer-text.js';
import { expectedScore } from './expected-score.js';
import {
  AnalysisError,
  compareKeys,
  joinSource,
  normaliseKeys,
  type JoinResults,
  type JoinSort,
  type JoinSummary,
} from './join.js';
import { fieldRules, propertySchema, readAnswerSchema } from './schema.js';
import { Columns, FieldStats, NumberSeries, numberOf, type FieldRule, type FieldSummary } from './stats.js';
import { textOf } from '../common/text-of.js';
import type { CascadeSummary } from '../protocol/jobs.js';

export { AnalysisError };

export interface AnalyzeOptions {
  /** The batch output JSONL. */
  output: string;
  /** The batch error JSONL. */
  errors?: string;
  /** The batch input JSONL: its first request's json_schema response_format is the schema every
   *  answer is checked against. */
  input?: string;
  /** The CSV the batch was made from: joins the answers to its rows. */
  source?: string;
  idColumn?: string;
  /** The source's text encoding; default detected, as `convert` does. */
  encoding?: CsvEncoding;
  /** Where the joined CSV goes; default `<output without .jsonl>.scored.csv`. */
  csv?: string;
  /** False: the joined CSV's cells as they are, for a viewer; default true, neutralised for spreadsheets. */
  neutralise?: boolean;
  /** An answer field or a source column; default the first numeric answer field. */
  sortBy?: string;
  /** The joined CSV's order; default desc. */
  order?: 'asc' | 'desc';
  /** How many top, bottom and most uncertain rows to list; default 5. */
  top?: number;
  /** The batch is still running: its files are journals being written, so a torn last line is
   *  skipped and a file not made yet is empty, and the report says it is partial. */
  running?: { status: string; total: number };
}

export interface TopRow {
  custom_id: string;
  /** The answer's value of the sort field. */
  value: number | string;
  /** The expected score and its standard deviation, when the answer's logprobs gave them. */
  expected: number | null;
  sd: number | null;
  /** A short excerpt of the answer's reason field, when it has one. */
  reason: string | null;
}

/** Expected scores from the logprobs at the score's tokens (see expected-score.ts). */
export interface ExpectedScores {
  /** The score field: the one ranked by default. */
  field: string;
  /** The scored CSV's columns holding them, after the score's. */
  columns: { expected: string; sd: string };
  /** Valid answers with an expected score, and without one (no logprobs at the score's tokens). */
  rows: number;
  without: number;
  /** The valid answers whose score is least certain (largest sd) first: the ones to review. */
  most_uncertain: TopRow[];
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
    /** Whether the answers were checked against a JSON schema (the input's json_schema). */
    schema: boolean;
    /** Parsed answers that follow the schema (every parsed one without a schema): the `ok` rows. */
    valid: number;
    /** Includes the repaired ones and the invalid ones. */
    parsed: number;
    repaired: number;
    /** Parsed answers that break the schema, the first few named, counted by reason. */
    invalid: { count: number; custom_ids: string[]; reasons: Record<string, number> };
    unparseable: { count: number; custom_ids: string[] };
    empty: number;
    /** Of the valid answers. */
    fields: Record<string, FieldSummary>;
  };
  /** Null when no answer's score had logprobs to weigh, or there is no score field. */
  expected_scores: ExpectedScores | null;
  /** Set while the batch runs: the report covers the lines done so far. */
  partial: { done: number; total: number; status: string } | null;
  /** The field that orders `top` and `bottom`. */
  sort_by: string | null;
  /** The highest values first. */
  top: TopRow[];
  /** The lowest values first. */
  bottom: TopRow[];
  csv?: JoinSummary;
  /** Set by cascade/ where the batch is either pass of a cascade. */
  cascade?: CascadeSummary;
}

const LISTED = 20;
/** Distinct invalid reasons counted; the rest are counted together. */
const REASONS = 20;
const OTHER_REASONS = 'other reasons';
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
      logprobs: TokenLogprob[] | null;
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
      logprobs:
        isObject(choice.logprobs) && Array.isArray(choice.logprobs.content)
          ? tokenLogprobs(choice.logprobs.content)
          : null,
    };
  }
  const error = isObject(body.error) ? body.error : {};
  const code =
    error.code ??
    error.type ??
    (response.status_code === 200 ? 'no_completion' : `http_${textOf(response.status_code)}`);
  return { ok: false, customId, code: textOf(code), message: textOf(error.message ?? '') };
}

/** The logprobs as OpenAI writes them, or null when an entry is not one (then none are used). */
function tokenLogprobs(content: unknown[]): TokenLogprob[] | null {
  const wellFormed = content.every(
    (entry) =>
      isObject(entry) &&
      typeof entry.token === 'string' &&
      typeof entry.logprob === 'number' &&
      Array.isArray(entry.top_logprobs) &&
      entry.top_logprobs.every(
        (top: unknown) => isObject(top) && typeof top.token === 'string' && typeof top.logprob === 'number',
      ),
  );
  return wellFormed ? (content as TokenLogprob[]) : null;
}

const tokens = (value: unknown): number => (typeof value === 'number' && Number.isFinite(value) ? value : 0);

/** The parts of the report that are plain counts. */
type Counts = Omit<
  AnalysisReport,
  | 'output_file'
  | 'error_file'
  | 'latency_ms'
  | 'answers'
  | 'expected_scores'
  | 'partial'
  | 'sort_by'
  | 'top'
  | 'bottom'
  | 'csv'
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
    /** The value of the score field (the first numeric answer field); NaN when there is none. */
    firstNumbers: new Float64Array(1024),
    /** The score's expected value and standard deviation from its logprobs; NaN without them.
     *  Single precision (7 digits) is plenty for a score and halves what 170,000 rows take. */
    expected: new Float32Array(1024),
    sds: new Float32Array(1024),
  });
  /** The scored CSV's columns of the expected score, once one is known. */
  scoreColumns: ExpectedScores['columns'] | null = null;
  /** The value of --sort-by in each answer (only set when it is given). */
  private readonly sortValues: Array<number | string | null> = [];
  private readonly fds: number[];
  /** Lines are read back into this one buffer: a buffer per line would churn memory. */
  private scratch = Buffer.allocUnsafe(64 * 1024);

  constructor(
    paths: string[],
    private readonly schema: Record<string, unknown> | undefined,
  ) {
    this.fds = paths.map((path) => openSync(path, 'r'));
  }

  /** The new result's index, or null when the custom_id has one already. */
  add(customId: string, position: Position): number | null {
    if (this.ids.has(customId)) return null;
    const index = this.columns.push();
    this.ids.set(customId, index);
    const { files, offsets, lengths, firstNumbers, expected, sds } = this.columns.arrays;
    files[index] = position.file;
    offsets[index] = position.offset;
    lengths[index] = position.length;
    firstNumbers[index] = NaN;
    expected[index] = NaN;
    sds[index] = NaN;
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

  setExpected(index: number, expected: number, sd: number): void {
    this.columns.arrays.expected[index] = expected;
    this.columns.arrays.sds[index] = sd;
  }

  /** The expected score and its standard deviation; null without them. */
  expected(index: number): { expected: number; sd: number } | null {
    const expected = this.columns.arrays.expected[index]!;
    return Number.isNaN(expected) ? null : { expected, sd: this.columns.arrays.sds[index]! };
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
    if (answer.kind === 'parsed') {
      const check = checkValue(answer.fields, this.schema);
      const error = check.valid ? cut : [check.reason, cut].filter(Boolean).join('; ');
      const cells = this.expectedCells(index);
      return { fields: cells ? { ...answer.fields, ...cells } : answer.fields, error };
    }
    const problem =
      answer.kind === 'empty'
        ? 'empty answer'
        : `not JSON: ${JSON.stringify(String(outcome.content).slice(0, ERROR_EXCERPT))}`;
    return { fields: null, error: cut ? `${problem}; ${cut}` : problem };
  }

  /** The expected score's cells, to 6 significant digits; null when the row has none. */
  private expectedCells(index: number): Record<string, number> | null {
    const score = this.expected(index);
    if (!score || !this.scoreColumns) return null;
    const round = (value: number): number => Number(value.toPrecision(6));
    return { [this.scoreColumns.expected]: round(score.expected), [this.scoreColumns.sd]: round(score.sd) };
  }

  close(): void {
    for (const fd of this.fds) closeSync(fd);
  }
}

/** Everything counted while the files stream past. */
class Tally {
  readonly fields = new Map<string, FieldStats>();
  readonly latency = new NumberSeries();
  /** The score field: the schema's first numeric property, else the first answer field seen holding a number. */
  numberField: string | null;
  /** Valid answers with and without an expected score. */
  readonly expected = { rows: 0, without: 0 };
  private readonly rules: ReadonlyMap<string, FieldRule>;
  /** Per field, whether a number is one its schema allows. */
  private readonly allowedCache = new Map<string, (value: number) => boolean>();
  readonly report: Counts = {
    lines: 0,
    succeeded: 0,
    failed: 0,
    failures_by_code: {},
    malformed: { count: 0, lines: [] },
    duplicates: 0,
    tokens: { prompt: 0, completion: 0, cached: 0 },
    finish_reasons: {},
    answers: {
      schema: false,
      valid: 0,
      parsed: 0,
      repaired: 0,
      invalid: { count: 0, custom_ids: [], reasons: {} },
      unparseable: { count: 0, custom_ids: [] },
      empty: 0,
    },
  };

  constructor(
    readonly results: ResultIndex,
    private readonly sortBy: string | undefined,
    private readonly schema: Record<string, unknown> | undefined,
  ) {
    this.rules = fieldRules(schema);
    this.report.answers.schema = schema !== undefined;
    this.numberField = [...this.rules].find(([, rule]) => rule.numeric)?.[0] ?? null;
    // The schema's fields are summarised (and are the CSV's columns, in its order) even when no answer is valid.
    for (const [name, rule] of this.rules) this.fields.set(name, new FieldStats(rule));
  }

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
    const check = checkValue(answer.fields, this.schema);
    if (!check.valid) {
      this.invalid(outcome.customId, check.reason);
      results.setStatus(index, 'invalid');
      return;
    }
    report.answers.valid++;
    results.setStatus(index, 'ok');
    for (const [name, value] of Object.entries(answer.fields)) {
      let stats = this.fields.get(name);
      if (!stats) this.fields.set(name, (stats = new FieldStats(this.rules.get(name))));
      stats.add(value);
      if (this.numberField === null && typeof value === 'number' && Number.isFinite(value)) this.numberField = name;
    }
    if (this.sortBy !== undefined) results.setSortValue(index, sortValueOf(answer.fields[this.sortBy]));
    if (this.numberField === null) return;
    const number = numberOf(answer.fields[this.numberField]);
    if (number === null) return;
    results.setFirstNumber(index, number);
    const score =
      outcome.logprobs && typeof outcome.content === 'string'
        ? expectedScore(outcome.content, outcome.logprobs, this.numberField, this.allowed(this.numberField))
        : null;
    if (score) results.setExpected(index, score.expected, score.sd);
    this.expected[score ? 'rows' : 'without']++;
  }

  private invalid(customId: string, reason: string): void {
    const { invalid } = this.report.answers;
    if (invalid.count++ < LISTED) invalid.custom_ids.push(customId);
    const known = Object.hasOwn(invalid.reasons, reason) || Object.keys(invalid.reasons).length < REASONS;
    const key = known ? reason : OTHER_REASONS;
    invalid.reasons[key] = (invalid.reasons[key] ?? 0) + 1;
  }

  /** Whether a number is one the field's schema allows (any number without one, or where it does not compile alone). */
  private allowed(field: string): (value: number) => boolean {
    let allowed = this.allowedCache.get(field);
    if (!allowed) {
      const schema = this.schema && propertySchema(this.schema, field);
      const validate = schema ? schemaValidator(schema) : null;
      allowed = validate && !(validate instanceof Error) ? (value) => validate(value) : () => true;
      this.allowedCache.set(field, allowed);
    }
    return allowed;
  }
}

const sortValueOf = (value: unknown): number | string | null =>
  (typeof value === 'number' && Number.isFinite(value)) || typeof value === 'string' ? value : null;

/** The whole lines of a journal being written: a line is written with its newline, so a last
 *  line without one is still being written (torn) and is left for the next analysis. */
async function wholeLinesOf(path: string): Promise<number> {
  const handle = await open(path, 'r');
  try {
    return await wholeLinesLength(handle, (await handle.stat()).size);
  } finally {
    await handle.close();
  }
}

async function scanFile(tally: Tally, file: number, path: string, running: boolean): Promise<void> {
  const name = basename(path);
  const end = running ? await wholeLinesOf(path) : undefined;
  if (end === 0) return;
  let offset = 0;
  for await (const line of readLines(path, { end })) {
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
  const { running } = options;
  // A running batch's journals are made when its first line is written.
  const paths = [options.output, ...(options.errors ? [options.errors] : [])].filter(
    (path) => !running || existsSync(path),
  );
  for (const path of [...paths, ...(options.source ? [options.source] : []), ...(options.input ? [options.input] : [])])
    requireFile(path);
  const csv = options.csv ?? defaultCsvPath(options.output);
  if (options.source && [...paths, options.source].some((path) => resolve(path) === resolve(csv))) {
    throw new AnalysisError(`--csv ${csv} would overwrite an input file`);
  }

  const schema = options.input ? await readAnswerSchema(options.input) : undefined;
  const results = new ResultIndex(paths, schema);
  try {
    const tally = new Tally(results, options.sortBy, schema);
    for (const [file, path] of paths.entries()) await scanFile(tally, file, path, running !== undefined);
    const fields = Object.fromEntries([...tally.fields].map(([name, stats]) => [name, stats.summary()]));

    // Top and bottom follow --sort-by when it names an answer field, else the score field (the
    // first numeric one), ranked by its expected value where the logprobs gave one.
    const bySortBy = options.sortBy !== undefined && tally.fields.has(options.sortBy);
    if (options.sortBy !== undefined && !bySortBy && !options.source)
      throw new AnalysisError(`--sort-by ${options.sortBy}: no answer has that field`);
    const sortField = bySortBy ? options.sortBy! : tally.numberField;
    const byScore = !bySortBy || options.sortBy === tally.numberField;
    const numeric = bySortBy && fields[options.sortBy!]!.type === 'number';
    const valueOf = (index: number): number | string | null =>
      byScore ? results.firstNumber(index) : numeric ? numberOf(results.sortValue(index)) : results.sortValue(index);
    const answerKey = (index: number): number | string | null =>
      (byScore ? results.expected(index)?.expected : undefined) ?? valueOf(index);
    const count = options.top ?? 5;
    const { top: topRows, bottom: bottomRows } = extremes(results, answerKey, count);
    const uncertainRows = mostUncertain(results, count);
    const [top, bottom, uncertain] = rowsOf(results, valueOf, [topRows, bottomRows, uncertainRows]);
    const expectedScores = expectedOf(tally, uncertain!);
    results.scoreColumns = expectedScores?.columns ?? null;
    const { answers, ...counts } = tally.report;
    const report: AnalysisReport = {
      output_file: options.output,
      error_file: options.errors ?? null,
      ...counts,
      latency_ms: latencyOf(tally.latency),
      answers: { ...answers, fields },
      expected_scores: expectedScores,
      partial: running
        ? { done: counts.succeeded + counts.failed, total: running.total, status: running.status }
        : null,
      sort_by: sortField,
      top: top!,
      bottom: bottom!,
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
      const answerFields = [...tally.fields.keys()];
      // The expected score's columns go right after the score's.
      if (expectedScores) {
        const { expected, sd } = expectedScores.columns;
        answerFields.splice(answerFields.indexOf(expectedScores.field) + 1, 0, expected, sd);
      }
      const { source, idColumn, encoding, neutralise } = options;
      report.csv = await joinSource({ source, csv, idColumn, encoding, results, answerFields, sort, neutralise });
    }
    return report;
  } finally {
    results.close();
  }
}

/** The expected scores' summary; null when no valid answer had logprobs at its score. */
function expectedOf(tally: Tally, mostUncertain: TopRow[]): ExpectedScores | null {
  const field = tally.numberField;
  if (field === null || tally.expected.rows === 0) return null;
  return {
    field,
    columns: { expected: `${field}_expected`, sd: `${field}_sd` },
    rows: tally.expected.rows,
    without: tally.expected.without,
    most_uncertain: mostUncertain,
  };
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
): { top: number[]; bottom: number[] } {
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
  return { top, bottom };
}

/** The `count` valid answers with the largest spread of their expected score. */
function mostUncertain(results: ResultIndex, count: number): number[] {
  const scored: number[] = [];
  for (let index = 0; index < results.ids.size; index++)
    if (results.status(index) === 'ok' && results.expected(index)) scored.push(index);
  return scored.sort((a, b) => results.expected(b)!.sd - results.expected(a)!.sd).slice(0, count);
}

/** The listed rows, each with its custom_id (found in one pass over the ids), value and reason. */
function rowsOf(
  results: ResultIndex,
  valueOf: (index: number) => number | string | null,
  lists: number[][],
): TopRow[][] {
  const wanted = new Set(lists.flat());
  const idOf = new Map<number, string>();
  for (const [id, index] of results.ids) if (wanted.has(index)) idOf.set(index, id);
  const row = (index: number): TopRow => {
    const score = results.expected(index);
    return {
      custom_id: idOf.get(index)!,
      value: valueOf(index)!,
      expected: score?.expected ?? null,
      sd: score?.sd ?? null,
      reason: reasonOf(results.details(index).fields),
    };
  };
  return lists.map((list) => list.map(row));
}

function reasonOf(fields: Record<string, unknown> | null): string | null {
  const name = Object.keys(fields ?? {}).find((key) => REASON_FIELD.test(key) && typeof fields![key] === 'string');
  if (!name) return null;
  const reason = (fields![name] as string).replace(/\s+/g, ' ').trim();
  return reason.length > REASON_LENGTH ? `${reason.slice(0, REASON_LENGTH - 1)}…` : reason;
}
