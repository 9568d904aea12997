// Joins results back to the source CSV by custom_id and writes every source row exactly once,
// sorted, with the answer fields, a status and an error column added, and a leading custom_id
// column when the ids are row numbers (row-N), so that every row names its request.
// Memory stays flat for large CSVs: one streamed pass over the source writes each row, already
// joined and formatted, to a temporary file and keeps only where that line is and its sort key;
// after sorting, the lines are copied from there into the CSV in order. (Recording each record's
// byte range with csv-parse's `info` and parsing the records again cost more memory and time.)
import { closeSync, openSync, readSync, rmSync, writeSync } from 'node:fs';
import { basename } from 'node:path';
import { pipeline } from 'node:stream';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { CsvError, parse } from 'csv-parse';
import { detectDialect } from '../csv/dialect.js';
import { readAsUtf8, sniffEncoding, type CsvEncoding, type SniffedFile } from '../csv/encoding.js';
import { DEFAULT_MAX_LINE_BYTES } from '../jsonl/lines.js';
import { NUMBER, neutralise, quote } from '../common/csv-cells.js';
import { Columns } from './stats.js';
import { textOf } from '../common/text-of.js';

/** A problem with the user's files or options; the message is one line for people. */
export class AnalysisError extends Error {}

/** The results to join, each known by an index. */
export interface JoinResults {
  readonly ids: ReadonlyMap<string, number>;
  /** 'ok' when the answer follows the schema; else 'invalid', 'unparseable', 'empty' or the error code. Only 'ok' rows are ranked. */
  status(index: number): string;
  /** The answer (with any derived cells, e.g. the expected score's) and the error text (an invalid
   *  answer's reason), read when the result's row is written. */
  details(index: number): { fields: Record<string, unknown> | null; error: string };
}

export interface JoinSort {
  field: string;
  order: 'asc' | 'desc';
  /** The sort value of an answer field; absent when `field` is a source column. */
  answerKey?: (index: number) => number | string | null;
}

export interface JoinOptions {
  source: string;
  csv: string;
  /** The column holding custom_ids; default: the one whose values match, else ids `row-N` name the N-th data row. */
  idColumn?: string;
  /** The source's text encoding; default detected, as `convert` does. */
  encoding?: CsvEncoding;
  results: JoinResults;
  /** The answer fields, in column order. */
  answerFields: readonly string[];
  /** Null keeps the source order. Either way, failed and missing rows come last. */
  sort: JoinSort | null;
  /** False writes cells as they are, for a viewer (the results panel) rather than a spreadsheet;
   *  default true: formulas neutralised. */
  neutralise?: boolean;
}

export interface JoinSummary {
  path: string;
  rows: number;
  /** Source rows without a result line. */
  missing: number;
  /** Results whose custom_id matches no source row. */
  unmatched: number;
  /** The source column holding the custom_ids; null when they are `row-N`. */
  id_column: string | null;
  /** The joined CSV's column holding each row's custom_id: the id column, or an added leading one. */
  custom_id_column: string;
  /** The columns the join added after the source's: the answer fields, status, error. */
  added_columns: string[];
  sort_by: string | null;
  order: 'asc' | 'desc';
}

/** Rows read to find the id column. */
const SAMPLE_ROWS = 1000;
/** Bytes of rows written at a time. */
const WRITE_BYTES = 64 * 1024;
const ROW_ID = /^row-(\d+)$/;

/** One answer value as a cell: arrays joined with "; ", objects as JSON. */
function cellOf(value: unknown): string {
  if (value === null || value === undefined) return '';
  if (typeof value === 'string') return value;
  if (Array.isArray(value))
    return value.map((item) => (typeof item === 'string' ? item : JSON.stringify(item))).join('; ');
  return textOf(value);
}

/** The source CSV read as `convert` reads it: the same encoding, dialect and row numbering. */
interface Source {
  path: string;
  sniffed: SniffedFile;
  delimiter: string;
  recordDelimiter: string | undefined;
}

/** A blank line: not a row to write, though it counts in `row-N` numbering as in `convert`. */
const isBlank = (record: string[]): boolean => record.length === 1 && record[0] === '';

async function* records(source: Source): AsyncGenerator<string[]> {
  const parser = parse({
    delimiter: source.delimiter,
    record_delimiter: source.recordDelimiter,
    relax_column_count: true,
    relax_quotes: true,
    // An unclosed quote must not make a whole file one record in memory.
    max_record_size: DEFAULT_MAX_LINE_BYTES,
  });
  // pipeline passes a read error on to the parser, and stops reading when the loop breaks.
  const stream = pipeline(readAsUtf8(source.path, source.sniffed), parser, () => undefined);
  try {
    for await (const record of stream as AsyncIterable<string[]>) yield record;
  } catch (error) {
    if (error instanceof CsvError) throw new AnalysisError(`${basename(source.path)}: ${error.message}`);
    throw error;
  }
}

