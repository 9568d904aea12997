// The extension's settings as the daemon takes them: daemon-level ones as `serve` flags (and the
// API key as an environment variable, out of the process list) when the extension starts a
// daemon, per-batch ones as the batch's metadata at Run Batch. Only settings the user set are
// passed, so a daemon's config.json keeps its say over everything else.

/** Settings the daemon reads at its start, with their `serve` flags; a change needs a restart. */
const DAEMON_FLAGS = {
  engine: '--engine',
  ollamaUrl: '--ollama-url',
  openaiUrl: '--openai-url',
  modelPath: '--model-path',
  concurrency: '--concurrency',
  keepAlive: '--keep-alive',
  vramWarningShare: '--vram-warning-share',
  vramCriticalShare: '--vram-critical-share',
  httpPort: '--port',
} as const;

/** Daemon-level settings outside the flags: the HTTP API key travels in the environment. */
const DAEMON_ENV = { apiKey: 'OLLAMA_BATCH_API_KEY' } as const;

export const DAEMON_SETTINGS: readonly string[] = [...Object.keys(DAEMON_FLAGS), ...Object.keys(DAEMON_ENV)];

/** A setting's value as the user set it; undefined when left at its default. */
export type SettingReader = (key: string) => unknown;

/** Strings that are not blank and finite numbers; anything else counts as not set. */
function valueOf(read: SettingReader, key: string): string | undefined {
  const value = read(key);
  if (typeof value === 'string') return value.trim() === '' ? undefined : value.trim();
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  return undefined;
}

export function serveOptions(read: SettingReader): { args: string[]; env: Record<string, string> } {
  const args = Object.entries(DAEMON_FLAGS).flatMap(([key, flag]) => {
    const value = valueOf(read, key);
    return value === undefined ? [] : [flag, value];
  });
  const env: Record<string, string> = {};
  for (const [key, name] of Object.entries(DAEMON_ENV)) {
    const value = valueOf(read, key);
    if (value !== undefined) env[name] = value;
  }
  return { args, env };
}

/** Metadata keys the daemon reads as run options (see the batch service), and where the input came from. */
export function batchMetadata(read: SettingReader, inputPath: string): Record<string, string> {
  const metadata: Record<string, string> = {};
  // The daemon keeps a copy of the file; the path lets the tree reveal the original. Metadata values hold 512 characters.
  if (inputPath.length <= 512) metadata.input_path = inputPath;
  const numCtx = valueOf(read, 'numCtx');
  if (numCtx !== undefined) metadata.num_ctx = numCtx;
  const trimStrategy = valueOf(read, 'trimStrategy');
  if (trimStrategy !== undefined) metadata.trim_strategy = trimStrategy;
  return metadata;
}
