// `convert`: a CSV of rows into a batch input JSONL, one chat request per row, streamed in flat
// memory. Rows that cannot make a request (too few or too many fields, empty, undecodable bytes,
// an empty id) are reported by the line they start on, and skipped or, on request, kept. Problems
// that make the whole batch wrong (an unknown column, a duplicate id, nothing to write) stop it,
// and no output file is left behind. The report ends with a pre-run estimate of tokens and time.
import { basename } from 'node:path';
import { pipeline } from 'node:stream';
import { CsvError, parse } from 'csv-parse';
import { DEFAULT_MAX_LINE_BYTES } from '../jsonl/lines.js';
import type { BatchInputLine } from '../protocol/openai.js';
import { detectDialect } from './dialect.js';
import { readAsUtf8, sniffEncoding, type CsvEncoding, type SniffedFile } from './encoding.js';
import { EstimateAccumulator, type ConvertEstimate, type Throughput } from './estimate.js';
import type { ReasoningEffort } from '../protocol/openai.js';
import { DEFAULT_TOP_LOGPROBS } from '../protocol/jobs.js';
import { RequestFile, RequestLineFormat, type RequestOptions } from './request-lines.js';
import { ScoreSchemaError, scoreFieldOf, scoreMaxTokens, scoreOnlySchema } from '../openai/score-schema.js';
import { compileTemplate, defaultTemplate, renderTemplate, TemplateError, type Template } from './template.js';
import { countTextTokens, TemplateTokenCounter } from '../context/tokens.js';

/** How many skipped (and kept bad) rows a report lists; its counts include the rest. */
export const MAX_LISTED_ROWS = 1000;
/** The delimiters detected from the header line; others can be given. */

export class ConvertError extends Error {}

export interface ConvertOptions extends RequestOptions {
  input: string;
  /** The JSONL to write; without one (a dry run) nothing is written. */
  output?: string;
  /** `{{column}}` template text for the user message; without one, every column as `column: value`. */
  template?: string;
  /** The column whose values are the custom_ids; without one, `row-N` for the Nth row. */
  idColumn?: string;
  delimiter?: string;
  encoding?: CsvEncoding;
  /** Keep rows with too few or too many fields or undecodable bytes (padded or cut), reported. */
  keepBadRows?: boolean;
  /** The num_ctx setting the estimate checks each line against (default ASSUMED_NUM_CTX), within the two limits below. */
  numCtx?: number;
  /** The model's own context limit, as the engine tells it. */
  modelContextLength?: number;
  /** The num_ctx learned to hold for the model. */
  learnedNumCtx?: number;
  throughput?: Throughput;
  calibrationFactor?: number;
  /**
   * Also write a cascade's first pass: the score-only requests of every row (the schema's score
   * field alone, a small max_tokens, no thinking), to `scoreOutputPath(output)`.
   */
  cascade?: boolean;
  /** The schema field that ranks the rows in a cascade (default: its first integer or number property). */
  scoreField?: string;
  /** The share of rows a cascade's second pass explains, for the estimate (default 0.1). */
  shortlistShare?: number;
}

/** Where a cascade's score-only requests go: FILE.jsonl → FILE.score.jsonl. */
export const scoreOutputPath = (output: string): string => `${output.replace(/\.jsonl$/i, '')}.score.jsonl`;

/** A cascade's first pass, as convert wrote it. */
export interface CascadeConversion {
  /** null in a dry run. */
  score_output: string | null;
  score_field: string;
  score_max_tokens: number;
  /** Pass 1's top_logprobs (its expected scores rank the rows); null when they ask for none. */
  score_top_logprobs: number | null;
  score_schema: Record<string, unknown>;
  /** The first score-only request line. */
  score_sample: BatchInputLine | null;
}

export interface RowProblem {
  /** The line of the file where the row starts. */
  line: number;
  reason: string;
}

export interface ConvertReport {
  input: string;
  /** null in a dry run. */
  output: string | null;
  encoding: CsvEncoding;
  delimiter: string;
  columns: string[];
  /** Rows after the header, bad ones included. */
  rows_read: number;
  /** Request lines written (in a dry run: that would be written). */
  lines_written: number;
  /** The first MAX_LISTED_ROWS skipped rows. */
  skipped: RowProblem[];
  skipped_count: number;
  /** The first MAX_LISTED_ROWS rows kept in spite of a problem (keepBadRows). */
  kept_bad_rows: RowProblem[];
  kept_bad_rows_count: number;
  /** The first request line. */
  sample: BatchInputLine | null;
  /** The requests' reasoning_effort: "none" by default where answers follow a schema; null leaves it to the model. */
  reasoning_effort: ReasoningEffort | null;
  /** The requests' top_logprobs (expected scores in the analysis); null when they ask for none (by default a cascade's full answers). */
  top_logprobs: number | null;
  /** Null without --cascade. */
  cascade: CascadeConversion | null;
  estimate: ConvertEstimate;
}

