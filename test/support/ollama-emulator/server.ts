// An Ollama server stand-in that speaks Ollama's real wire protocol (docs/api.md of ollama/ollama
// and its OpenAI-compatible /v1), for tests and benchmarks on machines where Ollama itself cannot
// be installed. Behind it sits either a real Engine (e.g. LlamaCppEngine on a generated GGUF:
// real inference, real token counts) or the "instant" answerer (a fixed small JSON answer at no
// cost, to measure the daemon's own overhead).
//
// What it emulates, besides the endpoints: OLLAMA_NUM_PARALLEL slots with a FIFO queue and
// OLLAMA_MAX_QUEUE (then 503 "server busy"), model loading per num_ctx (a changed num_ctx reloads:
// load_duration spikes and stats.loads counts it), keep_alive expiry for /api/ps, KV-cache size
// and VRAM spill in /api/ps, prompt_eval_count as Ollama >= 0.30 reports it (cached tokens
// included, prompt_eval_cached_count beside it; `legacyCounts` gives the older behaviour), and
// injected faults (HTTP 500, connection reset, 503 busy, a request never answered, out of memory,
// an answer without a message, a proxy's HTML page), and a GPU that holds only so many requests.
// Per-token logprobs (`logprobs`/`top_logprobs`) and thinking (`think`, /v1's `reasoning_effort`)
// as Ollama answers them; the request bodies it received, where asked to record them.
//
// Plain node:http and no framework: the daemon's benchmark pushes 100,000 requests through the
// instant mode at thousands per second.
import { randomBytes } from 'node:crypto';
import { closeSync, openSync, readSync, statSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { basename, extname } from 'node:path';
import type { ChatRequest, Engine } from '../../../server/engines/engine.js';
import type { TokenLogprob } from '../../../server/openai/types.js';
import { EngineError } from '../../../server/engines/engine.js';
import type { ChatMessage } from '../../../server/protocol/openai.js';
import { textOf as jsonText } from '../../../server/common/text-of.js';

/** `empty`: 200 with `{}`; `html`: a proxy's or captive portal's HTML page, as 502 and 200 by turns. */
export type EmulatorFault = '500' | 'reset' | '503' | 'timeout' | 'oom' | 'empty' | 'html';
export const EMULATOR_FAULTS: readonly EmulatorFault[] = ['500', 'reset', '503', 'timeout', 'oom', 'empty', 'html'];

export interface EmulatorOptions {
  /** 0 (default) picks a free port. */
  port?: number;
  host?: string;
  /** Real inference. Without it (or with `instant`) every chat gets the fixed instant answer. */
  engine?: Engine;
  /** The GGUF file behind `engine`, read for /api/show, /api/tags sizes and context length. */
  modelPath?: string;
  /** A fixed small JSON answer at no cost (overhead benchmarks). */
  instant?: boolean;
  /** The instant answer (default: a JSON object valid against test data's score-schema.json), or one per request. */
  instantContent?: string | ((request: ChatRequest) => string);
  /** Instant mode: the model names served (default `instant`); as Ollama, any other name is 404 "not found". */
  models?: string[];
  /** OLLAMA_NUM_PARALLEL: requests answered at once (default 1); the rest wait in a FIFO queue. */
  parallel?: number;
  /** OLLAMA_MAX_QUEUE: waiting requests beyond which the answer is 503 busy (default 512). */
  maxQueue?: number;
  /** Added time per chat request, spent while holding a slot. */
  latencyMs?: number;
  /** Time a model load (first use, or a changed num_ctx) takes (default 0). */
  loadMs?: number;
  /** Share of chat requests (0..1) that get `fault`. */
  faultRate?: number;
  fault?: EmulatorFault;
  /** A GPU with room for this many requests at once: a chat that arrives while as many are in flight runs out of memory. */
  outOfMemoryAbove?: number;
  /** What GET /api/version says (default 0.30.0). */
  version?: string;
  /** num_ctx when a request sets none (Ollama: 4096 under 24 GiB of VRAM). */
  defaultNumCtx?: number;
  /** Emulated GPU memory in bytes: a loaded model larger than this spills (size_vram < size). */
  vramBytes?: number;
  /** Count like Ollama before 0.30: prompt_eval_count excludes cached tokens (omitted when 0). */
  legacyCounts?: boolean;
  /** Instant mode: the models think, and this is their thinking (unless `think: false`, as Ollama's thinking models). */
  thinking?: string;
  /** Keep every chat request's body in `received` (off for benchmarks: 100,000 bodies). */
  recordBodies?: boolean;
}

/** A chat request's body as it arrived, on either API. */
export interface ReceivedChat {
  api: 'native' | 'v1';
  body: Record<string, unknown>;
}

export interface EmulatorStats {
  /** Every HTTP request received. */
  requests: number;
  /** Chat requests received (/api/chat and /v1/chat/completions). */
  chats: number;
  /** Chat requests answered with a generation. */
  completed: number;
  /** Chat requests that got an injected fault. */
  faults: number;
  /** Chat requests refused with 503 because the queue was full. */
  rejected: number;
  /** Chat requests whose client went away before the answer. */
  aborted: number;
  /** Chat requests accepted and not yet answered (running + queued), now and at most. */
  inFlight: number;
  inFlightMax: number;
  /** Chat requests holding a slot, now and at most (never above `parallel`). */
  running: number;
  runningMax: number;
  /** Chat requests waiting for a slot, now and at most. */
  queued: number;
  queuedMax: number;
  /** Model loads (first use, expiry, or a changed num_ctx). */
  loads: number;
  /**
   * Real-inference answers whose prompt and answer passed the num_ctx they asked for: a real
   * Ollama would have cut the front of the prompt without a word.
   */
  overflows: number;
  promptTokens: number;
  completionTokens: number;
  cachedTokens: number;
}

export interface RunningEmulator {
  url: string;
  port: number;
  stats: EmulatorStats;
  /** With `recordBodies`: the bodies of the chat requests received, in order. */
  received: ReceivedChat[];
  /** Change the injected fault at run time; `null` (or rate 0) turns faults off. */
  setFault(fault: EmulatorFault | null, rate?: number): void;
  /** Stops listening, ends held, queued and running requests, resolves when closed. */
  close(): Promise<void>;
}

export const BUSY_MESSAGE = 'server busy, please try again.  maximum pending requests exceeded';
const DEFAULT_INSTANT_CONTENT =
  '{"score":50,"decision":"maybe","strengths":["instant"],"concerns":[],"reason":"instant answer"}';
const FOREVER_MS = 292 * 365.25 * 24 * 3600 * 1000; // Go's max time.Duration: keep_alive < 0
const NS_PER_MS = 1_000_000;

// ---------------------------------------------------------------------------------------------
// Models

interface ModelEntry {
  /** Full Ollama name, e.g. `tiny:latest`. */
  name: string;
  /** The name the engine serves it under. */
  engineModel: string;
  size: number;
  digest: string;
  modifiedAt: string;
  contextLength: number;
  /** KV cache bytes per token of context, per slot (f16 K and V). */
  kvBytesPerToken: number;
  details: {
    parent_model: string;
    format: string;
    family: string;
    families: string[];
    parameter_size: string;
    quantization_level: string;
  };
  modelInfo: Record<string, unknown>;
}

interface LoadedModel {
  entry: ModelEntry;
  numCtx: number;
  expiresAt: number;
  size: number;
}

/** Ollama's full model name: `name` → `name:latest`, compared case-insensitively. */
function fullName(name: string): string {
  const lastSegment = name.slice(name.lastIndexOf('/') + 1);
  return (lastSegment.includes(':') ? name : `${name}:latest`).toLowerCase();
}

// ---------------------------------------------------------------------------------------------
// GGUF metadata (for /api/show), read from the file's header without loading tensors.

interface GgufSummary {
  kv: Map<string, unknown>;
  parameterCount: number;
}

const QUANTIZATION: Record<number, string> = {
  0: 'F32',
  1: 'F16',
  2: 'Q4_0',
  3: 'Q4_1',
  7: 'Q8_0',
  8: 'Q5_0',
  9: 'Q5_1',
  10: 'Q2_K',
  11: 'Q3_K_S',
  12: 'Q3_K_M',
  13: 'Q3_K_L',
  14: 'Q4_K_S',
  15: 'Q4_K_M',
  16: 'Q5_K_S',
  17: 'Q5_K_M',
  18: 'Q6_K',
  32: 'BF16',
};

class FileCursor {
  private buffer = Buffer.alloc(0);
  private bufferStart = 0;
  position = 0;
  constructor(private readonly fd: number) {}

  private need(bytes: number): number {
    if (this.position < this.bufferStart || this.position + bytes > this.bufferStart + this.buffer.length) {
      const size = Math.max(bytes, 1 << 20);
      const buffer = Buffer.alloc(size);
      const read = readSync(this.fd, buffer, 0, size, this.position);
      if (read < bytes) throw new Error('GGUF: unexpected end of file');
      this.buffer = buffer.subarray(0, read);
      this.bufferStart = this.position;
    }
    const offset = this.position - this.bufferStart;
    this.position += bytes;
    return offset;
  }
  u8(): number {
    const at = this.need(1);
    return this.buffer.readUInt8(at);
  }
  i8(): number {
    const at = this.need(1);
    return this.buffer.readInt8(at);
  }
  u16(): number {
    const at = this.need(2);
    return this.buffer.readUInt16LE(at);
  }
  i16(): number {
    const at = this.need(2);
    return this.buffer.readInt16LE(at);
  }
  u32(): number {
    const at = this.need(4);
    return this.buffer.readUInt32LE(at);
  }
  i32(): number {
    const at = this.need(4);
    return this.buffer.readInt32LE(at);
  }
  f32(): number {
    const at = this.need(4);
    return this.buffer.readFloatLE(at);
  }
  f64(): number {
    const at = this.need(8);
    return this.buffer.readDoubleLE(at);
  }
  u64(): number {
    const at = this.need(8);
    return Number(this.buffer.readBigUInt64LE(at));
  }
  i64(): number {
    const at = this.need(8);
    return Number(this.buffer.readBigInt64LE(at));
  }
  str(): string {
    const length = this.u64();
    const offset = this.need(length);
    return this.buffer.toString('utf8', offset, offset + length);
  }
}

function readGgufValue(cursor: FileCursor, type: number): unknown {
  switch (type) {
    case 0:
      return cursor.u8();
    case 1:
      return cursor.i8();
    case 2:
      return cursor.u16();
    case 3:
      return cursor.i16();
    case 4:
      return cursor.u32();
    case 5:
      return cursor.i32();
    case 6:
      return cursor.f32();
    case 7:
      return cursor.u8() !== 0;
    case 8:
      return cursor.str();
    case 9: {
      const itemType = cursor.u32();
      const length = cursor.u64();
      const items: unknown[] = [];
      for (let i = 0; i < length; i++) {
        const item = readGgufValue(cursor, itemType);
        if (length <= 64) items.push(item);
      }
      // Like `ollama show` without --verbose: long arrays (the vocabulary) are left out.
      return length <= 64 ? items : null;
    }
    case 10:
      return cursor.u64();
    case 11:
      return cursor.i64();
    case 12:
      return cursor.f64();
    default:
      throw new Error(`GGUF: unknown value type ${type}`);
  }
}

function readGguf(path: string): GgufSummary {
  const fd = openSync(path, 'r');
  try {
    const cursor = new FileCursor(fd);
    const magic = cursor.u32();
    if (magic !== 0x46554747) throw new Error(`${path} is not a GGUF file`);
    cursor.u32(); // version
    const tensorCount = cursor.u64();
    const kvCount = cursor.u64();
    const kv = new Map<string, unknown>();
    for (let i = 0; i < kvCount; i++) {
      const key = cursor.str();
      kv.set(key, readGgufValue(cursor, cursor.u32()));
    }
    let parameterCount = 0;
    for (let i = 0; i < tensorCount; i++) {
      cursor.str();
      const dims = cursor.u32();
      let count = 1;
      for (let d = 0; d < dims; d++) count *= cursor.u64();
      cursor.u32(); // type
      cursor.u64(); // offset
      parameterCount += count;
    }
    return { kv, parameterCount };
  } finally {
    closeSync(fd);
  }
}

function humanParameters(count: number): string {
  if (count >= 1e9) return `${(count / 1e9).toFixed(1)}B`;
  if (count >= 1e6) return `${(count / 1e6).toFixed(2)}M`;
  return `${(count / 1e3).toFixed(2)}K`;
}

function makeEntry(engineModel: string, options: { path?: string; contextLength?: number }): ModelEntry {
  let summary: GgufSummary | undefined;
  let size = 6_500_000;
  let modifiedAt = new Date().toISOString();
  if (options.path) {
    summary = readGguf(options.path);
    const stats = statSync(options.path);
    size = stats.size;
    modifiedAt = stats.mtime.toISOString();
  }
  const kv = summary?.kv ?? new Map<string, unknown>();
  const arch = jsonText(kv.get('general.architecture') ?? 'llama');
  const num = (key: string, fallback: number): number => {
    const value = kv.get(`${arch}.${key}`);
    return typeof value === 'number' ? value : fallback;
  };
  const contextLength = options.contextLength ?? num('context_length', 8192);
  const embedding = num('embedding_length', 256);
  const heads = num('attention.head_count', 4);
  const headsKv = num('attention.head_count_kv', heads);
  const layers = num('block_count', 4);
  const parameterCount = summary?.parameterCount ?? 3_300_000;
  const modelInfo: Record<string, unknown> = {
    'general.architecture': arch,
    'general.parameter_count': parameterCount,
    [`${arch}.context_length`]: contextLength,
    [`${arch}.embedding_length`]: embedding,
    [`${arch}.block_count`]: layers,
    [`${arch}.attention.head_count`]: heads,
    [`${arch}.attention.head_count_kv`]: headsKv,
  };
  for (const [key, value] of kv) {
    if (key === 'tokenizer.chat_template') continue; // Ollama shows its own Go template instead
    modelInfo[key] = value;
  }
  const fileType = kv.get('general.file_type');
  const name = fullName(engineModel);
  return {
    name,
    engineModel,
    size,
    digest: randomBytes(32).toString('hex'),
    modifiedAt,
    contextLength,
    kvBytesPerToken: 2 * layers * Math.round((embedding * headsKv) / heads) * 2,
    details: {
      parent_model: '',
      format: 'gguf',
      family: arch,
      families: [arch],
      parameter_size: humanParameters(parameterCount),
      quantization_level: typeof fileType === 'number' ? (QUANTIZATION[fileType] ?? `type ${fileType}`) : 'F16',
    },
    modelInfo,
  };
}

// ---------------------------------------------------------------------------------------------
// Slots and queue

interface Slot {
  /** The last prompt this slot evaluated (instant mode's prefix-cache emulation). */
  lastPrompt: string;
}

interface Waiter {
  prompt: string;
  resolve(slot: Slot | null): void;
  cancelled: boolean;
}

// ---------------------------------------------------------------------------------------------
// Requests

/** A chat request from either API, normalised. */
interface ChatCall {
  api: 'native' | 'v1';
  model: string;
  entry: ModelEntry;
  messages: ChatMessage[];
  request: ChatRequest;
  numCtx: number;
  keepAliveMs: number;
  stream: boolean;
  includeUsage: boolean;
  started: bigint;
}

/** Ollama's logprob entry: OpenAI's fields, `top_logprobs` only where alternatives were asked for. */
interface OllamaLogprob {
  token: string;
  logprob: number;
  bytes: number[];
  top_logprobs?: Array<{ token: string; logprob: number; bytes: number[] }>;
}

interface Generation {
  content: string;
  thinking?: string;
  logprobs?: OllamaLogprob[];
  doneReason: 'stop' | 'length';
  promptTokens: number;
  completionTokens: number;
  cachedTokens?: number;
  loadNs: number;
  generationNs: number;
}

class HttpFailure extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

function parseKeepAlive(value: unknown): number {
  if (value === undefined || value === null || value === '') return 5 * 60_000;
  if (typeof value === 'number') return value < 0 ? FOREVER_MS : value * 1000;
  if (typeof value === 'string') {
    const text = value.trim();
    if (/^-?\d+(\.\d+)?$/.test(text)) return parseKeepAlive(Number(text));
    if (text.startsWith('-')) return FOREVER_MS;
    let total = 0;
    const units: Record<string, number> = { h: 3_600_000, m: 60_000, s: 1000, ms: 1, us: 0.001, µs: 0.001, ns: 1e-6 };
    const pattern = /(\d+(?:\.\d+)?)(ms|us|µs|ns|h|m|s)/g;
    let match: RegExpExecArray | null;
    let consumed = 0;
    while ((match = pattern.exec(text))) {
      total += Number(match[1]) * (units[match[2]!] ?? 0);
      consumed += match[0].length;
    }
    if (consumed === text.length && consumed > 0) return total;
  }
  throw new HttpFailure(400, `time: invalid duration "${jsonText(value)}"`);
}

function renderPrompt(messages: ChatMessage[]): string {
  let prompt = '';
  for (const message of messages) prompt += `<|im_start|>${message.role}\n${textOf(message.content)}<|im_end|>\n`;
  return prompt + '<|im_start|>assistant\n';
}

function textOf(content: ChatMessage['content']): string {
  if (typeof content === 'string') return content;
  if (!content) return '';
  return content.map((part) => part.text ?? '').join('');
}

function estimateTokens(text: string): number {
  return Math.max(1, Math.ceil(text.length / 4));
}

const utf8Bytes = (text: string): number[] => [...Buffer.from(text, 'utf8')];

/** An engine's logprobs in Ollama's shape, `top` alternatives each. */
function ollamaLogprobs(tokens: readonly TokenLogprob[], top: number): OllamaLogprob[] {
  return tokens.map((token) => ({
    token: token.token,
    logprob: token.logprob,
    bytes: token.bytes ?? utf8Bytes(token.token),
    ...(top > 0 && {
      top_logprobs: token.top_logprobs
        .slice(0, top)
        .map((other) => ({ token: other.token, logprob: other.logprob, bytes: other.bytes ?? utf8Bytes(other.token) })),
    }),
  }));
}

/**
 * Logprobs where the engine behind gives none (instant mode, or an engine without them): the
 * content in 4-character tokens (as estimateTokens counts), each with a fixed made-up logprob
 * and `top` alternatives below it, the token itself first, so that a test knows what to expect.
 */
function madeUpLogprobs(content: string, top: number): OllamaLogprob[] {
  const pieces = content.match(/[\s\S]{1,4}/g) ?? [];
  return ollamaLogprobs(
    pieces.map((token, index) => {
      const logprob = -((index % 7) + 1) / 8;
      const alternatives = Array.from({ length: top }, (_, rank) => ({
        token: rank === 0 ? token : `${token}~${rank}`,
        logprob: logprob - rank,
        bytes: null,
      }));
      return { token, logprob, bytes: null, top_logprobs: alternatives };
    }),
    top,
  );
}

function commonPrefix(a: string, b: string): number {
  const length = Math.min(a.length, b.length);
  let i = 0;
  while (i < length && a.charCodeAt(i) === b.charCodeAt(i)) i++;
  return i;
}

const sleep = (ms: number, signal: AbortSignal): Promise<void> =>
  new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason as Error);
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason as Error);
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });

