// The settings table: every setting the daemon, the CLI and the extension know, once. The CLI's
// flags, config.json's validation, the arguments a client starts a daemon with, the extension's
// settings (package.json is checked against this table by a test) and a batch's metadata options
// are all read from it. The order is the order a user meets them in: what to run on first.
import * as z from 'zod';
import { BATCH_MODES, ENGINE_NAMES } from '../protocol/methods.js';
import { TRIM_STRATEGIES } from '../protocol/metrics.js';
import type { EndpointConfig } from '../protocol/endpoints.js';
import { ENDPOINT_EDITOR_SCHEMA, endpointList, maskedEndpoints } from './endpoint-schema.js';
import {
  DEFAULT_AGGRESSIVE_FRACTION,
  DEFAULT_CRITICAL_SHARE,
  DEFAULT_HTTP_HOST,
  DEFAULT_HTTP_PORT,
  DEFAULT_MAX_ATTEMPTS,
  DEFAULT_MAX_UPLOAD_MB,
  DEFAULT_NVIDIA_SMI,
  DEFAULT_OPENAI_URL,
  DEFAULT_REQUEST_TIMEOUT_MS,
  DEFAULT_VRAM_POLL_MS,
  DEFAULT_WARNING_SHARE,
  ollamaBaseUrl,
} from './defaults.js';

/**
 * daemon: read by the daemon when it starts, remembered in config.json; a change needs a restart.
 * batch: the daemon's default for every batch, remembered too, and also set per batch (`run`'s
 * flags, a batch's metadata, the extension's Run Batch), where it applies to that batch alone.
 */
export type SettingScope = 'daemon' | 'batch';

/** How a setting is written as text (a flag, an environment variable, a metadata value). */
type TextForm = 'string' | 'number' | 'boolean' | 'pairs' | 'json';

/** The JSON Schema of a setting in package.json (VS Code's settings editor draws from it). */
interface EditorSchema {
  type: string | string[];
  enum?: readonly string[];
  minimum?: number;
  maximum?: number;
  additionalProperties?: { type: string };
  items?: object;
}

interface SettingShape<T> {
  schema: z.ZodType<T>;
  text: TextForm;
  editor: EditorSchema;
}

export interface SettingSpec<T = unknown> extends SettingShape<T> {
  scope: SettingScope;
  /** The CLI flag (`serve`, `run`; `config set` takes the key). */
  flag: string;
  /** An environment variable read when no flag gives the value. */
  env?: string;
  /** Its name under `ollamaBatch.` in VS Code; absent: not an editor setting. */
  editorName?: string;
  default?: T;
  /** The default in words, where it is not one value (the engine decides, or it depends on another setting). */
  defaultText?: string;
  description: string;
  /** Never written to config.json from a flag, never on a command line (`ps` shows those), shown masked. */
  secret?: boolean;
  /**
   * Made absolute from where the CLI runs, since a daemon works in its data dir: a `file` always,
   * a `command` only where it names a folder (a bare name is looked up on PATH).
   */
  path?: 'file' | 'command';
  /**
   * The value as shown, where it may hold a secret inside (an endpoint's apiKey): masked in
   * displays, and a value that holds one goes to a daemon in the environment, not on its command line.
   */
  masked?(value: T): T;
}

const oneOf = <const T extends string>(values: readonly T[]): SettingShape<T> => ({
  schema: z.enum(values as [T, ...T[]], { error: `expected one of ${values.join(', ')}` }),
  text: 'string',
  editor: { type: 'string', enum: values },
});

const integer = (min: number, max?: number): SettingShape<number> => {
  const range = max === undefined ? `at least ${min}` : `from ${min} to ${max}`;
  let schema = z.int({ error: `expected a whole number ${range}` }).min(min, { error: `expected ${range}` });
  if (max !== undefined) schema = schema.max(max, { error: `expected ${range}` });
  return {
    schema,
    text: 'number',
    editor: { type: 'integer', minimum: min, ...(max !== undefined && { maximum: max }) },
  };
};

const share: SettingShape<number> = {
  schema: z
    .number({ error: 'expected a share between 0 and 1' })
    .gt(0, { error: 'expected a share between 0 and 1' })
    .lte(1, { error: 'expected a share between 0 and 1' }),
  text: 'number',
  editor: { type: 'number', minimum: 0, maximum: 1 },
};