/** Lists the first problems and counts them all, so a file of 170,000 bad rows stays small. */
class RowLog {
  readonly listed: RowProblem[] = [];
  count = 0;

  add(line: number, reason: string): void {
    this.count++;
    if (this.listed.length < MAX_LISTED_ROWS) this.listed.push({ line, reason });
  }
}

const ENCODING_NAMES: Record<CsvEncoding, string> = {
  utf8: 'UTF-8',
  utf16le: 'UTF-16',
  utf16be: 'UTF-16',
  latin1: 'Latin-1',
};
const EMPTY_ROW = 'empty row';
const mebibytes = (bytes: number): string => `${(bytes / 1024 / 1024).toFixed(1)} MiB`;

function lineBreaks(fields: readonly string[]): number {
  let count = 0;
  for (const field of fields) {
    for (let index = field.indexOf('\n'); index !== -1; index = field.indexOf('\n', index + 1)) count++;
  }
  return count;
}

/**
 * The line of each custom_id so far, to name both lines of a duplicate. Ids in ascending order
 * (as most exports have them) cannot repeat an earlier one, so they only go in a list: a hash
 * table of 170,000 ids took a sixth of the conversion's time. The first id out of order turns the
 * list into the table.
 */
class IdLines {
  private ids: string[] | null = [];
  private lines: number[] = [];
  private readonly table = new Map<string, number>();

  /** Records the id; returns the line of an earlier equal one, if any. */
  add(id: string, line: number): number | undefined {
    if (this.ids !== null) {
      if (this.ids.length === 0 || id > this.ids.at(-1)!) {
        this.ids.push(id);
        this.lines.push(line);
        return undefined;
      }
      this.ids.forEach((earlier, index) => this.table.set(earlier, this.lines[index]!));
      this.ids = null;
      this.lines = [];
    }
    const first = this.table.get(id);
    if (first === undefined) this.table.set(id, line);
    return first;
  }
}

/** Pads a short row with empty fields and cuts a long one. */
function fitToColumns(fields: string[], count: number): void {
  while (fields.length < count) fields.push('');
  fields.length = count;
}

/** One conversion, from its header on: turns each row into a request line or a reported skip. */
class Conversion {
  readonly skipped = new RowLog();
  readonly kept = new RowLog();
  rowsRead = 0;
  linesWritten = 0;
  sample: BatchInputLine | null = null;
  readonly estimate: EstimateAccumulator;
  private readonly template: Template;
  private readonly idColumn: number;
  /** Only with an id column: row-N ids are unique. */
  private readonly idLines = new IdLines();
  private readonly tokens: TemplateTokenCounter;
  private readonly format: RequestLineFormat;
  file: RequestFile | null = null;
  /** A cascade's first pass: the score-only line format and file. */
  readonly score: { format: RequestLineFormat; options: RequestOptions; field: string } | null;
  scoreFile: RequestFile | null = null;
  scoreSample: BatchInputLine | null = null;

  /** Checks the template and the id column against the header, then opens the output. */
  static async start(
    name: string,
    columns: string[],
    options: ConvertOptions,
    encoding: CsvEncoding,
  ): Promise<Conversion> {
    const conversion = new Conversion(name, columns, options, encoding);
    if (options.output !== undefined) {
      conversion.file = await RequestFile.open(options.output, conversion.format);
      if (conversion.score)
        conversion.scoreFile = await RequestFile.open(scoreOutputPath(options.output), conversion.score.format);
    }
    return conversion;
  }