/** The source's dialect, header (names trimmed, as `convert` matches them) and first rows. */
async function readHead(
  path: string,
  encoding?: CsvEncoding,
): Promise<{ source: Source; header: string[]; sample: string[][] }> {
  const sniffed = await sniffEncoding(path, encoding);
  const source = { path, sniffed, ...detectDialect(sniffed.head) };
  const rows: string[][] = [];
  for await (const record of records(source)) {
    rows.push(record);
    if (rows.length > SAMPLE_ROWS) break;
  }
  if (rows.length === 0) throw new AnalysisError(`${basename(path)}: no header row`);
  return { source, header: rows[0]!.map((column) => column.trim()), sample: rows.slice(1) };
}

/** The index of the id column, or null when custom_ids are `row-N`. */
function idColumnOf(
  name: string,
  header: string[],
  sample: string[][],
  ids: ReadonlyMap<string, number>,
  requested?: string,
): number | null {
  if (requested !== undefined) {
    const index = header.indexOf(requested);
    if (index === -1)
      throw new AnalysisError(`${name} has no column "${requested}"; its columns: ${header.join(', ')}`);
    return index;
  }
  const hits = header.map((_, column) => sample.filter((row) => ids.has(row[column]?.trim() ?? '')).length);
  const best = hits.indexOf(Math.max(...hits));
  if (hits[best]! > 0) return best;
  if (ids.size === 0) return null;
  for (const id of ids.keys()) if (ROW_ID.test(id)) return null;
  throw new AnalysisError(
    `no column of ${name} holds the results' custom_ids (in its first ${SAMPLE_ROWS} rows); name it with --id-column`,
  );
}

/** Sort keys as numbers when every present key is numeric, else as strings. */
export function normaliseKeys(keys: Array<number | string | null>): Array<number | string | null> {
  const numeric = keys.every((key) => key === null || typeof key === 'number' || NUMBER.test(key.trim()));
  return keys.map((key) => (key === null ? null : numeric ? Number(key) : String(key)));
}

/** Ascending order of two keys normalised together. */
export const compareKeys = (x: number | string, y: number | string): number => (x < y ? -1 : x > y ? 1 : 0);

/** Picks `name`, or `name_2`, `name_3`... when a column already has it. */
function freeName(name: string, taken: Set<string>): string {
  let free = name;
  for (let suffix = 2; taken.has(free); suffix++) free = `${name}_${suffix}`;
  taken.add(free);
  return free;
}

/** Opens a file to write (and read back), truncating it. */
function openForWriting(path: string): number {
  try {
    return openSync(path, 'w+');
  } catch (error) {
    throw new AnalysisError(
      `cannot write ${path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`,
    );
  }
}