const text: SettingShape<string> = {
  schema: z.string({ error: 'expected text' }).trim().min(1, { error: 'expected text, not blank' }),
  text: 'string',
  editor: { type: 'string' },
};

const url: SettingShape<string> = {
  schema: z
    .string({ error: 'expected a URL' })
    .trim()
    .refine((value) => URL.canParse(value), { error: 'expected a URL such as http://127.0.0.1:11434' }),
  text: 'string',
  editor: { type: 'string' },
};

/** Ollama's server as OLLAMA_HOST may name it ("0.0.0.0:11434", "gpu-box"), as the URL a client calls. */
const ollamaUrl: SettingShape<string> = {
  schema: z
    .string({ error: 'expected a URL or host[:port]' })
    .trim()
    .min(1, { error: 'expected a URL or host[:port]' })
    .transform((value, context) => {
      try {
        return ollamaBaseUrl(value);
      } catch {
        context.addIssue({ code: 'custom', message: 'expected a URL or host[:port] such as 127.0.0.1:11434' });
        return z.NEVER;
      }
    }),
  text: 'string',
  editor: { type: 'string' },
};

const flag: SettingShape<boolean> = {
  schema: z.boolean({ error: 'expected true or false' }),
  text: 'boolean',
  editor: { type: 'boolean' },
};

const aliases: SettingShape<Record<string, string>> = {
  schema: z.record(z.string().min(1), z.string().trim().min(1), { error: 'expected name=target pairs' }),
  text: 'pairs',
  editor: { type: 'object', additionalProperties: { type: 'string' } },
};

const endpoints: SettingShape<EndpointConfig[]> = {
  schema: endpointList,
  text: 'json',
  editor: { type: 'array', items: ENDPOINT_EDITOR_SCHEMA },
};

const setting = <T>(
  shape: SettingShape<T>,
  spec: NoInfer<Omit<SettingSpec<T>, keyof SettingShape<T>>>,
): SettingSpec<T> => ({
  ...shape,
  ...spec,
});