function readBody(request: http.IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () =>
      resolve(chunks.length === 1 ? chunks[0]!.toString('utf8') : Buffer.concat(chunks).toString('utf8')),
    );
    request.on('error', reject);
  });
}

const JSON_HEADERS = { 'Content-Type': 'application/json; charset=utf-8' };

function sendJson(response: http.ServerResponse, status: number, body: unknown): void {
  if (response.headersSent || response.destroyed) return;
  const text = JSON.stringify(body);
  response.writeHead(status, { ...JSON_HEADERS, 'Content-Length': Buffer.byteLength(text) });
  response.end(text);
}

function sendText(response: http.ServerResponse, status: number, text: string, head = false): void {
  response.writeHead(status, {
    'Content-Type': 'text/plain; charset=utf-8',
    'Content-Length': Buffer.byteLength(text),
  });
  response.end(head ? undefined : text);
}

/** Ollama's native error body, or the OpenAI-shaped one its /v1 answers with. */
function sendError(response: http.ServerResponse, api: 'native' | 'v1', status: number, message: string): void {
  if (api === 'native') return sendJson(response, status, { error: message });
  const type = status === 400 ? 'invalid_request_error' : status === 404 ? 'not_found_error' : 'api_error';
  sendJson(response, status, { error: { message, type, param: null, code: null } });
}

