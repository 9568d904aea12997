// The results table's rows, served in windows from the scored CSV that results/analyze writes.
// One pass over the file's bytes records where each row ends (8 bytes a row: 1.4 MB for 170,000);
// a window is read back by position and parsed on demand. Sorting and filtering read the one
// column they need (a few are kept), never the whole file into memory.
import { createReadStream } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { NUMBER, neutralise, quote } from '../../server/common/csv-cells.js';
import type { TableFilter, TableSort } from '../webview/messages.js';
import { readHead } from './csv-head.js';
import { parseRecord, RecordEnds } from './csv-record.js';

const KEPT_COLUMNS = 4;
/** Bytes of rows read at a time when a column is collected. */
const CHUNK_BYTES = 4 * 1024 * 1024;
const COMPARISON = /^(>=|<=|!=|>|<|=)\s*(.*)$/;
const collator = new Intl.Collator(undefined, { numeric: true, sensitivity: 'base' });
/** Rows read at a time when the view is exported. */
const EXPORT_ROWS = 1000;
const INFINITY = /^[-+]?Infinity$/;

/** A cell as a number: decimals, exponents (-8.92711e+281) and ±Infinity (a model's 1e999); null for text and empty cells. */
export function cellNumber(value: string): number | null {
  const trimmed = value.trim();
  return NUMBER.test(trimmed) || INFINITY.test(trimmed) ? Number(trimmed) : null;
}

const compareNumbers = (a: number, b: number): number => (a < b ? -1 : a > b ? 1 : 0);

/** A table filter's text as a test of a cell: `>= 7`, `< 3`, `!= 0` compare numbers (and text by the locale), `= yes` matches whole cells, else a substring; all ignoring case. */
export function compileFilter(text: string): (value: string) => boolean {
  const trimmed = text.trim();
  const comparison = COMPARISON.exec(trimmed);
  if (!comparison) {
    const needle = trimmed.toLowerCase();
    return (value) => value.toLowerCase().includes(needle);
  }
  const [, operator, operand] = comparison as unknown as [string, '>=' | '<=' | '!=' | '>' | '<' | '=', string];
  const accept = {
    '>=': (c: number) => c >= 0,
    '<=': (c: number) => c <= 0,
    '>': (c: number) => c > 0,
    '<': (c: number) => c < 0,
    '=': (c: number) => c === 0,
    '!=': (c: number) => c !== 0,
  }[operator];
  const number = cellNumber(operand);
  if (number === null) return (value) => accept(collator.compare(value.trim(), operand));
  return (value) => {
    const cell = cellNumber(value);
    return cell !== null && accept(compareNumbers(cell, number));
  };
}

/** How a cell sorts: numbers before the rest in either order, then text, then empty cells. */
const enum Rank {
  Number,
  /** A number in a row that `last` puts after the others (an invalid answer). */
  LastNumber,
  Text,
  Empty,
}

/**
 * Row positions (indexes into the file's rows) ordered by a column: numbers as numbers (exponents
 * and ±Infinity included), then the rows `last` names (invalid answers), then text by the locale,
 * then empty cells. Only the numbers and the text follow `order`; the groups keep their places,
 * so what is not a valid number sorts last both ways. Ties keep the file's order.
 */
export function sortedPositions(
  values: readonly string[],
  positions: Int32Array,
  order: 'asc' | 'desc',
  last: (position: number) => boolean = () => false,
): Int32Array {
  const sign = order === 'asc' ? 1 : -1;
  const ranks = new Uint8Array(values.length);
  const numbers = new Float64Array(values.length);
  for (const position of positions) {
    const value = values[position]!;
    const number = cellNumber(value);
    numbers[position] = number ?? 0;
    ranks[position] =
      value.trim() === '' ? Rank.Empty : number === null ? Rank.Text : last(position) ? Rank.LastNumber : Rank.Number;
  }
  return positions.slice().sort((a, b) => {
    const rank = ranks[a]! - ranks[b]!;
    if (rank !== 0) return rank;
    const within =
      ranks[a] === Rank.Text
        ? collator.compare(values[a]!, values[b]!)
        : ranks[a] === Rank.Empty
          ? 0
          : compareNumbers(numbers[a]!, numbers[b]!);
    return sign * within || a - b;
  });
}

/** Where each record of the file ends, the header's first. */
async function recordEnds(path: string): Promise<Float64Array> {
  let ends = new Float64Array(1024);
  let count = 0;
  const add = (offset: number): void => {
    if (count === ends.length) {
      const grown = new Float64Array(ends.length * 2);
      grown.set(ends);
      ends = grown;
    }
    ends[count++] = offset;
  };
  const scanner = new RecordEnds();
  for await (const chunk of createReadStream(path, { highWaterMark: 1024 * 1024 })) scanner.scan(chunk as Buffer, add);
  const last = scanner.finish();
  if (last !== null) add(last);
  return ends.slice(0, count);
}

export class CsvRows {
  /** The current view's rows as positions in the file; null: all rows in file order. */
  private order: Int32Array | null = null;
  private readonly kept = new Map<number, string[]>();

