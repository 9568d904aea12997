// The pool of engines one batch runs over: how an endpoint is configured (config.json's
// `endpoints`, the extension's `ollamaBatch.endpoints`) and what the daemon tells of each one
// (daemon/status, the metrics snapshot, Prometheus). With no `endpoints` the daemon makes one
// from the single-engine settings (engine, ollamaUrl, openaiUrl, modelPath, concurrency,
// modelAliases): one endpoint stays the default and the simplest case.

export type EngineName = 'ollama' | 'openai' | 'llama-cpp';
export const ENGINE_NAMES: readonly EngineName[] = ['ollama', 'openai', 'llama-cpp'];

/** One engine of the pool, as the user writes it. */
export interface EndpointConfig {
  /** Shown in metrics, labels and logs; default: the engine's kind and its host (`ollama@gpu-box:11434`). */
  name?: string;
  engine: EngineName;
  /** ollama and openai: where it listens (default: the single-engine setting of that kind). */
  url?: string;
  /** openai: the bearer key. */
  apiKey?: string;
  /** llama-cpp: the GGUF file. */
  modelPath?: string;
  /** llama-cpp: CPU threads. */
  threads?: number;
  /**
   * Requests in flight on it: a number, or "discover" (the default): what the engine tells
   * (llama-server's /props total_slots, OLLAMA_NUM_PARALLEL where readable), else 4.
   */
  concurrency?: number | 'discover';
  /** Relative speed for the first lines, before its answers show it (default 1). */
  weight?: number;
  /** Request model name → the name this endpoint serves it under. */
  modelAliases?: Record<string, string>;
}

/** What the daemon tells of one endpoint, live. */
export interface EndpointStatus {
  name: string;
  engine: EngineName;
  /** null for the in-process engine. */
  url: string | null;
  /** The models it serves, where the daemon asked it (daemon/status); absent where not asked. */
  models?: string[];
  /** Answering its health check; a down endpoint gets no lines until it answers again. */
  up: boolean;
  /** Why it is down, since when (ms since the epoch); null while up. */
  down: { reason: string; since: number } | null;
  /** Its requests in flight now, and the most it takes at once now (after out-of-memory or VRAM pressure). */
  inFlight: number;
  concurrency: number;
  /** Since the daemon started: answers, tries that failed, re-sends of a slow line's tail (hedges) and those won. */
  answered: number;
  errors: number;
  hedged: number;
  hedgesWon: number;
  promptTokens: number;
  completionTokens: number;
  /** Answers per second over the last minute; null before any. */
  requestsPerSecond: number | null;
  /** Mean latency of its answers over the last minute, ms; null before any. */
  meanLatencyMs: number | null;
  /**
   * What its memory reading warns of: this machine's VRAM nearly full (an endpoint on it), a
   * model spilled to system RAM (Ollama's /api/ps, on any host); absent while there is nothing.
   */
  memoryWarnings?: string[];
}
