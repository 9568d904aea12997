// What each column of a CSV holds, for Convert's custom_id step: how many of its values are
// empty and whether the rest are unique, read from the rows themselves (the first SAMPLE_BYTES of
// a large file, and the label says so), and the column that makes the best custom_id.
import { open } from 'node:fs/promises';
import { decodeHead, parseHead } from './csv-head.js';
import { parseRecord, RecordEnds } from './csv-record.js';
import { formatCount } from '../webview/numbers.js';

/** How much of the file is read: enough rows to judge, little enough to ask at once. */
const SAMPLE_BYTES = 8 * 1024 * 1024;
/** Names that say "I am an id": id, ID, candidate_id, candidateId, row-id, uuid. */
const looksLikeId = (name: string): boolean => /(^|[_\-\s])(id|uuid)$/i.test(name) || /[a-z]Id$/.test(name);

export interface ColumnStats {
  name: string;
  /** Rows read, and how many have this column empty (blank or missing). */
  rows: number;
  empty: number;
  /** Non-empty values that repeat an earlier one. */
  duplicates: number;
}

export interface CsvColumns {
  columns: ColumnStats[];
  /** Whether rows past the sample were left unread (then the figures are of the first `rows`). */
  sampled: boolean;
}

/** Each column's emptiness and uniqueness over `rows` (cells in header order). */
export function columnStats(columns: readonly string[], rows: Iterable<readonly string[]>): ColumnStats[] {
  const stats = columns.map((name) => ({ name, rows: 0, empty: 0, duplicates: 0 }));
  const seen = columns.map(() => new Set<string>());
  for (const row of rows) {
    for (let index = 0; index < columns.length; index++) {
      const stat = stats[index]!;
      stat.rows++;
      const value = row[index]?.trim() ?? '';
      if (value === '') stat.empty++;
      else if (seen[index]!.has(value)) stat.duplicates++;
      else seen[index]!.add(value);
    }
  }
  return stats;
}

/** Unique and never empty: every row gets its own custom_id. */
export const isIdColumn = (stat: ColumnStats): boolean => stat.rows > 0 && stat.empty === 0 && stat.duplicates === 0;

/** The column to preselect for the custom_id: a usable one, one named like an id first; null: row numbers. */
export function bestIdColumn(stats: readonly ColumnStats[]): string | null {
  const usable = stats.filter(isIdColumn);
  return (usable.find((stat) => looksLikeId(stat.name)) ?? usable[0])?.name ?? null;
}

/** The column's figures in words: "unique, none empty in 1,000 rows" or what stops it being an id. */
export function describeColumn(stat: ColumnStats, sampled: boolean): string {
  const rows = `${sampled ? 'the first ' : ''}${formatCount(stat.rows)} rows`;
  if (stat.rows === 0) return 'no rows to judge by';
  if (isIdColumn(stat)) return `unique, none empty in ${rows}`;
  const problems = [
    ...(stat.empty > 0 ? [`${formatCount(stat.empty)} empty`] : []),
    ...(stat.duplicates > 0 ? [`${formatCount(stat.duplicates)} repeated`] : []),
  ];
  return `${problems.join(', ')} of ${rows}`;
}

/** The CSV's columns with their figures, from its first SAMPLE_BYTES (whole rows only). */
export async function readColumns(path: string): Promise<CsvColumns> {
  const file = await open(path, 'r');
  let bytes: Buffer;
  let whole: boolean;
  try {
    const { size } = await file.stat();
    const length = Math.min(size, SAMPLE_BYTES);
    const { buffer, bytesRead } = await file.read(Buffer.alloc(length), 0, length, 0);
    whole = bytesRead >= size;
    // As UTF-8, whatever the file's encoding: the record scanner reads UTF-8 bytes.
    bytes = Buffer.from(decodeHead(buffer.subarray(0, bytesRead)));
  } finally {
    await file.close();
  }
  const { columns, delimiter } = parseHead(bytes.toString('utf8', 0, Math.min(bytes.length, 64 * 1024)));
  const ends: number[] = [];
  const scanner = new RecordEnds();
  scanner.scan(bytes, (end) => ends.push(end));
  const last = scanner.finish();
  if (whole && last !== null) ends.push(last);
  const rows = function* (): Generator<string[]> {
    // ends[0] closes the header.
    for (let index = 1; index < ends.length; index++)
      yield parseRecord(bytes, ends[index - 1]!, ends[index]!, delimiter.charCodeAt(0));
  };
  return { columns: columnStats(columns, rows()), sampled: !whole };
}
