// Finds a line of one of the daemon's JSONL files (file/get's `path`) by its custom_id, with the
// daemon's own line reader, so that a client and the daemon agree on where each line is. The
// first lookup in a file reads it once and keeps where each custom_id's line is (a Map of
// 170,000 entries, a few MB); later lookups read one line.
import { open } from 'node:fs/promises';
import { readLines } from '../jsonl/lines.js';

// The first "custom_id" key of the line; inside a string value the quotes would be escaped.
const CUSTOM_ID = /"custom_id"\s*:\s*("(?:[^"\\]|\\.)*")/;

interface Position {
  offset: number;
  length: number;
}

export class LineIndex {
  private positions: Promise<Map<string, Position>> | undefined;

  constructor(readonly path: string) {}

  /** The line of the custom_id, parsed; null when the file has none. */
  async find(customId: string): Promise<unknown> {
    // A failed scan (the file not there yet) is tried again at the next lookup.
    this.positions ??= this.scan().catch((error: unknown) => {
      this.positions = undefined;
      throw error;
    });
    const position = (await this.positions).get(customId);
    if (!position) return null;
    const file = await open(this.path, 'r');
    try {
      const { buffer } = await file.read(Buffer.alloc(position.length), 0, position.length, position.offset);
      return JSON.parse(buffer.toString('utf8')) as unknown;
    } finally {
      await file.close();
    }
  }

  private async scan(): Promise<Map<string, Position>> {
    const positions = new Map<string, Position>();
    let offset = 0;
    for await (const line of readLines(this.path)) {
      const match = line.bytes && CUSTOM_ID.exec(line.bytes.toString('utf8'));
      if (match) {
        const customId = JSON.parse(match[1]!) as string;
        if (!positions.has(customId)) positions.set(customId, { offset, length: line.bytes!.length });
      }
      offset += line.size + 1;
    }
    return positions;
  }
}
