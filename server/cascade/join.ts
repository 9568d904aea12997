// A cascade's two passes joined into one scored CSV: every source row once, in pass 1's order
// (by its score, best first), with pass 1's columns and then pass 2's (the explanations) where
// pass 2 ran. Each pass is analysed as any batch is (analyzeResults: its own schema check, its own
// statuses) into a temporary joined CSV; this layer only lays pass 2's added columns beside
// pass 1's rows. A pass still running is analysed as far as it has gone, and the report says so.
//
// The rank is pass 1's score for every row: it is the one measure all rows have, asked the same
// way, so rows compare with each other. Pass 2's own score stays beside it (full_score): where it
// differs, the full answer's reasoning moved it, which is worth a look.
import { once } from 'node:events';
import { createWriteStream, rmSync } from 'node:fs';
import { resolve } from 'node:path';
import { pipeline } from 'node:stream';
import { parse } from 'csv-parse';
import { AnalysisError, analyzeResults, type AnalysisReport, type AnalyzeOptions } from '../analysis/analyze.js';
import type { JoinSummary } from '../analysis/join.js';
import { quote } from '../common/csv-cells.js';
import { detectDialect } from '../csv/dialect.js';
import { readAsUtf8, sniffEncoding, type CsvEncoding } from '../csv/encoding.js';
import { isObject } from '../common/is-object.js';
import { DEFAULT_MAX_LINE_BYTES, readLines } from '../jsonl/lines.js';
import { CASCADE_METADATA as KEYS } from '../protocol/cascade.js';
import { TERMINAL_STATUSES, type Batch } from '../protocol/openai.js';
import type { CascadePasses } from './passes.js';

export interface CascadePassFiles {
  output: string;
  errors?: string;
  /** The pass's input JSONL: its schema checks the answers; pass 2's names the shortlisted rows. */
  input?: string;
  /** The pass still runs: its files are journals being written. */
  running?: AnalyzeOptions['running'];
}

export interface CascadeJoinOptions {
  pass1: CascadePassFiles;
  /** Null while pass 2 has not been created. */
  pass2: CascadePassFiles | null;
  source: string;
  csv: string;
  idColumn?: string;
  encoding?: CsvEncoding;
  top?: number;
  /** False: cells as they are, for a viewer; default true, neutralised for spreadsheets. */
  neutralise?: boolean;
}

export interface CascadeReport {
  pass1: AnalysisReport;
  pass2: AnalysisReport | null;
  /** The joined CSV: pass 1's join, with pass 2's columns added. */
  csv: JoinSummary;
  /** Rows in pass 2's input. */
  shortlisted: number;
  /** Rows with a pass 2 answer (any status but missing). */
  explained: number;
}

/** The status of a row that pass 2 did not include. */
export const NOT_SHORTLISTED = 'not shortlisted';
/** The prefix of a pass 2 column whose name pass 1's columns already have (score, status, error). */
const FULL_PREFIX = 'full_';

/** The records of a CSV that joinSource wrote, header first. */
async function* csvRecords(path: string): AsyncGenerator<string[]> {
  const sniffed = await sniffEncoding(path);
  const { delimiter, recordDelimiter } = detectDialect(sniffed.head);
  const parser = parse({ delimiter, record_delimiter: recordDelimiter, max_record_size: DEFAULT_MAX_LINE_BYTES });
  const stream = pipeline(readAsUtf8(path, sniffed), parser, () => undefined);
  for await (const record of stream as AsyncIterable<string[]>) yield record;
}

/** The custom_ids of a JSONL request file. */
async function customIds(path: string): Promise<Set<string>> {
  const ids = new Set<string>();
  for await (const line of readLines(path)) {
    if (!line.bytes || line.bytes.length === 0) continue;
    const parsed: unknown = JSON.parse(line.bytes.toString('utf8'));
    if (isObject(parsed) && typeof parsed.custom_id === 'string') ids.add(parsed.custom_id);
  }
  return ids;
}

/** Pass 2's added cells by custom_id, for the rows it has a result for. */
async function passTwoCells(path: string, report: AnalysisReport): Promise<Map<string, string[]>> {
  const { custom_id_column: idName, added_columns: added } = report.csv!;
  const cells = new Map<string, string[]>();
  let idIndex = -1;
  const statusIndex = statusColumnIndex(added);
  for await (const record of csvRecords(path)) {
    if (idIndex === -1) {
      idIndex = record.indexOf(idName);
      continue;
    }
    const row = record.slice(record.length - added.length);
    if (row[statusIndex] !== 'missing') cells.set(record[idIndex]!, row);
  }
  return cells;
}

/** Where the status is among the added columns: named status, or status_2... where a source column took the name. */
const statusColumnIndex = (added: readonly string[]): number =>
  added.findLastIndex((name) => /^status(_\d+)?$/.test(name));