  private constructor(
    private readonly name: string,
    readonly columns: string[],
    private readonly options: ConvertOptions,
    private readonly encoding: CsvEncoding,
  ) {
    const known = `the columns are: ${columns.join(', ')}`;
    try {
      this.template =
        options.template === undefined ? defaultTemplate(columns) : compileTemplate(options.template, columns);
    } catch (error) {
      if (error instanceof TemplateError) throw new ConvertError(`${name}: ${error.message}`);
      throw error;
    }
    this.idColumn = options.idColumn === undefined ? -1 : columns.indexOf(options.idColumn);
    if (options.idColumn !== undefined && this.idColumn === -1)
      throw new ConvertError(`${name}: there is no id column "${options.idColumn}"; ${known}`);
    this.tokens = new TemplateTokenCounter(this.template.statics);
    this.score = options.cascade ? scorePass(name, options) : null;
    this.estimate = new EstimateAccumulator({
      systemPrompt: options.systemPrompt,
      reasoningEffort: options.reasoningEffort,
      shortlistShare: options.shortlistShare,
      ...(this.score && { scoreAnswer: JSON.stringify({ [this.score.field]: 100 }) }),
      numCtx: options.numCtx,
      modelContextLength: options.modelContextLength,
      learnedNumCtx: options.learnedNumCtx,
      maxTokens: options.maxTokens,
      calibrationFactor: options.calibrationFactor,
      throughput: options.throughput,
    });
    this.format = new RequestLineFormat(options);
  }

  async row(fields: string[], line: number): Promise<void> {
    this.rowsRead++;
    const problem = this.problemOf(fields);
    if (problem === EMPTY_ROW || (problem !== null && !this.options.keepBadRows)) {
      this.skipped.add(line, problem);
      return;
    }
    if (problem !== null) {
      this.kept.add(line, problem);
      fitToColumns(fields, this.columns.length);
    }
    const id = this.idColumn === -1 ? `row-${this.rowsRead}` : fields[this.idColumn]!.trim();
    if (id === '') {
      this.skipped.add(line, `the id column "${this.options.idColumn}" is empty`);
      return;
    }
    const firstLine = this.idColumn === -1 ? undefined : this.idLines.add(id, line);
    if (firstLine !== undefined) {
      throw new ConvertError(
        `${this.name}: the id "${id}" (column "${this.options.idColumn}") is on line ${firstLine} and on line ${line}; custom_ids must be unique`,
      );
    }
    const user = renderTemplate(this.template, fields);
    const idJson = JSON.stringify(id);
    const userJson = JSON.stringify(user);
    const oversize = this.format.oversize(idJson, userJson);
    if (oversize !== null) {
      this.skipped.add(
        line,
        `the request would be ${mebibytes(oversize)}; a batch line may be at most ${mebibytes(DEFAULT_MAX_LINE_BYTES)}`,
      );
      return;
    }
    let userTokens = this.tokens.count(fields, this.template.slots);
    // The counter estimates; where a line's fit in the context window is at stake, count exactly.
    if (this.estimate.nearContextLimit(userTokens)) userTokens = countTextTokens(user);
    this.estimate.add(id, user, userTokens);
    this.sample ??= JSON.parse(this.format.line(idJson, userJson)) as BatchInputLine;
    if (this.score) this.scoreSample ??= JSON.parse(this.score.format.line(idJson, userJson)) as BatchInputLine;
    await this.file?.write(idJson, userJson);
    await this.scoreFile?.write(idJson, userJson);
    this.linesWritten++;
  }

  /** Why a row cannot be used as it is, or null. */
  private problemOf(fields: readonly string[]): string | null {
    if (fields.every((field) => field === '')) return EMPTY_ROW;
    if (fields.length !== this.columns.length) {
      return `has ${fields.length} field${fields.length === 1 ? '' : 's'}, the header has ${this.columns.length}`;
    }
    // Bytes the decoder could not read became U+FFFD.
    const column = fields.findIndex((field) => field.includes('\uFFFD'));
    if (column === -1) return null;
    const hint = this.encoding === 'utf8' ? ' (if the file is Latin-1, convert it with encoding latin1)' : '';
    return `column "${this.columns[column]}" has bytes that are not valid ${ENCODING_NAMES[this.encoding]}${hint}`;
  }
}

/** The score-only requests of a cascade's first pass: the score field alone, a small max_tokens, no thinking, and the top logprobs that rank the rows. */
function scorePass(name: string, options: ConvertOptions): NonNullable<Conversion['score']> {
  if (!options.schema)
    throw new ConvertError(`${name}: a cascade needs the answer schema (--schema), whose score field ranks the rows`);
  try {
    const field = scoreFieldOf(options.schema, options.scoreField);
    const scoreOptions: RequestOptions = {
      ...options,
      schema: scoreOnlySchema(options.schema, field),
      maxTokens: scoreMaxTokens(options.schema, field),
      reasoningEffort: 'none',
      topLogprobs: options.topLogprobs ?? DEFAULT_TOP_LOGPROBS,
    };
    return { format: new RequestLineFormat(scoreOptions), options: scoreOptions, field };
  } catch (error) {
    if (error instanceof ScoreSchemaError) throw new ConvertError(`${name}: ${error.message}`);
    throw error;
  }
}

