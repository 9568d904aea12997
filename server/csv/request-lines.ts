// The batch request lines of converted rows, and the file they go to. Everything but the custom_id
// and the user message is serialized and encoded once: the system prompt (often kilobytes) is the
// same on every line, and encoding it 170,000 times would cost more than parsing the CSV. Lines are
// copied into 1 MiB chunks, so the file gets a few hundred writes instead of one per line.
import { open, rename, rm, type FileHandle } from 'node:fs/promises';
import { CHAT_COMPLETIONS_ENDPOINT } from '../openai/chat.js';
import { DEFAULT_MAX_LINE_BYTES } from '../jsonl/lines.js';
import type { BatchInputLine, ChatCompletionBody, ReasoningEffort } from '../protocol/openai.js';

export interface RequestOptions {
  model: string;
  systemPrompt?: string;
  temperature?: number;
  seed?: number;
  maxTokens?: number;
  /** A JSON schema for the answer: response_format json_schema, strict. */
  schema?: Record<string, unknown>;
  /** OpenAI's reasoning_effort: none turns thinking off; unset leaves it to the model. */
  reasoningEffort?: ReasoningEffort;
  /** top_logprobs of every answer (with logprobs: true), for expected scores; 0 or unset asks for none. */
  topLogprobs?: number;
}

// Stands for the custom_id and the user message while the rest is serialized. Its JSON form occurs
// nowhere else: a serialized string holds only escaped quotes, so the text matches only a value
// that is exactly this NUL-wrapped word, which no model name or system prompt is.
const SLOT = '\u0000slot\u0000';
const CHUNK_BYTES = 1024 * 1024;
const partPath = (path: string): string => `${path}.part`;
// No character takes more than three UTF-8 bytes per UTF-16 code unit.
const MAX_BYTES_PER_CHAR = 3;

export class RequestLineFormat {
  private readonly head: string;
  private readonly middle: string;
  private readonly tail: string;
  readonly bytes: { head: Buffer; middle: Buffer; tail: Buffer };

  constructor(options: RequestOptions) {
    const body: ChatCompletionBody = {
      model: options.model,
      messages: [
        ...(options.systemPrompt === undefined ? [] : [{ role: 'system' as const, content: options.systemPrompt }]),
        { role: 'user', content: SLOT },
      ],
      temperature: options.temperature,
      seed: options.seed,
      max_tokens: options.maxTokens,
      reasoning_effort: options.reasoningEffort,
    };
    if (options.topLogprobs) Object.assign(body, { logprobs: true, top_logprobs: options.topLogprobs });
    if (options.schema)
      body.response_format = {
        type: 'json_schema',
        json_schema: { name: 'answer', strict: true, schema: options.schema },
      };
    const line = { custom_id: SLOT, method: 'POST', url: CHAT_COMPLETIONS_ENDPOINT, body } satisfies BatchInputLine;
    const parts = JSON.stringify(line).split(JSON.stringify(SLOT));
    [this.head, this.middle, this.tail] = [parts[0]!, parts[1]!, `${parts[2]!}\n`];
    this.bytes = { head: Buffer.from(this.head), middle: Buffer.from(this.middle), tail: Buffer.from(this.tail) };
  }

  /** The line for a custom_id and a user message, both already JSON strings, with its line end. */
  line(idJson: string, userJson: string): string {
    return this.head + idJson + this.middle + userJson + this.tail;
  }

  /** The most bytes the line can take. */
  maxBytes(idJson: string, userJson: string): number {
    const { head, middle, tail } = this.bytes;
    return head.length + middle.length + tail.length + (idJson.length + userJson.length) * MAX_BYTES_PER_CHAR;
  }

  /** The line's size in bytes when it is over the daemon's line limit, else null. */
  oversize(idJson: string, userJson: string): number | null {
    if (this.maxBytes(idJson, userJson) <= DEFAULT_MAX_LINE_BYTES) return null;
    const bytes = Buffer.byteLength(this.line(idJson, userJson)) - 1;
    return bytes > DEFAULT_MAX_LINE_BYTES ? bytes : null;
  }
}

/**
 * Writes lines to PATH.part, renamed to PATH on commit, removed on discard. One chunk is written
 * while the other is filled, so the disk and the converter work at the same time.
 */
export class RequestFile {
  private chunk = Buffer.allocUnsafe(CHUNK_BYTES);
  /** The chunk being written, or free once its write is done. */
  private other = Buffer.allocUnsafe(CHUNK_BYTES);
  private used = 0;
  private writing: Promise<void> = Promise.resolve();

  private constructor(
    private readonly path: string,
    private readonly format: RequestLineFormat,
    private readonly handle: FileHandle,
  ) {}

  static async open(path: string, format: RequestLineFormat): Promise<RequestFile> {
    return new RequestFile(path, format, await open(partPath(path), 'w'));
  }

  async write(idJson: string, userJson: string): Promise<void> {
    const maxBytes = this.format.maxBytes(idJson, userJson);
    if (this.used + maxBytes > this.chunk.length) await this.flush();
    if (maxBytes > this.chunk.length) {
      await this.send(Buffer.from(this.format.line(idJson, userJson)));
      return;
    }
    const { head, middle, tail } = this.format.bytes;
    this.used += head.copy(this.chunk, this.used);
    this.used += this.chunk.write(idJson, this.used);
    this.used += middle.copy(this.chunk, this.used);
    this.used += this.chunk.write(userJson, this.used);
    this.used += tail.copy(this.chunk, this.used);
  }

  async commit(): Promise<void> {
    await this.flush();
    await this.writing;
    await this.handle.close();
    await rename(partPath(this.path), this.path);
  }

  async discard(): Promise<void> {
    await this.writing.catch(() => undefined);
    await this.handle.close();
    await rm(partPath(this.path), { force: true });
  }

  private async flush(): Promise<void> {
    if (this.used === 0) return;
    const full = this.chunk.subarray(0, this.used);
    await this.send(full);
    [this.chunk, this.other] = [this.other, this.chunk];
    this.used = 0;
  }

  /** Waits for the write before, then starts this one without waiting for it. */
  private async send(bytes: Buffer): Promise<void> {
    await this.writing;
    this.writing = this.writeAll(bytes);
  }

  private async writeAll(bytes: Buffer): Promise<void> {
    for (let offset = 0; offset < bytes.length;) offset += (await this.handle.write(bytes, offset)).bytesWritten;
  }
}
