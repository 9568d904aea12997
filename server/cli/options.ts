// Options that several commands share: where the data is and which engine the daemon uses.
import { readFileSync } from 'node:fs';
import { resolve, sep } from 'node:path';
import { Option, type Command } from 'commander';
import { ENGINE_NAMES, type DaemonConfig } from '../daemon/config.js';
import { resolveDataDir } from '../daemon-access/local-daemon.js';
import { BATCH_MODES, type BatchMode } from '../context/conversation.js';
import { TRIM_STRATEGIES, type TrimStrategy } from '../context/trim.js';
import type { EngineName } from '../engines/engine.js';
import { DEFAULT_HTTP_PORT, DEFAULT_MAX_UPLOAD_BYTES } from '../http/server.js';

/** A file named on the command line, from where the command runs: a daemon that `run` starts works in its data dir. */
const absolutePath = (value: string): string => resolve(value);

export interface EngineFlags {
  dataDir?: string;
  engine?: EngineName;
  ollamaUrl?: string;
  openaiUrl?: string;
  modelPath?: string;
  concurrency?: number;
  threads?: number;
  numCtx?: number;
  trimStrategy?: TrimStrategy;
  trimAllowCut?: boolean;
  mode?: BatchMode;
  trimEvery?: number;
  requestTimeoutMs?: number;
  nvidiaSmiPath?: string;
  vramPollMs?: number;
  vramWarningShare?: number;
  vramCriticalShare?: number;
  keepAlive?: string;
}

export const positiveInteger = (value: string): number => {
  const number = Number(value);
  if (!Number.isInteger(number) || number < 1) throw new Error(`expected a positive integer, got "${value}"`);
  return number;
};

const share = (value: string): number => {
  const number = Number(value);
  if (!(number > 0 && number <= 1)) throw new Error(`expected a share between 0 and 1, got "${value}"`);
  return number;
};

export function addDataDirOption(command: Command): Command {
  return command.option('--data-dir <dir>', 'daemon data dir (default: $OLLAMA_BATCH_HOME, else the user data dir)');
}

export function addEngineOptions(command: Command): Command {
  return command
    .addOption(new Option('--engine <name>', 'inference engine').choices(ENGINE_NAMES))
    .option('--ollama-url <url>', 'Ollama server (default: $OLLAMA_HOST, else http://127.0.0.1:11434)')
    .option('--openai-url <url>', 'OpenAI-compatible server base URL (default http://127.0.0.1:8080/v1)')
    .option('--model-path <file>', 'GGUF model file for the llama-cpp engine', absolutePath)
    .option('--concurrency <n>', "requests in flight (default: the engine's slots, else 4)", positiveInteger)
    .option('--threads <n>', 'CPU threads for the llama-cpp engine', positiveInteger)
    .option(
      '--num-ctx <n>',
      'context window for every request of a batch (default: the smallest that holds its longest request)',
      positiveInteger,
    )
    .addOption(
      new Option(
        '--trim-strategy <name>',
        'how conversations over the context are trimmed (default sliding-window)',
      ).choices(TRIM_STRATEGIES),
    )
    .option(
      '--trim-allow-cut',
      'trimming may cut inside a message (the middle of one it would drop) instead of dropping it whole',
    )
    .addOption(
      new Option(
        '--mode <mode>',
        "independent requests (default), or the prototype's one running conversation per worker, to measure",
      ).choices(BATCH_MODES),
    )
    .option(
      '--trim-every <n>',
      'conversation mode: trim every n requests as well as at 87.5% of the context',
      positiveInteger,
    )
    .option(
      '--request-timeout-ms <n>',
      'give up on one try of a request after this long (default 600000)',
      positiveInteger,
    )
    .option(
      '--nvidia-smi-path <command>',
      'nvidia-smi to read VRAM with (default: nvidia-smi on PATH; none: VRAM "not available")',
      (value: string) => (value.includes(sep) ? absolutePath(value) : value),
    )
    .option('--vram-poll-ms <n>', 'how often VRAM is read (default 5000)', positiveInteger)
    .option(
      '--vram-warning-share <share>',
      'VRAM in use above which trimming turns aggressive and concurrency halves (default 0.9)',
      share,
    )
    .option('--vram-critical-share <share>', 'VRAM in use reported as critical (default 0.97)', share)
    .option(
      '--keep-alive <duration>',
      'how long Ollama keeps the model loaded after a request, e.g. 30m, or -1 for ever (default -1)',
    );
}

