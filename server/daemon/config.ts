// The daemon's settings: built-in defaults, then `config.json` in the data dir, then flags.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { BATCH_MODES, type BatchMode } from '../context/conversation.js';
import { TRIM_STRATEGIES, type TrimStrategy } from '../context/trim.js';
import type { EngineName } from '../engines/engine.js';
import type { EngineSettings } from '../engines/factory.js';
import { ollamaBaseUrl } from '../engines/ollama.js';
import { DEFAULT_HTTP_PORT, DEFAULT_MAX_UPLOAD_BYTES } from '../http/server.js';

/** The engine's settings (see EngineSettings) and everything else the daemon runs by. */
export interface DaemonConfig extends EngineSettings {
  dataDir: string;
  /** Requests in flight; default: the engine's slots where it tells them, else 4. */
  concurrency?: number;
  numCtx?: number;
  /** How conversations over the context are trimmed, and aggressive trimming's share of it. */
  trimStrategy?: TrimStrategy;
  aggressiveFraction?: number;
  /** Trimming may cut inside a message (the middle of the longest droppable one) rather than drop it. */
  trimAllowCut?: boolean;
  /** independent (default) or conversation, and conversation mode's trimming every N requests. */
  mode?: BatchMode;
  trimEvery?: number;
  requestTimeoutMs?: number;
  maxAttempts?: number;
  /** HTTP API: where it listens (port 0: any free port). */
  host: string;
  port: number;
  /** Bearer key for the HTTP API (default $OLLAMA_BATCH_API_KEY); required off loopback. */
  apiKey?: string;
  maxUploadMb: number;
  corsOrigin?: string;
  /** VRAM tracking: the nvidia-smi command, how often it is read, and the pressure levels (shares of VRAM used). */
  nvidiaSmiPath?: string;
  vramPollMs?: number;
  vramWarningShare?: number;
  vramCriticalShare?: number;
}

export const ENGINE_NAMES: readonly EngineName[] = ['ollama', 'openai', 'llama-cpp'];
export const DEFAULT_OPENAI_URL = 'http://127.0.0.1:8080/v1';

export function loadConfig(dataDir: string, flags: Partial<DaemonConfig>): DaemonConfig {
  const path = join(dataDir, 'config.json');
  let fromFile: Partial<DaemonConfig> = {};
  if (existsSync(path)) {
    try {
      fromFile = JSON.parse(readFileSync(path, 'utf8')) as Partial<DaemonConfig>;
    } catch (error) {
      throw new Error(`${path}: not valid JSON (${(error as Error).message})`, { cause: error });
    }
  }
  const defined = Object.fromEntries(Object.entries(flags).filter(([, value]) => value !== undefined));
  const config: DaemonConfig = {
    engine: 'ollama',
    ollamaUrl: ollamaBaseUrl(),
    openaiUrl: DEFAULT_OPENAI_URL,
    host: '127.0.0.1',
    port: DEFAULT_HTTP_PORT,
    maxUploadMb: DEFAULT_MAX_UPLOAD_BYTES / 1024 ** 2,
    ...(process.env.OLLAMA_BATCH_API_KEY && { apiKey: process.env.OLLAMA_BATCH_API_KEY }),
    ...fromFile,
    ...defined,
    dataDir,
  };
  if (!ENGINE_NAMES.includes(config.engine)) {
    throw new Error(`engine must be one of ${ENGINE_NAMES.join(', ')}; got ${JSON.stringify(config.engine)}`);
  }
  if (config.engine === 'llama-cpp' && !config.modelPath) {
    throw new Error('the llama-cpp engine needs a GGUF file: --model-path FILE (or "modelPath" in config.json)');
  }
  if (config.mode !== undefined && !BATCH_MODES.includes(config.mode)) {
    throw new Error(`mode must be one of ${BATCH_MODES.join(', ')}; got ${JSON.stringify(config.mode)}`);
  }
  if (config.trimStrategy !== undefined && !TRIM_STRATEGIES.includes(config.trimStrategy)) {
    throw new Error(
      `trim strategy must be one of ${TRIM_STRATEGIES.join(', ')}; got ${JSON.stringify(config.trimStrategy)}`,
    );
  }
  // An empty key would turn the guard off while the user thinks it is on; a blank one can never
  // be sent (HTTP trims header values), so it would lock every client out.
  if (config.apiKey?.trim() === '') {
    throw new Error(
      'the API key is empty: give --api-key (or OLLAMA_BATCH_API_KEY, or "apiKey" in config.json) a key of visible characters, or leave it unset',
    );
  }
  return config;
}