export const SETTINGS = {
  engine: setting(oneOf(ENGINE_NAMES), {
    scope: 'daemon',
    flag: '--engine',
    env: 'OLLAMA_BATCH_ENGINE',
    editorName: 'engine',
    default: 'ollama',
    description:
      'The inference engine: `ollama` (its native API), `openai` (any OpenAI-compatible server: llama.cpp server, vLLM, LM Studio) or `llama-cpp` (a GGUF file run inside the daemon).',
  }),
  ollamaUrl: setting(ollamaUrl, {
    scope: 'daemon',
    flag: '--ollama-url',
    env: 'OLLAMA_HOST',
    editorName: 'ollamaUrl',
    default: ollamaBaseUrl(''),
    description: 'The Ollama server the `ollama` engine calls (`$OLLAMA_HOST` is read as Ollama reads it).',
  }),
  modelPath: setting(text, {
    scope: 'daemon',
    flag: '--model-path',
    editorName: 'modelPath',
    path: 'file',
    defaultText: 'none: the `llama-cpp` engine needs one',
    description:
      'The GGUF model file the `llama-cpp` engine runs; it serves it under the file name without `.gguf`. Pick one with the command "Ollama Batch: Choose GGUF File…".',
  }),
  openaiUrl: setting(url, {
    scope: 'daemon',
    flag: '--openai-url',
    editorName: 'openaiUrl',
    default: DEFAULT_OPENAI_URL,
    description: 'Base URL of the OpenAI-compatible server the `openai` engine calls, up to and including `/v1`.',
  }),
  openaiApiKey: setting(text, {
    scope: 'daemon',
    flag: '--openai-api-key',
    env: 'OPENAI_API_KEY',
    secret: true,
    defaultText: 'none',
    description: 'The key the `openai` engine sends to its server, where that server wants one.',
  }),
  modelAliases: setting(aliases, {
    scope: 'daemon',
    flag: '--model-alias',
    editorName: 'modelAliases',
    default: {},
    description:
      'Model names a batch file may use for one the engine serves, e.g. `gemma3:12b` → `tiny`: a file written for one engine runs on another unedited. On the command line: `--model-alias gemma3:12b=tiny`, once per name.',
  }),
  endpoints: setting(endpoints, {
    scope: 'daemon',
    flag: '--endpoints',
    env: 'OLLAMA_BATCH_ENDPOINTS',
    editorName: 'endpoints',
    default: [],
    masked: maskedEndpoints,
    description:
      'The engines one batch runs over, as a list of `{"engine", "url" or "modelPath", "concurrency", "weight", …}`, e.g. `[{"engine": "ollama", "url": "http://gpu-box:11434"}]`: lines go to whichever has a free slot. Empty: one endpoint made of the settings above. See the README, "Several engines".',
  }),
  concurrency: setting(integer(1), {
    scope: 'batch',
    flag: '--concurrency',
    editorName: 'concurrency',
    defaultText: "the engine's parallel slots where it tells them, else 4",
    description:
      'Requests in flight at once. The daemon lowers it by itself when VRAM runs out, and remembers what held.',
  }),
  numCtx: setting(integer(1), {
    scope: 'batch',
    flag: '--num-ctx',
    editorName: 'numCtx',
    defaultText: "the smallest window that holds the batch's longest request and answer",
    description: 'The context window (`num_ctx`) every request of a batch runs with.',
  }),
  trimStrategy: setting(oneOf(TRIM_STRATEGIES), {
    scope: 'batch',
    flag: '--trim-strategy',
    editorName: 'trimStrategy',
    default: 'sliding-window',
    description:
      'How a conversation longer than the context is trimmed: `sliding-window` drops the oldest turns, `importance` the turns that matter least, `hybrid` both, `aggressive` cuts to a fixed share of the context.',
  }),
  trimAllowCut: setting(flag, {
    scope: 'batch',
    flag: '--trim-allow-cut',
    default: false,
    description: 'Trimming may cut inside a message (the middle of one it would drop) instead of dropping it whole.',
  }),
  mode: setting(oneOf(BATCH_MODES), {
    scope: 'batch',
    flag: '--mode',
    default: 'independent',
    description:
      "`independent` requests, or `conversation`: the old prototype's one growing conversation per worker, kept to measure against.",
  }),
  trimEvery: setting(integer(1), {
    scope: 'batch',
    flag: '--trim-every',
    defaultText: 'only at 87.5% of the context',
    description: 'Conversation mode: trim every this many requests as well as at 87.5% of the context.',
  }),
  aggressiveFraction: setting(share, {
    scope: 'batch',
    flag: '--aggressive-fraction',
    default: DEFAULT_AGGRESSIVE_FRACTION,
    description: 'The share of the context aggressive trimming keeps.',
  }),
  retryInvalid: setting(flag, {
    scope: 'batch',
    flag: '--retry-invalid',
    editorName: 'retryInvalid',
    default: false,
    description:
      "An answer that is not JSON or breaks its request's `json_schema` is asked for once more, as a new sample: the request's seed + 1, and at temperature 0 (where a seed changes nothing and the same answer would come back) at temperature 0.7. The line keeps the second answer, valid or not; `ollama_batch.retried` says so. Off by default: the retry is a different sample than the one asked for, and costs a request.",
  }),
  pilotAnswers: setting(integer(0), {
    scope: 'batch',
    flag: '--pilot-answers',
    editorName: 'pilotAnswers',
    default: 50,
    description:
      'The pilot check: after this many answers to requests that ask for JSON, a batch with too many answers that are not JSON or break their schema pauses until it is resumed or cancelled (a bad rubric or schema shows after minutes, not after a day). `0` turns it off.',
  }),
  pilotMaxInvalid: setting(share, {
    scope: 'batch',
    flag: '--pilot-max-invalid',
    editorName: 'pilotMaxInvalid',
    default: 0.2,
    description:
      "The share of the pilot check's answers that may be invalid (not JSON, or breaking the schema) before the batch pauses.",
  }),
  keepAlive: setting(text, {
    scope: 'daemon',
    flag: '--keep-alive',
    editorName: 'keepAlive',
    default: '-1',
    description:
      'How long Ollama keeps the model loaded after a request (`keep_alive`: `30m`, `1h`; `-1` for ever, `0` unloads at once).',
  }),
  threads: setting(integer(1), {
    scope: 'daemon',
    flag: '--threads',
    defaultText: "node-llama-cpp's choice",
    description: 'CPU threads for the `llama-cpp` engine.',
  }),
  requestTimeoutMs: setting(integer(1), {
    scope: 'daemon',
    flag: '--request-timeout-ms',
    default: DEFAULT_REQUEST_TIMEOUT_MS,
    description: 'How long one try of a request may take before it is given up and tried again (milliseconds).',
  }),
  maxAttempts: setting(integer(1), {
    scope: 'daemon',
    flag: '--max-attempts',
    default: DEFAULT_MAX_ATTEMPTS,
    description: "Tries per request before its line goes to the batch's error file.",
  }),
  vramWarningShare: setting(share, {
    scope: 'daemon',
    flag: '--vram-warning-share',
    editorName: 'vramWarningShare',
    default: DEFAULT_WARNING_SHARE,
    description:
      "Share of a GPU's VRAM in use above which the daemon stops raising concurrency and sizes num_ctx below it.",
  }),
  vramCriticalShare: setting(share, {
    scope: 'daemon',
    flag: '--vram-critical-share',
    editorName: 'vramCriticalShare',
    default: DEFAULT_CRITICAL_SHARE,
    description: "Share of a GPU's VRAM in use the daemon reports as critical, and halves concurrency at.",
  }),
  nvidiaSmiPath: setting(text, {
    scope: 'daemon',
    flag: '--nvidia-smi-path',
    path: 'command',
    default: DEFAULT_NVIDIA_SMI,
    description:
      'The nvidia-smi command VRAM is read with (a command on PATH, or a file); without one VRAM shows "not available".',
  }),
  vramPollMs: setting(integer(1), {
    scope: 'daemon',
    flag: '--vram-poll-ms',
    default: DEFAULT_VRAM_POLL_MS,
    description: 'How often VRAM is read (milliseconds).',
  }),
  host: setting(text, {
    scope: 'daemon',
    flag: '--host',
    default: DEFAULT_HTTP_HOST,
    description: 'The address the OpenAI-compatible HTTP API listens on; any but loopback needs an API key.',
  }),
  port: setting(integer(0, 65535), {
    scope: 'daemon',
    flag: '--port',
    editorName: 'httpPort',
    default: DEFAULT_HTTP_PORT,
    description:
      'The port of the HTTP API (`/v1/files`, `/v1/batches`, `/metrics`); `0` takes any free one (clients read the real one from the daemon).',
  }),
  apiKey: setting(text, {
    scope: 'daemon',
    flag: '--api-key',
    env: 'OLLAMA_BATCH_API_KEY',
    editorName: 'apiKey',
    secret: true,
    defaultText: 'none: loopback only',
    description:
      'A key every HTTP route but `/health` requires as `Authorization: Bearer <key>`. Passed in the environment, never on a command line.',
  }),
  apiKeyFile: setting(text, {
    scope: 'daemon',
    flag: '--api-key-file',
    path: 'file',
    defaultText: 'none',
    description:
      "A file whose first line is the HTTP API's key: the way to remember a key without writing it down here.",
  }),
  maxUploadMb: setting(integer(1), {
    scope: 'daemon',
    flag: '--max-upload-mb',
    default: DEFAULT_MAX_UPLOAD_MB,
    description: 'The largest file `POST /v1/files` accepts (MB).',
  }),
  corsOrigin: setting(text, {
    scope: 'daemon',
    flag: '--cors-origin',
    defaultText: 'none: CORS off',
    description: 'A browser origin allowed to call the HTTP API.',
  }),
};