export interface HttpFlags {
  host?: string;
  port?: number;
  /** Only `serve` takes the key itself on its command line. */
  apiKey?: string;
  apiKeyFile?: string;
  maxUploadMb?: number;
  corsOrigin?: string;
}

/**
 * `serve`'s HTTP flags; `run` takes them for the daemon it starts, all but --api-key: a client's
 * arguments show in `ps` to every user for as long as it waits, hours for a batch. It takes the
 * key from $OLLAMA_BATCH_API_KEY or --api-key-file.
 */
export function addHttpOptions(command: Command): Command {
  command
    .option('--host <host>', 'HTTP API address (default 127.0.0.1; another address needs an API key)')
    .option('--port <port>', `HTTP API port (default ${DEFAULT_HTTP_PORT}; 0 picks a free one)`, (value) => {
      const port = Number(value);
      if (!Number.isInteger(port) || port < 0 || port > 65535)
        throw new Error(`expected a port from 0 to 65535, got "${value}"`);
      return port;
    });
  if (command.name() === 'serve') {
    command.addOption(
      new Option(
        '--api-key <key>',
        'require Authorization: Bearer <key> on every HTTP route but /health (default $OLLAMA_BATCH_API_KEY)',
      ).conflicts('apiKeyFile'),
    );
  }
  return command
    .option(
      '--api-key-file <file>',
      'read the API key from the first line of this file (default $OLLAMA_BATCH_API_KEY)',
      absolutePath,
    )
    .option(
      '--max-upload-mb <n>',
      `largest file POST /v1/files accepts (default ${DEFAULT_MAX_UPLOAD_BYTES / 1024 ** 2})`,
      positiveInteger,
    )
    .option('--cors-origin <origin>', 'allow this browser origin to call the HTTP API (CORS is off by default)');
}

export const dataDirOf = (flags: { dataDir?: string }): string => resolveDataDir(flags.dataDir);

/** The API key that --api-key or --api-key-file give, if either does. */
function apiKeyOf(flags: HttpFlags): string | undefined {
  if (flags.apiKey !== undefined || flags.apiKeyFile === undefined) return flags.apiKey;
  let key: string;
  try {
    key = readFileSync(flags.apiKeyFile, 'utf8').split(/\r?\n/)[0]!.trim();
  } catch (error) {
    throw new Error(`cannot read the API key file: ${(error as Error).message}`, { cause: error });
  }
  if (key === '') throw new Error(`the API key file ${flags.apiKeyFile} is empty; its first line is the key`);
  return key;
}

/** The engine flags as config overrides (undefined ones do not override config.json). */
export function configFlags(flags: EngineFlags & HttpFlags): Partial<DaemonConfig> {
  const { dataDir: _dataDir, apiKeyFile: _apiKeyFile, ...rest } = flags;
  return { ...rest, apiKey: apiKeyOf(flags) };
}

/** The same flags as `serve` arguments, for a daemon that `run` starts (the API key goes by `serveEnv`). */
export function serveArgs(flags: EngineFlags & HttpFlags): string[] {
  const names: Array<[keyof (EngineFlags & HttpFlags), string]> = [
    ['engine', '--engine'],
    ['ollamaUrl', '--ollama-url'],
    ['openaiUrl', '--openai-url'],
    ['modelPath', '--model-path'],
    ['concurrency', '--concurrency'],
    ['threads', '--threads'],
    ['numCtx', '--num-ctx'],
    ['trimStrategy', '--trim-strategy'],
    ['mode', '--mode'],
    ['trimEvery', '--trim-every'],
    ['requestTimeoutMs', '--request-timeout-ms'],
    ['nvidiaSmiPath', '--nvidia-smi-path'],
    ['vramPollMs', '--vram-poll-ms'],
    ['vramWarningShare', '--vram-warning-share'],
    ['vramCriticalShare', '--vram-critical-share'],
    ['keepAlive', '--keep-alive'],
    ['host', '--host'],
    ['port', '--port'],
    ['maxUploadMb', '--max-upload-mb'],
    ['corsOrigin', '--cors-origin'],
  ];
  const args = names.flatMap(([key, flag]) => (flags[key] === undefined ? [] : [flag, String(flags[key])]));
  return flags.trimAllowCut ? [...args, '--trim-allow-cut'] : args;
}

/** The environment of a daemon that `run` starts: the API key there, as the extension passes it, not in its arguments where `ps` shows them. */
export function serveEnv(flags: HttpFlags): NodeJS.ProcessEnv {
  const apiKey = apiKeyOf(flags);
  return apiKey === undefined ? process.env : { ...process.env, OLLAMA_BATCH_API_KEY: apiKey };
}
