// Which text encoding a CSV file is in, and its text as a stream of UTF-8 for csv-parse.
// Detection: a byte order mark decides (UTF-8, UTF-16 LE or BE); without one, NUL bytes in the
// first 64 KiB mean UTF-16 (Excel's "Unicode text" export); anything else is read as UTF-8. Bytes
// that are not valid UTF-8 (a Latin-1 export) become U+FFFD there, which the converter reports by
// line; `--encoding latin1` then reads the whole file as Latin-1 (Windows-1252, as browsers do).
import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { Readable } from 'node:stream';

export const CSV_ENCODINGS = ['utf8', 'utf16le', 'utf16be', 'latin1'] as const;
export type CsvEncoding = (typeof CSV_ENCODINGS)[number];

export interface SniffedFile {
  encoding: CsvEncoding;
  /** The byte order mark's length, skipped when reading. */
  bomLength: number;
  /** The decoded start of the file (up to 64 KiB), to find the delimiters in. */
  head: string;
}

/** The WHATWG labels; 'latin1' is Windows-1252 there, a superset of ISO-8859-1's printable characters. */
const DECODER_LABELS: Record<CsvEncoding, string> = {
  utf8: 'utf-8',
  utf16le: 'utf-16le',
  utf16be: 'utf-16be',
  latin1: 'latin1',
};

const SNIFF_BYTES = 64 * 1024;
const READ_CHUNK_BYTES = 256 * 1024;

const BOMS: { encoding: CsvEncoding; bytes: number[] }[] = [
  { encoding: 'utf8', bytes: [0xef, 0xbb, 0xbf] },
  { encoding: 'utf16le', bytes: [0xff, 0xfe] },
  { encoding: 'utf16be', bytes: [0xfe, 0xff] },
];

/** UTF-16 without a BOM: text in Latin script has a NUL in every other byte, odd ones for LE. */
function guessUtf16(bytes: Buffer): CsvEncoding | null {
  let even = 0;
  let odd = 0;
  for (let index = 0; index < bytes.length; index++) {
    if (bytes[index] !== 0) continue;
    if (index % 2 === 0) even++;
    else odd++;
  }
  if (even + odd < bytes.length / 8) return null;
  return odd >= even ? 'utf16le' : 'utf16be';
}

/** Reads the start of the file; `forced` (from --encoding) overrides the detection. */
export async function sniffEncoding(path: string, forced?: CsvEncoding): Promise<SniffedFile> {
  const handle = await open(path, 'r');
  let bytes: Buffer;
  try {
    const { bytesRead, buffer } = await handle.read(Buffer.alloc(SNIFF_BYTES), 0, SNIFF_BYTES, 0);
    bytes = buffer.subarray(0, bytesRead);
  } finally {
    await handle.close();
  }
  const bom = BOMS.find((candidate) => candidate.bytes.every((byte, index) => bytes[index] === byte));
  const encoding = forced ?? bom?.encoding ?? guessUtf16(bytes) ?? 'utf8';
  const bomLength = bom?.encoding === encoding ? bom.bytes.length : 0;
  return { encoding, bomLength, head: new TextDecoder(DECODER_LABELS[encoding]).decode(bytes.subarray(bomLength)) };
}

async function* toUtf8(chunks: AsyncIterable<Buffer>, encoding: CsvEncoding): AsyncGenerator<Buffer> {
  const decoder = new TextDecoder(DECODER_LABELS[encoding]);
  for await (const chunk of chunks) {
    const text = decoder.decode(chunk, { stream: true });
    if (text !== '') yield Buffer.from(text);
  }
  const rest = decoder.decode();
  if (rest !== '') yield Buffer.from(rest);
}

/** The file's text after its BOM, as UTF-8 bytes (UTF-8 files pass through untouched). */
export function readAsUtf8(path: string, sniffed: SniffedFile): Readable {
  const bytes = createReadStream(path, { start: sniffed.bomLength, highWaterMark: READ_CHUNK_BYTES });
  return sniffed.encoding === 'utf8' ? bytes : Readable.from(toUtf8(bytes, sniffed.encoding));
}
