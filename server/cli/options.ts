// Options that several commands share: where the data is and which engine the daemon uses.
import { Option, type Command } from 'commander';
import { ENGINE_NAMES, type DaemonConfig } from '../daemon/config.js';
import { resolveDataDir } from '../protocol/daemon-access.js';
import type { EngineName } from '../engines/engine.js';

export interface EngineFlags {
  dataDir?: string;
  engine?: EngineName;
  ollamaUrl?: string;
  openaiUrl?: string;
  modelPath?: string;
  concurrency?: number;
  threads?: number;
  numCtx?: number;
  requestTimeoutMs?: number;
}

export const positiveInteger = (value: string): number => {
  const number = Number(value);
  if (!Number.isInteger(number) || number < 1) throw new Error(`expected a positive integer, got "${value}"`);
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
    .option('--model-path <file>', 'GGUF model file for the llama-cpp engine')
    .option('--concurrency <n>', 'requests in flight (default: the engine\'s slots, else 4)', positiveInteger)
    .option('--threads <n>', 'CPU threads for the llama-cpp engine', positiveInteger)
    .option('--num-ctx <n>', 'context window for every request of a batch', positiveInteger)
    .option('--request-timeout-ms <n>', 'give up on one try of a request after this long (default 600000)', positiveInteger);
}

export const dataDirOf = (flags: { dataDir?: string }): string => resolveDataDir(flags.dataDir);

/** The engine flags as config overrides (undefined ones do not override config.json). */
export function configFlags(flags: EngineFlags): Partial<DaemonConfig> {
  const { dataDir: _dataDir, ...rest } = flags;
  return rest;
}

/** The same flags as `serve` arguments, for a daemon that `run` starts. */
export function serveArgs(flags: EngineFlags): string[] {
  const names: Array<[keyof EngineFlags, string]> = [
    ['engine', '--engine'],
    ['ollamaUrl', '--ollama-url'],
    ['openaiUrl', '--openai-url'],
    ['modelPath', '--model-path'],
    ['concurrency', '--concurrency'],
    ['threads', '--threads'],
    ['numCtx', '--num-ctx'],
    ['requestTimeoutMs', '--request-timeout-ms'],
  ];
  return names.flatMap(([key, flag]) => (flags[key] === undefined ? [] : [flag, String(flags[key])]));
}