  private constructor(
    readonly columns: string[],
    private readonly delimiter: number,
    /** starts[r] is where row r begins (the header's end for row 0); starts[totalRows] is the end of the last row. */
    private readonly starts: Float64Array,
    private readonly file: FileHandle,
  ) {}

  static async open(path: string): Promise<CsvRows> {
    const { columns, delimiter } = await readHead(path);
    const starts = await recordEnds(path);
    return new CsvRows(
      columns,
      delimiter.charCodeAt(0),
      starts.length > 0 ? starts : Float64Array.of(0),
      await open(path, 'r'),
    );
  }

  get totalRows(): number {
    return this.starts.length - 1;
  }

  /** Rows in the current view. */
  get rowCount(): number {
    return this.order?.length ?? this.totalRows;
  }

  /** Sets the view's sort and filter; resolves with its row count. With a `statusColumn`, rows
   *  whose status is not `ok` (invalid answers, failures) sort after the others. */
  async setView(
    sort: TableSort | null,
    filter: TableFilter | null,
    statusColumn: number | null = null,
  ): Promise<number> {
    let positions: Int32Array | null = null;
    if (filter && filter.text.trim() !== '') {
      const values = await this.column(filter.column);
      const test = compileFilter(filter.text);
      const matching: number[] = [];
      for (let position = 0; position < values.length; position++) if (test(values[position]!)) matching.push(position);
      positions = Int32Array.from(matching);
    }
    if (sort) {
      const statuses = statusColumn === null ? null : await this.column(statusColumn);
      positions = sortedPositions(
        await this.column(sort.column),
        positions ?? Int32Array.from({ length: this.totalRows }, (_, index) => index),
        sort.order,
        statuses ? (position) => statuses[position]!.trim() !== 'ok' : undefined,
      );
    }
    this.order = positions;
    return this.rowCount;
  }

  /** Rows start..start+count-1 of the current view, as cells. */
  async rows(start: number, count: number): Promise<string[][]> {
    const end = Math.min(this.rowCount, start + count);
    const positions = Array.from(
      { length: Math.max(0, end - start) },
      (_, index) => this.order?.[start + index] ?? start + index,
    );
    const rows: string[][] = [];
    // Rows next to each other in the file are read together: the unsorted view reads one range.
    for (let run = 0; run < positions.length;) {
      let last = run;
      while (last + 1 < positions.length && positions[last + 1] === positions[last]! + 1) last++;
      await this.read(positions[run]!, positions[last]! + 1, (bytes, from, to) =>
        rows.push(parseRecord(bytes, from, to, this.delimiter)),
      );
      run = last + 1;
    }
    return rows;
  }

  /** The first row (in file order) whose cell in `column` is `value`; null when none is. */
  async find(column: number, value: string): Promise<string[] | null> {
    const position = (await this.column(column)).indexOf(value);
    if (position === -1) return null;
    let row: string[] | null = null;
    await this.read(position, position + 1, (bytes, from, to) => {
      row = parseRecord(bytes, from, to, this.delimiter);
    });
    return row;
  }

  /**
   * Writes the current view's rows, in its order, to a CSV at `path`: the columns `order` names
   * (indexes into `columns`), cells neutralised for spreadsheets as the daemon's export writes them.
   */
  async export(path: string, order: readonly number[]): Promise<number> {
    const delimiter = String.fromCharCode(this.delimiter);
    const line = (cells: readonly string[]): string =>
      `${order.map((column) => quote(neutralise(cells[column] ?? ''), delimiter)).join(delimiter)}\r\n`;
    const out = await open(path, 'w');
    try {
      await out.write(line(this.columns));
      for (let start = 0; start < this.rowCount; start += EXPORT_ROWS)
        await out.write((await this.rows(start, EXPORT_ROWS)).map(line).join(''));
    } finally {
      await out.close();
    }
    return this.rowCount;
  }

  async close(): Promise<void> {
    await this.file.close();
  }

  /** Reads rows firstRow..endRow-1 and hands each one's bytes over. */
  private async read(
    firstRow: number,
    endRow: number,
    each: (bytes: Buffer, from: number, to: number) => void,
  ): Promise<void> {
    const base = this.starts[firstRow]!;
    const length = this.starts[endRow]! - base;
    const { buffer } = await this.file.read(Buffer.alloc(length), 0, length, base);
    for (let row = firstRow; row < endRow; row++) each(buffer, this.starts[row]! - base, this.starts[row + 1]! - base);
  }

  /** One column's cell of every row, in file order; the last KEPT_COLUMNS asked for are kept. */
  private async column(index: number): Promise<string[]> {
    const kept = this.kept.get(index);
    if (kept) return kept;
    const values: string[] = [];
    for (let first = 0; first < this.totalRows;) {
      let end = first + 1;
      while (end < this.totalRows && this.starts[end + 1]! - this.starts[first]! <= CHUNK_BYTES) end++;
      await this.read(first, end, (bytes, from, to) =>
        values.push(parseRecord(bytes, from, to, this.delimiter, index)[0]!),
      );
      first = end;
    }
    if (this.kept.size >= KEPT_COLUMNS) this.kept.delete(this.kept.keys().next().value!);
    this.kept.set(index, values);
    return values;
  }
}