/** The HTML pages of the `html` fault: a proxy whose engine is down, and a captive portal answering 200. */
const HTML_PAGES: ReadonlyArray<[status: number, page: string]> = [
  [
    502,
    '<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n',
  ],
  [
    200,
    '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>Sign in to the guest network</title></head><body><form method="post"><input name="code"></form></body></html>\n',
  ],
];

const OOM_MESSAGES = [
  'model requires more system memory (11.4 GiB) than is available (7.6 GiB)',
  'llama runner process has terminated: cudaMalloc failed: out of memory',
  'llama runner process has terminated: error loading model: unable to allocate CUDA0 buffer',
];

// ---------------------------------------------------------------------------------------------

export async function startOllamaEmulator(options: EmulatorOptions = {}): Promise<RunningEmulator> {
  const engine = options.instant ? undefined : options.engine;
  const parallel = Math.max(1, Math.floor(options.parallel ?? 1));
  const maxQueue = Math.max(0, Math.floor(options.maxQueue ?? 512));
  const latencyMs = options.latencyMs ?? 0;
  const loadMs = options.loadMs ?? 0;
  const defaultNumCtx = options.defaultNumCtx ?? 4096;
  const vramBytes = options.vramBytes ?? Number.POSITIVE_INFINITY;
  const version = options.version ?? '0.30.0';
  const instantContent = options.instantContent ?? DEFAULT_INSTANT_CONTENT;
  let fault: EmulatorFault | null = options.fault ?? null;
  let faultRate = options.fault ? (options.faultRate ?? 1) : 0;
  const outOfMemoryAbove = options.outOfMemoryAbove ?? Number.POSITIVE_INFINITY;
  const thinkingText = engine ? undefined : options.thinking;
  const received: ReceivedChat[] = [];

  const stats: EmulatorStats = {
    requests: 0,
    chats: 0,
    completed: 0,
    faults: 0,
    rejected: 0,
    aborted: 0,
    overflows: 0,
    inFlight: 0,
    inFlightMax: 0,
    running: 0,
    runningMax: 0,
    queued: 0,
    queuedMax: 0,
    loads: 0,
    promptTokens: 0,
    completionTokens: 0,
    cachedTokens: 0,
  };

  // The model catalogue.
  const catalogue = new Map<string, ModelEntry>();
  if (engine) {
    const names = await engine.listModels();
    const pathBase = options.modelPath ? basename(options.modelPath, extname(options.modelPath)) : undefined;
    for (const name of names) {
      const usePath = options.modelPath && (names.length === 1 || name === pathBase) ? options.modelPath : undefined;
      const entry = makeEntry(name, usePath ? { path: usePath } : {});
      catalogue.set(entry.name, entry);
    }
  } else {
    for (const name of options.models ?? ['instant']) {
      const entry = makeEntry(name, options.modelPath ? { path: options.modelPath } : {});
      catalogue.set(entry.name, entry);
    }
  }
  /** Ollama's lookup: `tiny` is `tiny:latest`; a name it does not have is 404 (see parseChat and /api/show). */
  function findModel(name: string): ModelEntry | undefined {
    return catalogue.get(fullName(name));
  }

  // Loaded models (/api/ps) and keep_alive.
  const loaded = new Map<string, LoadedModel>();
  function loadedModels(): LoadedModel[] {
    const now = Date.now();
    for (const [name, model] of loaded) if (model.expiresAt <= now) loaded.delete(name);
    return [...loaded.values()];
  }

  // Slots and FIFO queue.
  const freeSlots: Slot[] = Array.from({ length: parallel }, () => ({ lastPrompt: '' }));
  const waiters: Waiter[] = [];
  let waiterHead = 0;
  function acquire(prompt: string): Slot | Promise<Slot | null> {
    if (freeSlots.length > 0) return takeSlot(prompt);
    return new Promise<Slot | null>((resolve) => {
      waiters.push({ prompt, resolve, cancelled: false });
      stats.queued++;
      if (stats.queued > stats.queuedMax) stats.queuedMax = stats.queued;
    });
  }
  function takeSlot(prompt: string): Slot {
    // Like llama.cpp's slot choice: the free slot whose cached prompt shares the longest prefix.
    let best = freeSlots.length - 1;
    if (prompt && freeSlots.length > 1) {
      let bestLength = -1;
      for (let i = 0; i < freeSlots.length; i++) {
        const length = commonPrefix(freeSlots[i]!.lastPrompt, prompt);
        if (length > bestLength) [best, bestLength] = [i, length];
      }
    }
    const slot = freeSlots[best]!;
    freeSlots[best] = freeSlots[freeSlots.length - 1]!;
    freeSlots.pop();
    return slot;
  }
  function release(slot: Slot): void {
    while (waiterHead < waiters.length) {
      const waiter = waiters[waiterHead]!;
      waiters[waiterHead++] = undefined as unknown as Waiter;
      if (waiterHead > 1024 && waiterHead * 2 > waiters.length) {
        waiters.splice(0, waiterHead);
        waiterHead = 0;
      }
      if (waiter.cancelled) continue;
      stats.queued--;
      waiter.resolve(slot);
      return;
    }
    freeSlots.push(slot);
  }
  function cancelWaiter(waiter: Waiter): void {
    if (waiter.cancelled) return;
    waiter.cancelled = true;
    stats.queued--;
    waiter.resolve(null);
  }

  const active = new Set<AbortController>();
  let closing = false;

  /** Loads the model, or reloads it for a changed num_ctx, as Ollama's scheduler does. */
  async function ensureLoaded(call: ChatCall, signal: AbortSignal): Promise<{ model: LoadedModel; loadNs: number }> {
    let model = loaded.get(call.entry.name);
    if (model && model.expiresAt <= Date.now()) {
      loaded.delete(call.entry.name);
      model = undefined;
    }
    let loadNs = 0;
    if (!model || model.numCtx !== call.numCtx) {
      stats.loads++;
      const loadStart = process.hrtime.bigint();
      if (loadMs > 0) await sleep(loadMs, signal);
      loadNs = Number(process.hrtime.bigint() - loadStart) + 1_000_000; // a load never takes 0 ns
      const size = call.entry.size + call.entry.kvBytesPerToken * call.numCtx * parallel;
      model = { entry: call.entry, numCtx: call.numCtx, expiresAt: 0, size };
      loaded.set(call.entry.name, model);
    }
    return { model, loadNs };
  }

  function keepAlive(call: ChatCall, model: LoadedModel): void {
    model.expiresAt = Date.now() + call.keepAliveMs;
    if (call.keepAliveMs <= 0) loaded.delete(call.entry.name);
  }

  async function generate(call: ChatCall, slot: Slot, prompt: string, signal: AbortSignal): Promise<Generation> {
    const { model, loadNs } = await ensureLoaded(call, signal);
    model.expiresAt = Number.POSITIVE_INFINITY; // busy models never expire
    try {
      return await generateLoaded(call, slot, prompt, signal, loadNs);
    } finally {
      keepAlive(call, model);
    }
  }

  async function generateLoaded(
    call: ChatCall,
    slot: Slot,
    prompt: string,
    signal: AbortSignal,
    loadNs: number,
  ): Promise<Generation> {
    if (latencyMs > 0) await sleep(latencyMs, signal);
    const start = process.hrtime.bigint();
    let generation: Generation;
    if (engine) {
      const result = await engine.chat({ ...call.request, model: call.entry.engineModel }, signal);
      generation = {
        content: result.content,
        doneReason: result.finishReason,
        promptTokens: result.promptTokens,
        completionTokens: result.completionTokens,
        loadNs,
        generationNs: Number(process.hrtime.bigint() - start),
      };
      if (result.cachedTokens !== undefined) generation.cachedTokens = result.cachedTokens;
      if (result.logprobs) generation.logprobs = ollamaLogprobs(result.logprobs, call.request.topLogprobs ?? 0);
      if (result.promptTokens + result.completionTokens > call.numCtx) stats.overflows++;
    } else {
      const promptTokens = estimateTokens(prompt);
      const cachedTokens = Math.min(promptTokens - 1, Math.floor(commonPrefix(slot.lastPrompt, prompt) / 4));
      slot.lastPrompt = prompt;
      // A thinking model thinks first unless told not to, and num_predict bounds thinking and answer together.
      const limit = call.request.maxTokens;
      let room = limit !== undefined && limit > 0 ? limit : Number.POSITIVE_INFINITY;
      let thinking: string | undefined;
      if (thinkingText && call.request.think !== false) {
        const thinkingTokens = Math.min(estimateTokens(thinkingText), room);
        thinking = thinkingText.slice(0, thinkingTokens * 4);
        room -= thinkingTokens;
      }
      let content = typeof instantContent === 'string' ? instantContent : instantContent(call.request);
      let doneReason: 'stop' | 'length' = 'stop';
      let answerTokens = estimateTokens(content);
      if (answerTokens > room) {
        content = content.slice(0, room * 4);
        answerTokens = room;
        doneReason = 'length';
      }
      generation = {
        content,
        doneReason,
        promptTokens,
        completionTokens: answerTokens + (thinking === undefined ? 0 : estimateTokens(thinking)),
        cachedTokens,
        loadNs,
        generationNs: latencyMs * NS_PER_MS,
      };
      if (thinking !== undefined) generation.thinking = thinking;
    }
    if (call.request.logprobs && !generation.logprobs)
      generation.logprobs = madeUpLogprobs(generation.content, call.request.topLogprobs ?? 0);
    return generation;
  }

  function counts(generation: Generation): Record<string, number> {
    // prompt share of the time: prompt tokens evaluate ~4x faster than generated ones.
    const weight = generation.promptTokens + 4 * generation.completionTokens || 1;
    const promptNs = Math.round((generation.generationNs * generation.promptTokens) / weight) || 1;
    const evalNs = Math.max(1, generation.generationNs - promptNs);
    const cached = generation.cachedTokens;
    const result: Record<string, number> = {};
    if (options.legacyCounts) {
      const evaluated = generation.promptTokens - (cached ?? 0);
      if (evaluated > 0) result.prompt_eval_count = evaluated;
    } else {
      result.prompt_eval_count = generation.promptTokens;
      if (cached !== undefined) result.prompt_eval_cached_count = cached;
    }
    result.prompt_eval_duration = promptNs;
    result.eval_count = generation.completionTokens;
    result.eval_duration = evalNs;
    return result;
  }

  function sendNative(response: http.ServerResponse, call: ChatCall, generation: Generation): void {
    const createdAt = new Date().toISOString();
    const totalNs = Number(process.hrtime.bigint() - call.started);
    const final = {
      model: call.model,
      created_at: createdAt,
      message: {
        role: 'assistant',
        content: call.stream ? '' : generation.content,
        ...(generation.thinking !== undefined && !call.stream && { thinking: generation.thinking }),
      },
      ...(generation.logprobs && !call.stream && { logprobs: generation.logprobs }),
      done_reason: generation.doneReason,
      done: true,
      total_duration: totalNs,
      load_duration: generation.loadNs,
      ...counts(generation),
    };
    if (!call.stream) return sendJson(response, 200, final);
    response.writeHead(200, { 'Content-Type': 'application/x-ndjson' });
    const content = generation.content;
    const pieces = Math.min(64, Math.max(1, generation.completionTokens));
    const step = Math.max(1, Math.ceil(content.length / pieces));
    let out = '';
    for (let i = 0; i < content.length; i += step) {
      out += `${JSON.stringify({ model: call.model, created_at: createdAt, message: { role: 'assistant', content: content.slice(i, i + step) }, done: false })}\n`;
    }
    response.end(`${out}${JSON.stringify(final)}\n`);
  }

  function sendV1(response: http.ServerResponse, call: ChatCall, generation: Generation): void {
    const id = `chatcmpl-${Math.floor(Math.random() * 1000)}`;
    const created = Math.floor(Date.now() / 1000);
    const usage: Record<string, unknown> = {
      prompt_tokens: generation.promptTokens,
      completion_tokens: generation.completionTokens,
      total_tokens: generation.promptTokens + generation.completionTokens,
    };
    // Ollama's /v1 reports no cached tokens; llama.cpp server and vLLM do. Given where known so
    // that OpenAI-engine tests see the field.
    if (generation.cachedTokens !== undefined) usage.prompt_tokens_details = { cached_tokens: generation.cachedTokens };
    if (!call.stream) {
      return sendJson(response, 200, {
        id,
        object: 'chat.completion',
        created,
        model: call.model,
        system_fingerprint: 'fp_ollama',
        choices: [
          {
            index: 0,
            // Ollama's /v1 names the thinking `reasoning`.
            message: {
              role: 'assistant',
              content: generation.content,
              ...(generation.thinking !== undefined && { reasoning: generation.thinking }),
            },
            finish_reason: generation.doneReason,
            logprobs: generation.logprobs ? { content: generation.logprobs.map(openAILogprob) } : null,
          },
        ],
        usage,
      });
    }
    response.writeHead(200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-cache' });
    const chunk = (delta: Record<string, unknown>, finish: string | null, extra: Record<string, unknown> = {}) =>
      `data: ${JSON.stringify({ id, object: 'chat.completion.chunk', created, model: call.model, system_fingerprint: 'fp_ollama', choices: [{ index: 0, delta, finish_reason: finish }], ...extra })}\n\n`;
    let out = chunk({ role: 'assistant', content: generation.content }, null);
    out += chunk({ role: 'assistant', content: '' }, generation.doneReason);
    if (call.includeUsage) {
      out += `data: ${JSON.stringify({ id, object: 'chat.completion.chunk', created, model: call.model, system_fingerprint: 'fp_ollama', choices: [], usage })}\n\n`;
    }
    response.end(`${out}data: [DONE]\n\n`);
  }

  /** Ollama's /v1 answers every token with its alternatives, an empty list where none were asked for. */
  function openAILogprob(entry: OllamaLogprob): TokenLogprob {
    return { ...entry, top_logprobs: entry.top_logprobs ?? [] };
  }

  function sendFault(
    request: http.IncomingMessage,
    response: http.ServerResponse,
    api: 'native' | 'v1',
    kind: EmulatorFault,
  ): void {
    stats.faults++;
    switch (kind) {
      case '500':
        return sendError(response, api, 500, 'llama runner process has terminated: exit status 2');
      case '503':
        return sendError(response, api, 503, BUSY_MESSAGE);
      case 'oom':
        return sendOutOfMemory(response, api);
      case 'empty':
        return sendJson(response, 200, {});
      case 'html': {
        const [status, page] = HTML_PAGES[stats.faults % HTML_PAGES.length]!;
        response.writeHead(status, {
          'Content-Type': 'text/html; charset=utf-8',
          'Content-Length': Buffer.byteLength(page),
        });
        return void response.end(page);
      }
      case 'reset':
        request.socket.destroy();
        return;
      case 'timeout':
        return; // never answered; close() destroys the connection
    }
  }

  function sendOutOfMemory(response: http.ServerResponse, api: 'native' | 'v1'): void {
    sendError(response, api, 500, OOM_MESSAGES[stats.faults % OOM_MESSAGES.length]!);
  }

  /** Validates and normalises a chat body from either API (throws HttpFailure). */
  function parseChat(api: 'native' | 'v1', body: Record<string, unknown>, started: bigint): ChatCall {
    const model = body.model;
    if (typeof model !== 'string' || model === '') throw new HttpFailure(400, 'model is required');
    const messages = body.messages ?? [];
    if (!Array.isArray(messages)) throw new HttpFailure(400, 'messages must be an array');
    for (const message of messages as unknown[]) {
      if (!message || typeof message !== 'object' || typeof (message as { role?: unknown }).role !== 'string') {
        throw new HttpFailure(400, 'invalid message: every message needs a role');
      }
    }
    const request: ChatRequest = { model, messages: messages as ChatMessage[] };
    let numCtx = defaultNumCtx;
    let keepAlive: unknown;
    let stream: boolean;
    let includeUsage = false;
    const num = (value: unknown, name: string): number | undefined => {
      if (value === undefined || value === null) return undefined;
      if (typeof value !== 'number' || !Number.isFinite(value)) throw new HttpFailure(400, `invalid value for ${name}`);
      return value;
    };
    const topLogprobs = (value: unknown): number | undefined => {
      const top = num(value, 'top_logprobs');
      if (top !== undefined && !(Number.isInteger(top) && top >= 0 && top <= 20))
        throw new HttpFailure(400, 'top_logprobs must be between 0 and 20');
      return top;
    };
    const setLogprobs = (logprobs: unknown, top: unknown): void => {
      if (logprobs !== undefined && logprobs !== null && typeof logprobs !== 'boolean')
        throw new HttpFailure(400, 'invalid value for logprobs');
      if (logprobs !== true) return;
      request.logprobs = true;
      const count = topLogprobs(top);
      if (count !== undefined) request.topLogprobs = count;
    };
    const setPenalties = (source: Record<string, unknown>): void => {
      const frequency = num(source.frequency_penalty, 'frequency_penalty');
      const presence = num(source.presence_penalty, 'presence_penalty');
      if (frequency !== undefined) request.frequencyPenalty = frequency;
      if (presence !== undefined) request.presencePenalty = presence;
    };
    const stops = (value: unknown): string[] | undefined => {
      if (value === undefined || value === null) return undefined;
      if (typeof value === 'string') return [value];
      if (Array.isArray(value) && value.every((item) => typeof item === 'string')) return value;
      throw new HttpFailure(400, 'invalid value for stop');
    };
    if (api === 'native') {
      stream = body.stream !== false; // Ollama streams unless told not to
      keepAlive = body.keep_alive;
      const format = body.format;
      if (format === 'json') request.format = 'json';
      else if (format && typeof format === 'object' && !Array.isArray(format))
        request.format = format as Record<string, unknown>;
      else if (format !== undefined && format !== null && format !== '') {
        throw new HttpFailure(400, 'invalid format: expected "json" or a valid JSON schema');
      }
      const opts = (body.options ?? {}) as Record<string, unknown>;
      if (typeof opts !== 'object') throw new HttpFailure(400, 'options must be an object');
      const temperature = num(opts.temperature, 'temperature');
      const topP = num(opts.top_p, 'top_p');
      const seed = num(opts.seed, 'seed');
      const numPredict = num(opts.num_predict, 'num_predict');
      const ctx = num(opts.num_ctx, 'num_ctx');
      const stop = stops(opts.stop);
      if (temperature !== undefined) request.temperature = temperature;
      if (topP !== undefined) request.topP = topP;
      if (seed !== undefined) request.seed = seed;
      if (stop) request.stop = stop;
      if (numPredict !== undefined && numPredict > 0) request.maxTokens = numPredict; // -1/-2: unbounded
      if (ctx !== undefined && ctx > 0) numCtx = ctx;
      const topK = num(opts.top_k, 'top_k');
      const minP = num(opts.min_p, 'min_p');
      const repeatPenalty = num(opts.repeat_penalty, 'repeat_penalty');
      if (topK !== undefined) request.topK = topK;
      if (minP !== undefined) request.minP = minP;
      if (repeatPenalty !== undefined) request.repeatPenalty = repeatPenalty;
      setPenalties(opts);
      setLogprobs(body.logprobs, body.top_logprobs);
      const think = body.think;
      if (think === true || think === false || think === 'low' || think === 'medium' || think === 'high')
        request.think = think;
      else if (think !== undefined && think !== null)
        throw new HttpFailure(
          400,
          `invalid think value: "${jsonText(think)}" (must be "high", "medium", "low", true, or false)`,
        );
    } else {
      stream = body.stream === true;
      includeUsage = (body.stream_options as { include_usage?: unknown } | undefined)?.include_usage === true;
      const temperature = num(body.temperature, 'temperature');
      const topP = num(body.top_p, 'top_p');
      const seed = num(body.seed, 'seed');
      const maxTokens = num(body.max_completion_tokens ?? body.max_tokens, 'max_tokens');
      const stop = stops(body.stop);
      if (temperature !== undefined) request.temperature = temperature;
      if (topP !== undefined) request.topP = topP;
      if (seed !== undefined) request.seed = seed;
      if (stop) request.stop = stop;
      if (maxTokens !== undefined && maxTokens > 0) request.maxTokens = maxTokens;
      setPenalties(body);
      setLogprobs(body.logprobs, body.top_logprobs);
      // Ollama's /v1 maps reasoning_effort to think ("none": off).
      const effort = body.reasoning_effort;
      if (effort === 'none') request.think = false;
      else if (effort === 'low' || effort === 'medium' || effort === 'high') request.think = effort;
      else if (effort !== undefined && effort !== null)
        throw new HttpFailure(400, `invalid reasoning_effort: "${jsonText(effort)}"`);
      const format = body.response_format as { type?: unknown; json_schema?: { schema?: unknown } } | undefined;
      if (format?.type === 'json_object') request.format = 'json';
      else if (format?.type === 'json_schema') {
        const schema = format.json_schema?.schema;
        if (!schema || typeof schema !== 'object')
          throw new HttpFailure(400, 'response_format.json_schema.schema is required');
        request.format = schema as Record<string, unknown>;
      } else if (format !== undefined && format !== null && format.type !== 'text') {
        throw new HttpFailure(400, `invalid response_format type: ${String(format.type)}`);
      }
    }
    const entry = findModel(model);
    if (!entry) throw new HttpFailure(404, `model "${model}" not found, try pulling it first`);
    if (request.think !== undefined && request.think !== false && !thinkingText)
      throw new HttpFailure(400, `"${model}" does not support thinking`);
    numCtx = Math.min(numCtx, entry.contextLength);
    request.numCtx = numCtx;
    return {
      api,
      model,
      entry,
      messages: request.messages,
      request,
      numCtx,
      keepAliveMs: parseKeepAlive(keepAlive),
      stream,
      includeUsage,
      started,
    };
  }

  async function handleChat(
    request: http.IncomingMessage,
    response: http.ServerResponse,
    api: 'native' | 'v1',
  ): Promise<void> {
    const started = process.hrtime.bigint();
    stats.chats++;
    const text = await readBody(request);
    let call: ChatCall;
    try {
      if (text.trim() === '') throw new HttpFailure(400, 'missing request body');
      let body: unknown;
      try {
        body = JSON.parse(text);
      } catch (error) {
        throw new HttpFailure(400, (error as Error).message);
      }
      if (!body || typeof body !== 'object' || Array.isArray(body))
        throw new HttpFailure(400, 'request body must be a JSON object');
      if (options.recordBodies) received.push({ api, body: body as Record<string, unknown> });
      call = parseChat(api, body as Record<string, unknown>, started);
    } catch (error) {
      if (error instanceof HttpFailure) return sendError(response, api, error.status, error.message);
      throw error;
    }

    if (fault && faultRate > 0 && Math.random() < faultRate) return sendFault(request, response, api, fault);
    if (stats.inFlight >= outOfMemoryAbove) {
      stats.faults++;
      return sendOutOfMemory(response, api);
    }

    // An empty native chat only loads the model (done_reason "load").
    if (api === 'native' && call.messages.length === 0) {
      const { model } = await ensureLoaded(call, new AbortController().signal);
      keepAlive(call, model);
      return sendJson(response, 200, {
        model: call.model,
        created_at: new Date().toISOString(),
        message: { role: 'assistant', content: '' },
        done_reason: 'load',
        done: true,
      });
    }

    if (freeSlots.length === 0 && stats.queued >= maxQueue) {
      stats.rejected++;
      return sendError(response, api, 503, BUSY_MESSAGE);
    }

    const controller = new AbortController();
    active.add(controller);
    stats.inFlight++;
    if (stats.inFlight > stats.inFlightMax) stats.inFlightMax = stats.inFlight;
    let waiter: Waiter | undefined;
    let slot: Slot | null;
    const onClose = () => {
      if (response.writableEnded) return;
      controller.abort(new Error('client disconnected'));
    };
    response.on('close', onClose);
    const prompt = engine ? '' : renderPrompt(call.messages);
    try {
      const acquired = acquire(prompt);
      if (acquired instanceof Promise) {
        waiter = waiters[waiters.length - 1];
        const cancel = () => waiter && cancelWaiter(waiter);
        controller.signal.addEventListener('abort', cancel, { once: true });
        slot = await acquired;
        controller.signal.removeEventListener('abort', cancel);
      } else {
        slot = acquired;
      }
      if (!slot) {
        stats.aborted++;
        if (closing) response.destroy();
        return;
      }
      stats.running++;
      if (stats.running > stats.runningMax) stats.runningMax = stats.running;
      let generation: Generation;
      try {
        generation = await generate(call, slot, prompt, controller.signal);
      } finally {
        stats.running--;
        release(slot);
      }
      stats.completed++;
      stats.promptTokens += generation.promptTokens;
      stats.completionTokens += generation.completionTokens;
      stats.cachedTokens += generation.cachedTokens ?? 0;
      if (api === 'native') sendNative(response, call, generation);
      else sendV1(response, call, generation);
    } catch (error) {
      if (controller.signal.aborted) {
        stats.aborted++;
        if (!response.destroyed) response.destroy();
        return;
      }
      if (error instanceof EngineError && error.kind === 'permanent') {
        return sendError(response, api, error.status ?? (error.code === 'model_not_found' ? 404 : 400), error.message);
      }
      return sendError(response, api, 500, error instanceof Error ? error.message : String(error));
    } finally {
      stats.inFlight--;
      active.delete(controller);
      response.off('close', onClose);
    }
  }

  function tagsEntry(entry: ModelEntry) {
    return {
      name: entry.name,
      model: entry.name,
      modified_at: entry.modifiedAt,
      size: entry.size,
      digest: entry.digest,
      details: entry.details,
    };
  }

  async function route(request: http.IncomingMessage, response: http.ServerResponse): Promise<void> {
    stats.requests++;
    const method = request.method ?? 'GET';
    const path = (request.url ?? '/').split('?')[0]!;
    if (method === 'POST' && path === '/api/chat') return handleChat(request, response, 'native');
    if (method === 'POST' && path === '/v1/chat/completions') return handleChat(request, response, 'v1');
    switch (`${method} ${path}`) {
      case 'GET /':
      case 'HEAD /':
        return sendText(response, 200, 'Ollama is running', method === 'HEAD');
      case 'GET /api/version':
        return sendJson(response, 200, { version });
      case 'GET /api/tags':
        return sendJson(response, 200, { models: [...catalogue.values()].map(tagsEntry) });
      case 'GET /api/ps':
        return sendJson(response, 200, {
          models: loadedModels().map((model) => ({
            ...tagsEntry(model.entry),
            expires_at: new Date(
              Math.min(
                model.expiresAt === Number.POSITIVE_INFINITY ? Date.now() + 300_000 : model.expiresAt,
                Date.now() + FOREVER_MS,
              ),
            ).toISOString(),
            size: model.size,
            size_vram: Math.min(model.size, vramBytes),
            context_length: model.numCtx,
          })),
        });
      case 'POST /api/show': {
        const text = await readBody(request);
        let body: { model?: unknown; name?: unknown };
        try {
          body = JSON.parse(text || '{}') as typeof body;
        } catch (error) {
          return sendError(response, 'native', 400, (error as Error).message);
        }
        const name = body.model ?? body.name;
        if (typeof name !== 'string' || !name) return sendError(response, 'native', 400, 'model is required');
        const entry = findModel(name);
        if (!entry) return sendError(response, 'native', 404, `model '${name}' not found`);
        return sendJson(response, 200, {
          license: '',
          modelfile: `# Modelfile generated by "ollama show"\nFROM ${entry.name}\nTEMPLATE """{{ range .Messages }}<|im_start|>{{ .Role }}\n{{ .Content }}<|im_end|>\n{{ end }}<|im_start|>assistant\n"""\nPARAMETER stop <|im_end|>\n`,
          parameters: 'stop                           "<|im_end|>"',
          template:
            '{{ range .Messages }}<|im_start|>{{ .Role }}\n{{ .Content }}<|im_end|>\n{{ end }}<|im_start|>assistant\n',
          details: entry.details,
          model_info: entry.modelInfo,
          capabilities: thinkingText ? ['completion', 'thinking'] : ['completion'],
          modified_at: entry.modifiedAt,
        });
      }
      case 'GET /v1/models':
        return sendJson(response, 200, {
          object: 'list',
          data: [...catalogue.values()].map((entry) => ({
            id: entry.name,
            object: 'model',
            created: Math.floor(Date.parse(entry.modifiedAt) / 1000),
            owned_by: 'library',
          })),
        });
      default:
        return sendText(response, 404, '404 page not found');
    }
  }

  const server = http.createServer({ keepAliveTimeout: 65_000 }, (request, response) => {
    route(request, response).catch((error: unknown) => {
      if (!response.headersSent && !response.destroyed) sendJson(response, 500, { error: String(error) });
      else response.destroy();
    });
  });
  server.headersTimeout = 0;
  server.requestTimeout = 0;

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;

  let closed: Promise<void> | undefined;
  return {
    url: `http://${host}:${address.port}`,
    port: address.port,
    stats,
    received,
    setFault(kind, rate = 1) {
      fault = kind;
      faultRate = kind ? Math.max(0, Math.min(1, rate)) : 0;
    },
    close() {
      closed ??= new Promise<void>((resolve) => {
        closing = true;
        for (const controller of active) controller.abort(new Error('emulator closed'));
        for (let i = waiterHead; i < waiters.length; i++)
          if (waiters[i] && !waiters[i]!.cancelled) cancelWaiter(waiters[i]!);
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closed;
    },
  };
}
