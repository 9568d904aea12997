// Streams a file as lines of bytes, in constant memory: a line longer than the limit is not
// buffered but reported as too long, so a 1 GB file without newlines cannot exhaust memory.
// This module decides what a line is, for the validator, the planner, the runner and the
// language server alike: its end (LF or CRLF) and a byte order mark at its start are not part
// of it. A BOM starts many exported files, and `cat a.jsonl b.jsonl` puts one on a middle line.
import { createReadStream } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';

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
  /** Stops reading (the loop throws an AbortError), e.g. when the client that asked has gone. */
  signal?: AbortSignal;
}

export const DEFAULT_MAX_LINE_BYTES = 8 * 1024 * 1024;
const NEWLINE = 0x0a;
const CARRIAGE_RETURN = 0x0d;
const BOM_BYTES = Buffer.from([0xef, 0xbb, 0xbf]);
const BOM = '\uFEFF';

/** A line of text as the readers see it: without a byte order mark at its start. */
export function withoutBom(text: string): string {
  return text.startsWith(BOM) ? text.slice(BOM.length) : text;
}

/** Byte length of an open file's first `size` bytes up to and including their last newline: its whole lines. */
export async function wholeLinesLength(handle: FileHandle, size: number): Promise<number> {
  const chunk = Buffer.alloc(64 * 1024);
  for (let end = size; end > 0;) {
    const start = Math.max(0, end - chunk.length);
    const { bytesRead } = await handle.read(chunk, 0, end - start, start);
    const newline = chunk.subarray(0, bytesRead).lastIndexOf(NEWLINE);
    if (newline !== -1) return start + newline + 1;
    end = start;
  }
  return 0;
}

export async function* readLines(path: string, options: LineOptions = {}): AsyncGenerator<Line> {
  const maxLineBytes = options.maxLineBytes ?? DEFAULT_MAX_LINE_BYTES;
  const stream = createReadStream(path, {
    highWaterMark: 1024 * 1024,
    end: options.end === undefined ? undefined : options.end - 1,
    ...(options.signal && { signal: options.signal }),
  });
  let parts: Buffer[] = [];
  let size = 0;
  let number = 0;
  const finish = (): Line => {
    number++;
    let bytes: Buffer | null = null;
    if (size <= maxLineBytes) {
      bytes = parts.length === 1 ? parts[0]! : Buffer.concat(parts, size);
      if (bytes.length > 0 && bytes[bytes.length - 1] === CARRIAGE_RETURN) bytes = bytes.subarray(0, bytes.length - 1);
      if (bytes.subarray(0, BOM_BYTES.length).equals(BOM_BYTES)) bytes = bytes.subarray(BOM_BYTES.length);
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
