// Streams a file as lines of bytes, in constant memory: a line longer than the limit is not
// buffered but reported as too long, so a 1 GB file without newlines cannot exhaust memory.
import { createReadStream } from 'node:fs';

export interface Line {
  /** 1-based line number. */
  number: number;
  /** The line's bytes without the line end; null when it exceeded maxLineBytes. */
  bytes: Buffer | null;
  /** The line's length in bytes (the full length even when too long). */
  size: number;
}

export interface LineOptions {
  maxLineBytes?: number;
  /** Byte offset to stop at (exclusive), e.g. the end of the last complete journal line. */
  end?: number;
}

export const DEFAULT_MAX_LINE_BYTES = 8 * 1024 * 1024;
const NEWLINE = 0x0a;
const CARRIAGE_RETURN = 0x0d;

export async function* readLines(path: string, options: LineOptions = {}): AsyncGenerator<Line> {
  const maxLineBytes = options.maxLineBytes ?? DEFAULT_MAX_LINE_BYTES;
  const stream = createReadStream(path, { highWaterMark: 1024 * 1024, end: options.end === undefined ? undefined : options.end - 1 });
  let parts: Buffer[] = [];
  let size = 0;
  let number = 0;
  const finish = (): Line => {
    number++;
    let bytes: Buffer | null = null;
    if (size <= maxLineBytes) {
      bytes = parts.length === 1 ? parts[0]! : Buffer.concat(parts, size);
      if (bytes.length > 0 && bytes[bytes.length - 1] === CARRIAGE_RETURN) bytes = bytes.subarray(0, bytes.length - 1);
    }
    const line = { number, bytes, size };
    parts = [];
    size = 0;
    return line;
  };
  const append = (piece: Buffer): void => {
    size += piece.length;
    if (size <= maxLineBytes) parts.push(piece);
    else parts = [];
  };
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    let start = 0;
    for (let end = chunk.indexOf(NEWLINE, start); end !== -1; end = chunk.indexOf(NEWLINE, start)) {
      append(chunk.subarray(start, end));
      yield finish();
      start = end + 1;
    }
    if (start < chunk.length) append(chunk.subarray(start));
  }
  if (size > 0) yield finish();
}