function header(name: string, fields: readonly string[]): string[] {
  const columns = fields.map((column) => column.trim());
  if (columns.every((column) => column === '')) throw new ConvertError(`${name}: the header (line 1) is empty`);
  return columns;
}

async function sniff(options: ConvertOptions, name: string): Promise<SniffedFile> {
  try {
    return await sniffEncoding(options.input, options.encoding);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new ConvertError(`no such file: ${options.input}`);
    if (code === 'EISDIR') throw new ConvertError(`${name} is a directory, not a CSV file`);
    throw error;
  }
}

/** Converts options.input into options.output (or only reports, without an output). */
export async function convertCsv(asked: ConvertOptions): Promise<ConvertReport> {
  // Thinking is off by default where the answer follows a schema: a model that thinks by default
  // (Ollama's think left unset) would multiply every line's time for an answer the schema already shapes.
  const options: ConvertOptions = {
    ...asked,
    reasoningEffort: asked.reasoningEffort ?? (asked.schema ? 'none' : undefined),
    // The alternatives at the score's tokens give the analysis an expected score, which ranks
    // without the ties of integer scores: asked for wherever a schema shapes the answer. In a
    // cascade pass 1 asks for them (scorePass) and its scores rank every row, so pass 2's full
    // answers ask for none unless told: alternatives at each of a long answer's tokens cost the
    // engine time (on the embedded engine 1.4× the answer's) and make each output line tens of
    // kilobytes, for an expected score nothing uses.
    topLogprobs: asked.topLogprobs ?? (asked.schema && !asked.cascade ? DEFAULT_TOP_LOGPROBS : undefined),
  };
  const name = basename(options.input);
  const sniffed = await sniff(options, name);
  const { delimiter, recordDelimiter } = detectDialect(sniffed.head, options.delimiter);
  const records = pipeline(
    readAsUtf8(options.input, sniffed),
    parse({
      delimiter,
      record_delimiter: recordDelimiter,
      relax_column_count: true,
      relax_quotes: true,
      // A record this large cannot make a batch line; stop there rather than buffer a whole file
      // behind a quote that is never closed.
      max_record_size: DEFAULT_MAX_LINE_BYTES,
    }),
    // Errors reach the loop below through the parser.
    () => undefined,
  );
  let conversion: Conversion | undefined;
  try {
    let line = 1;
    for await (const fields of records as AsyncIterable<string[]>) {
      const start = line;
      line += 1 + lineBreaks(fields);
      if (conversion) await conversion.row(fields, start);
      else conversion = await Conversion.start(name, header(name, fields), options, sniffed.encoding);
    }
    if (!conversion) throw new ConvertError(`${name} is empty`);
    if (conversion.rowsRead === 0)
      throw new ConvertError(`${name}: nothing to convert, the file has a header but no rows`);
    if (conversion.linesWritten === 0) {
      const first = conversion.skipped.listed[0]!;
      throw new ConvertError(
        `${name}: nothing to convert, all ${conversion.rowsRead} rows were skipped (line ${first.line}: ${first.reason})`,
      );
    }
    await conversion.file?.commit();
    await conversion.scoreFile?.commit();
  } catch (error) {
    await conversion?.file?.discard();
    await conversion?.scoreFile?.discard();
    if (error instanceof CsvError) throw new ConvertError(`${name}: ${error.message}`);
    throw error;
  }
  return {
    input: options.input,
    output: options.output ?? null,
    encoding: sniffed.encoding,
    delimiter,
    columns: conversion.columns,
    rows_read: conversion.rowsRead,
    lines_written: conversion.linesWritten,
    skipped: conversion.skipped.listed,
    skipped_count: conversion.skipped.count,
    kept_bad_rows: conversion.kept.listed,
    kept_bad_rows_count: conversion.kept.count,
    sample: conversion.sample,
    reasoning_effort: options.reasoningEffort ?? null,
    top_logprobs: options.topLogprobs || null,
    cascade: conversion.score && {
      score_output: options.output === undefined ? null : scoreOutputPath(options.output),
      score_field: conversion.score.field,
      score_max_tokens: conversion.score.options.maxTokens!,
      score_top_logprobs: conversion.score.options.topLogprobs || null,
      score_schema: conversion.score.options.schema!,
      score_sample: conversion.scoreSample,
    },
    estimate: conversion.estimate.result(),
  };
}