export async function joinSource(options: JoinOptions): Promise<JoinSummary> {
  const { source, results, sort } = options;
  const name = basename(source);
  const { source: sourceFile, header, sample } = await readHead(source, options.encoding);
  const { delimiter } = sourceFile;
  const idColumn = idColumnOf(name, header, sample, results.ids, options.idColumn);
  const sortColumn = sort && !sort.answerKey ? header.indexOf(sort.field) : -1;
  if (sort && !sort.answerKey && sortColumn === -1)
    throw new AnalysisError(`--sort-by ${sort.field}: no answer field or column of ${name} has that name`);
  const safe = options.neutralise === false ? (cell: string): string => cell : neutralise;
  const cells = (values: string[]): string => values.map((cell) => quote(safe(cell), delimiter)).join(delimiter);

  // First pass, in source order: each row joined and formatted into the temporary file. A row
  // line is its source cells, then the added cells (which start with a delimiter), so that rows
  // shorter than the widest can be padded when they are copied.
  const temporary = `${options.csv}.unsorted.tmp`;
  // Sized for a row per result, the usual case, so that the columns need not grow.
  const capacity = Math.max(1024, results.ids.size);
  const rows = new Columns({
    offsets: new Float64Array(capacity),
    sourceBytes: new Uint32Array(capacity),
    addedBytes: new Uint32Array(capacity),
    cellCounts: new Uint32Array(capacity),
    answered: new Uint8Array(capacity),
  });
  let keys: Array<number | string | null> = [];
  const matched = new Uint8Array(results.ids.size);
  // Row-N ids are written as a leading cell: the first of a row's source part.
  const idCells = idColumn === null ? 1 : 0;
  let width = idCells + header.length;
  let customIdColumn: string;
  let added: string[];
  let missing = 0;
  let offset = 0;
  // Rows are written through one buffer, and copied back through it: a buffer per write would churn memory.
  let buffer = Buffer.allocUnsafe(WRITE_BYTES);
  let used = 0;
  const rowsFile = openForWriting(temporary);
  let output: number | undefined;
  try {
    let rowNumber = 0;
    for await (const record of records(sourceFile)) {
      if (rowNumber++ === 0 || isBlank(record)) continue;
      const row = rows.push();
      const rowId = idColumn === null ? `row-${rowNumber - 1}` : null;
      const index = results.ids.get(rowId ?? record[idColumn!]?.trim() ?? '');
      if (index === undefined) missing++;
      else matched[index] = 1;
      const status = index === undefined ? 'missing' : results.status(index);
      const { fields, error } = index === undefined ? { fields: null, error: '' } : results.details(index);
      const sourcePart = rowId === null ? cells(record) : cells([rowId, ...record]);
      const addedPart = `${delimiter}${cells([...options.answerFields.map((field) => cellOf(fields?.[field])), status, error])}\r\n`;
      const { offsets, sourceBytes, addedBytes, cellCounts, answered } = rows.arrays;
      offsets[row] = offset;
      sourceBytes[row] = Buffer.byteLength(sourcePart);
      addedBytes[row] = Buffer.byteLength(addedPart);
      const lineEnd = sourceBytes[row] + addedBytes[row];
      offset += lineEnd;
      cellCounts[row] = idCells + record.length;
      width = Math.max(width, cellCounts[row]);
      answered[row] = status === 'ok' ? 1 : 0;
      if (sortColumn !== -1) keys.push(record[sortColumn] || null);
      else if (sort?.answerKey) keys.push(status === 'ok' ? sort.answerKey(index!) : null);
      if (used + lineEnd > buffer.length) {
        writeSync(rowsFile, buffer, 0, used);
        used = 0;
        if (lineEnd > buffer.length) buffer = Buffer.allocUnsafe(lineEnd);
      }
      used += buffer.write(sourcePart, used);
      used += buffer.write(addedPart, used);
    }
    writeSync(rowsFile, buffer, 0, used);
    used = 0;
    keys = normaliseKeys(keys);

    // Answered rows with a sort key first, then answered rows without one, then the rest.
    const { offsets, sourceBytes, addedBytes, cellCounts, answered } = rows.arrays;
    const rank = (row: number): number => (!answered[row] ? 2 : sort && keys[row] === null ? 1 : 0);
    const direction = sort?.order === 'asc' ? 1 : -1;
    const order = Array.from({ length: rows.length }, (_, row) => row);
    order.sort((a, b) => {
      const byRank = rank(a) - rank(b);
      if (byRank !== 0 || !sort || rank(a) !== 0) return byRank;
      return direction * compareKeys(keys[a]!, keys[b]!);
    });

    // Second pass: the row lines copied in that order through one buffer, short rows padded to
    // the widest (the added cells moved right to make room for the empty cells).
    // Source columns keep their names; an added column that would repeat one gets a suffix.
    const taken = new Set<string>();
    const extra = Array.from(
      { length: width - idCells - header.length },
      (_, index) => `column_${header.length + index + 1}`,
    );
    const sourceColumns = [...header, ...extra].map((column) => freeName(column, taken));
    customIdColumn = idColumn === null ? freeName('custom_id', taken) : sourceColumns[idColumn]!;
    added = [...options.answerFields, 'status', 'error'].map((column) => freeName(column, taken));
    const columns = [...(idColumn === null ? [customIdColumn] : []), ...sourceColumns, ...added];
    output = openForWriting(options.csv);
    writeSync(output, `${sourceFile.sniffed.bomLength > 0 ? '\uFEFF' : ''}${cells(columns)}\r\n`);
    for (const row of order) {
      const padding = width - cellCounts[row]!;
      const [sourceEnd, lineEnd] = [sourceBytes[row]!, sourceBytes[row]! + addedBytes[row]!];
      if (used + lineEnd + padding > buffer.length) {
        writeSync(output, buffer, 0, used);
        used = 0;
        if (lineEnd + padding > buffer.length) buffer = Buffer.allocUnsafe(lineEnd + padding);
        // Let other work (a daemon's requests) run between writes.
        await nextTurn();
      }
      readSync(rowsFile, buffer, used, lineEnd, offsets[row]!);
      if (padding > 0) {
        buffer.copyWithin(used + sourceEnd + padding, used + sourceEnd, used + lineEnd);
        buffer.fill(delimiter, used + sourceEnd, used + sourceEnd + padding);
      }
      used += lineEnd + padding;
    }
    writeSync(output, buffer, 0, used);
  } finally {
    closeSync(rowsFile);
    if (output !== undefined) closeSync(output);
    rmSync(temporary, { force: true });
  }
  return {
    path: options.csv,
    rows: rows.length,
    missing,
    unmatched: matched.length - matched.reduce((sum, mark) => sum + mark, 0),
    id_column: idColumn === null ? null : header[idColumn]!,
    custom_id_column: customIdColumn,
    added_columns: added,
    sort_by: sort?.field ?? null,
    order: sort?.order ?? 'desc',
  };
}