export async function joinCascade(options: CascadeJoinOptions): Promise<CascadeReport> {
  const { source, idColumn, encoding, top, neutralise } = options;
  const inputs = [
    source,
    ...[options.pass1, options.pass2].flatMap((pass) => (pass ? [pass.output, pass.errors, pass.input] : [])),
  ];
  if (inputs.some((path) => path && resolve(path) === resolve(options.csv)))
    throw new AnalysisError(`--csv ${options.csv} would overwrite an input file`);
  const temporary = { pass1: `${options.csv}.pass1.tmp`, pass2: `${options.csv}.pass2.tmp` };
  try {
    const pass1 = await analyzeResults({
      ...options.pass1,
      source,
      idColumn,
      encoding,
      top,
      neutralise,
      csv: temporary.pass1,
    });
    const pass2 = options.pass2
      ? await analyzeResults({ ...options.pass2, source, idColumn, encoding, top, neutralise, csv: temporary.pass2 })
      : null;
    const shortlisted = options.pass2?.input ? await customIds(options.pass2.input) : new Set<string>();
    const explained = pass2 ? await passTwoCells(temporary.pass2, pass2) : new Map<string, string[]>();
    const added = pass2?.csv?.added_columns ?? [];
    const { rows, columns } = await writeJoined(options.csv, temporary.pass1, pass1, added, (id) => {
      const cells = explained.get(id);
      if (cells || added.length === 0) return cells ?? [];
      const empty = added.map(() => '');
      // A shortlisted row without a pass 2 result yet (pass 2 still running or not made) is missing.
      empty[statusColumnIndex(added)] = shortlisted.has(id) ? 'missing' : NOT_SHORTLISTED;
      return empty;
    });
    const csv = { ...pass1.csv!, path: options.csv, rows, added_columns: [...pass1.csv!.added_columns, ...columns] };
    return { pass1, pass2, csv, shortlisted: shortlisted.size, explained: explained.size };
  } finally {
    rmSync(temporary.pass1, { force: true });
    rmSync(temporary.pass2, { force: true });
  }
}

/** Pass 1's joined CSV, row by row in its order, with pass 2's cells added; returns the rows
 *  written and pass 2's column names in the joined CSV. */
async function writeJoined(
  path: string,
  passOnePath: string,
  passOne: AnalysisReport,
  passTwoColumns: readonly string[],
  passTwoRow: (customId: string) => string[],
): Promise<{ rows: number; columns: string[] }> {
  const sniffed = await sniffEncoding(passOnePath);
  const { delimiter } = detectDialect(sniffed.head);
  const out = createWriteStream(path);
  const write = async (cells: string[]): Promise<void> => {
    if (!out.write(`${cells.map((cell) => quote(cell, delimiter)).join(delimiter)}\r\n`)) await once(out, 'drain');
  };
  let rows = -1;
  let idIndex = -1;
  let columns: string[] = [];
  try {
    if (sniffed.bomLength > 0) out.write('\uFEFF');
    for await (const record of csvRecords(passOnePath)) {
      if (idIndex === -1) {
        idIndex = record.indexOf(passOne.csv!.custom_id_column);
        const taken = new Set(record);
        columns = passTwoColumns.map((name) => {
          let free = taken.has(name) ? `${FULL_PREFIX}${name}` : name;
          for (let suffix = 2; taken.has(free); suffix++) free = `${FULL_PREFIX}${name}_${suffix}`;
          taken.add(free);
          return free;
        });
        await write([...record, ...columns]);
      } else {
        await write([...record, ...passTwoRow(record[idIndex]!)]);
      }
      rows++;
    }
  } finally {
    out.end();
    await once(out, 'close');
  }
  return { rows, columns };
}

/** The status in a cascade's partial report between pass 1's end and pass 2's creation. */
const NOT_MADE = 'not made yet';

/**
 * A cascade's report as a client reads it: pass 1's (every row), with the joined CSV and the
 * passes. Partial while the cascade has not ended: pass 1's progress while it runs, then pass 2's
 * (0 of 0, NOT_MADE, between pass 1's end and pass 2's creation).
 */
export function cascadeAnalysis(joined: CascadeReport, { passOne, passTwo }: CascadePasses): AnalysisReport {
  const running = (batch: Batch): boolean => !TERMINAL_STATUSES.includes(batch.status);
  let partial = joined.pass1.partial;
  if (!partial && passTwo && running(passTwo))
    partial = joined.pass2?.partial ?? { done: 0, total: passTwo.request_counts.total, status: passTwo.status };
  if (!partial && !passTwo && passOne.status === 'completed') partial = { done: 0, total: 0, status: NOT_MADE };
  const pass = (batch: Batch) => ({ batch_id: batch.id, status: batch.status });
  return {
    ...joined.pass1,
    partial,
    csv: joined.csv,
    cascade: {
      pass1: pass(passOne),
      pass2: passTwo ? pass(passTwo) : null,
      shortlist: passOne.metadata?.[KEYS.shortlist] ?? '',
      shortlisted: joined.shortlisted,
      explained: joined.explained,
    },
  };
}
