// A CSV's header row, read from the file's first bytes: the columns that Convert CSV offers to
// pick and the delimiter that the results table parses rows with.
import { open } from 'node:fs/promises';
import { parseRecord } from './csv-record.js';

const HEAD_BYTES = 64 * 1024;
const DELIMITERS = [',', ';', '\t', '|'];

/** The most frequent of , ; tab and | outside quotes in the line; a comma when there is none. */
export function detectDelimiter(line: string): string {
  const counts = new Map<string, number>();
  let quoted = false;
  for (const char of line) {
    if (char === '"') quoted = !quoted;
    else if (!quoted && DELIMITERS.includes(char)) counts.set(char, (counts.get(char) ?? 0) + 1);
  }
  let best = ',';
  for (const [delimiter, count] of counts) if (count > (counts.get(best) ?? 0)) best = delimiter;
  return best;
}

/** The text up to the first line break outside quotes. */
function firstRecordText(text: string): string {
  let quoted = false;
  for (let index = 0; index < text.length; index++) {
    const char = text[index];
    if (char === '"') quoted = !quoted;
    else if (!quoted && (char === '\n' || char === '\r')) return text.slice(0, index);
  }
  return text;
}

/** A file's first bytes as text: UTF-16 LE or UTF-8 by its BOM, which is dropped. */
export function decodeHead(bytes: Buffer): string {
  if (bytes[0] === 0xff && bytes[1] === 0xfe) return new TextDecoder('utf-16le').decode(bytes.subarray(2));
  return new TextDecoder('utf-8').decode(
    bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf ? bytes.subarray(3) : bytes,
  );
}

export interface CsvHead {
  columns: string[];
  delimiter: string;
}

export function parseHead(text: string): CsvHead {
  const line = firstRecordText(text);
  const delimiter = detectDelimiter(line);
  const bytes = Buffer.from(line);
  const columns = line === '' ? [] : parseRecord(bytes, 0, bytes.length, delimiter.charCodeAt(0));
  return { columns: columns.map((column) => column.trim()), delimiter };
}

export async function readHead(path: string): Promise<CsvHead> {
  const file = await open(path, 'r');
  try {
    const { buffer, bytesRead } = await file.read(Buffer.alloc(HEAD_BYTES), 0, HEAD_BYTES, 0);
    return parseHead(decodeHead(buffer.subarray(0, bytesRead)));
  } finally {
    await file.close();
  }
}
