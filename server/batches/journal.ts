// A batch's output and error files are its checkpoint journal: append-only JSONL, one line per
// finished request. After a crash the torn last line (one without its newline) is cut off and
// the custom_ids already written are skipped, so every request ends up exactly once.
import { createWriteStream, type WriteStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { readLines, wholeLinesLength } from '../jsonl/lines.js';
import type { BatchOutputLine } from '../openai/types.js';

export interface JournalUsage {
  promptTokens: number;
  cachedTokens: number;
  completionTokens: number;
  reasoningTokens: number;
}

export interface RecoveredJournal {
  ids: Set<string>;
  lines: number;
  usage: JournalUsage;
}

/** Cuts a torn last line, then reads which custom_ids the journal holds and their token usage. */
export async function recoverJournal(path: string): Promise<RecoveredJournal> {
  const handle = await open(path, 'a+', 0o600);
  try {
    const { size } = await handle.stat();
    const length = await wholeLinesLength(handle, size);
    if (length < size) await handle.truncate(length);
  } finally {
    await handle.close();
  }
  const recovered: RecoveredJournal = {
    ids: new Set(),
    lines: 0,
    usage: { promptTokens: 0, cachedTokens: 0, completionTokens: 0, reasoningTokens: 0 },
  };
  for await (const line of readLines(path, { maxLineBytes: Number.MAX_SAFE_INTEGER })) {
    if (!line.bytes || line.bytes.length === 0) continue;
    const entry = JSON.parse(line.bytes.toString('utf8')) as BatchOutputLine;
    recovered.ids.add(entry.custom_id);
    recovered.lines++;
    addUsage(recovered.usage, entry);
  }
  return recovered;
}

/** What a batch's journals hold: its finished lines, answered and failed, and their tokens. */
export interface JournalProgress {
  completed: number;
  failed: number;
  usage: JournalUsage;
}

/** Recovers a batch's output and error journals: the custom_ids they finish, and their counts. */
export async function recoverJournals(files: {
  output: string;
  error: string;
}): Promise<{ finished: Set<string>; progress: JournalProgress }> {
  const [done, failed] = await Promise.all([recoverJournal(files.output), recoverJournal(files.error)]);
  const usage = { ...done.usage };
  for (const key of ['promptTokens', 'cachedTokens', 'completionTokens', 'reasoningTokens'] as const) {
    usage[key] += failed.usage[key];
  }
  return {
    finished: new Set([...done.ids, ...failed.ids]),
    progress: { completed: done.lines, failed: failed.lines, usage },
  };
}

export function addUsage(usage: JournalUsage, entry: BatchOutputLine): void {
  const body = entry.response?.body;
  if (!body || !('usage' in body)) return;
  usage.promptTokens += body.usage.prompt_tokens;
  usage.completionTokens += body.usage.completion_tokens;
  usage.cachedTokens += body.usage.prompt_tokens_details?.cached_tokens ?? 0;
  usage.reasoningTokens += body.usage.completion_tokens_details?.reasoning_tokens ?? 0;
}

/**
 * Appends whole lines; each line goes to the kernel in a single write. A write that fails (a
 * full disk) is reported once and the writer takes no more lines: what did not reach the file is
 * not in the journal, so the next run sends those requests again (a torn last line is cut then).
 */
export class JournalWriter {
  private readonly stream: WriteStream;
  private failure: Error | null = null;

  constructor(path: string, onFailure: (error: Error) => void) {
    this.stream = createWriteStream(path, { flags: 'a', mode: 0o600 });
    this.stream.on('error', (error) => {
      if (this.failure) return;
      this.failure = error;
      onFailure(error);
    });
  }

  append(entry: BatchOutputLine): void {
    if (!this.failure) this.stream.write(JSON.stringify(entry) + '\n');
  }

  /** Ends the file; after a failure there is nothing more to flush. */
  close(): Promise<void> {
    if (this.failure || this.stream.destroyed) return Promise.resolve();
    return new Promise((resolve) => this.stream.end(resolve));
  }
}