export type SettingKey = keyof typeof SETTINGS;
type ValueOf<K extends SettingKey> = (typeof SETTINGS)[K] extends SettingSpec<infer T> ? T : never;
/** Every setting's value, each one optional (absent: its default, or the part that uses it decides). */
export type Settings = { [K in SettingKey]?: ValueOf<K> };

export const SETTING_KEYS = Object.keys(SETTINGS) as SettingKey[];
export const specOf = (key: SettingKey): SettingSpec => SETTINGS[key];
export const keysOf = (scope: SettingScope): SettingKey[] => SETTING_KEYS.filter((key) => specOf(key).scope === scope);

/** What a batch may set for itself (`run`'s flags, metadata, the extension's Run Batch). */
export type BatchSettings = Pick<
  Settings,
  | 'concurrency'
  | 'numCtx'
  | 'trimStrategy'
  | 'trimAllowCut'
  | 'mode'
  | 'trimEvery'
  | 'aggressiveFraction'
  | 'retryInvalid'
  | 'pilotAnswers'
  | 'pilotMaxInvalid'
>;
export const BATCH_SETTING_KEYS = keysOf('batch') as Array<keyof BatchSettings>;

/** The metadata key a batch-scope setting takes in an OpenAI batch's metadata: num_ctx, trim_strategy, … */
export const metadataKey = (key: SettingKey): string => key.replace(/[A-Z]/g, (letter) => `_${letter.toLowerCase()}`);

/** A setting that failed its check, named as its source names it. */
export class SettingError extends Error {}

/** A setting's value from text: a flag, an environment variable, a metadata value, `config set`. */
export function fromText(key: SettingKey, value: string): unknown {
  const spec = specOf(key);
  switch (spec.text) {
    case 'number':
      return value.trim() === '' ? value : Number(value);
    case 'boolean':
      return value === 'true' || value === '1' ? true : value === 'false' || value === '0' ? false : value;
    case 'pairs':
      return parsePairs(value);
    case 'json':
      return parseJson(value);
    case 'string':
      return value;
  }
}

/** JSON text; text that is not JSON stays text, for the schema to refuse with its own words. */
function parseJson(value: string): unknown {
  try {
    return JSON.parse(value) as unknown;
  } catch {
    return value;
  }
}

/** `name=target` pairs, comma-separated, or a JSON object. */
function parsePairs(value: string): unknown {
  if (value.trim().startsWith('{')) {
    try {
      return JSON.parse(value) as unknown;
    } catch {
      return value;
    }
  }
  const pairs: Record<string, string> = {};
  for (const pair of value.split(',')) {
    const at = pair.indexOf('=');
    if (at <= 0) return value;
    pairs[pair.slice(0, at).trim()] = pair.slice(at + 1).trim();
  }
  return pairs;
}

/** A setting's value checked against its schema; `where` names it as its source does ("--port", "metadata.num_ctx", "$OLLAMA_HOST"). */
export function checkSetting<K extends SettingKey>(key: K, value: unknown, where: string): ValueOf<K> {
  const result = specOf(key).schema.safeParse(value);
  if (!result.success) {
    // Named down to the field inside a list or an object: `config.json: endpoints[1].url`.
    const issue = result.error.issues[0]!;
    const at = issue.path.map((part) => (typeof part === 'number' ? `[${part}]` : `.${String(part)}`)).join('');
    const got = issue.path.reduce<unknown>(
      (inside, part) =>
        typeof inside === 'object' && inside !== null ? (inside as Record<PropertyKey, unknown>)[part] : undefined,
      value,
    );
    // A key inside a value (an endpoint's apiKey) is never echoed, not even in an error.
    const shownGot = issue.path.at(-1) === 'apiKey' ? '(a key)' : JSON.stringify(got);
    throw new SettingError(`${where}${at}: ${issue.message}${got === undefined ? '' : `, got ${shownGot}`}`);
  }
  return result.data as ValueOf<K>;
}

/** The value as text, for a flag, an environment variable or a metadata value. */
export function toText(value: unknown): string {
  if (Array.isArray(value)) return JSON.stringify(value);
  if (typeof value === 'object' && value !== null)
    return Object.entries(value)
      .map(([name, target]) => `${name}=${String(target)}`)
      .join(',');
  return String(value);
}

/** A setting's value as displays show it: a secret as "(set)", a secret inside a value masked. */
export function shownValue(key: SettingKey, value: unknown): unknown {
  const spec = specOf(key);
  if (value === undefined) return value;
  if (spec.secret) return '(set)';
  return spec.masked ? spec.masked(value) : value;
}

/** A value that is a secret or holds one: it goes to a daemon in the environment, never on its command line. */
export function holdsSecret(key: SettingKey, value: unknown): boolean {
  const spec = specOf(key);
  return (
    spec.secret === true || (spec.masked !== undefined && JSON.stringify(spec.masked(value)) !== JSON.stringify(value))
  );
}

/** A key as the user may write it: the key itself (numCtx) or its flag without dashes (num-ctx). */
export function settingKeyOf(name: string): SettingKey | undefined {
  const bare = name.replace(/^--/, '');
  return SETTING_KEYS.find((key) => key === bare || specOf(key).flag === `--${bare}`);
}
