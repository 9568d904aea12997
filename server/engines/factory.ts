// Builds engines: one per endpoint of the pool, and the one engine of the single-engine settings,
// which is that same endpoint made of them. The llama-cpp engine is imported only when chosen, so
// the others never load node-llama-cpp.
import { isLoopbackUrl } from '../config/defaults.js';
import { singleEndpoint, type Endpoint } from '../config/endpoints.js';
import type { Engine, EngineName } from './engine.js';
import { OllamaEngine } from './ollama.js';
import { OpenAIEngine } from './openai.js';

/** What every endpoint's engine shares: the daemon's settings that are not an endpoint's own. */
export interface SharedEngineSettings {
  /** Ollama's keep_alive for every request (default -1: keep the model loaded). */
  keepAlive?: string | number;
  /** The context window: the llama-cpp engine loads with it. */
  numCtx?: number;
  /** Limit of a call that has no caller's signal (listing models, probes), and of an openai request. */
  requestTimeoutMs?: number;
  /** The daemon's environment, where OLLAMA_NUM_PARALLEL is read for an Ollama on this machine (default process.env). */
  env?: NodeJS.ProcessEnv;
}

/** What choosing and building the single engine takes from the settings (the daemon's config has all of it). */
export interface EngineSettings extends SharedEngineSettings {
  engine: EngineName;
  ollamaUrl: string;
  openaiUrl: string;
  openaiApiKey?: string;
  /** GGUF file for the llama-cpp engine. */
  modelPath?: string;
  /** Requests in flight: the llama-cpp engine's slots. */
  concurrency?: number;
  /** CPU threads for the llama-cpp engine. */
  threads?: number;
}

/** The engine of one endpoint (see server/config/endpoints.ts for how an endpoint is completed). */
export async function createEndpointEngine(endpoint: Endpoint, shared: SharedEngineSettings = {}): Promise<Engine> {
  const timeout = shared.requestTimeoutMs !== undefined && { requestTimeoutMs: shared.requestTimeoutMs };
  switch (endpoint.engine) {
    case 'ollama': {
      const parallel = localNumParallel(endpoint.url!, shared.env ?? process.env);
      return new OllamaEngine({
        url: endpoint.url!,
        ...timeout,
        ...(parallel !== undefined && { parallel }),
        ...(shared.keepAlive !== undefined && {
          keepAlive: /^-?\d+$/.test(String(shared.keepAlive)) ? Number(shared.keepAlive) : shared.keepAlive,
        }),
      });
    }
    case 'openai':
      return new OpenAIEngine({ baseURL: endpoint.url!, apiKey: endpoint.apiKey, ...timeout });
    case 'llama-cpp': {
      if (endpoint.modelPath === undefined)
        throw new Error(`endpoint ${endpoint.name}: the llama-cpp engine needs a GGUF file`);
      const { LlamaCppEngine } = await import('./llama-cpp.js');
      // num_ctx is the context it loads with: fixed for its life, as a llama.cpp server's --ctx-size.
      return LlamaCppEngine.load({
        modelPath: endpoint.modelPath,
        slots: typeof endpoint.concurrency === 'number' ? endpoint.concurrency : undefined,
        threads: endpoint.threads,
        ...(shared.numCtx !== undefined && { contextSize: shared.numCtx }),
      });
    }
  }
}

/** The engine the single-engine settings name: the one endpoint they make. */
export async function createEngine(config: EngineSettings): Promise<Engine> {
  return createEndpointEngine(singleEndpoint(config), config);
}

/** Where an endpoint listens, for status displays (null for the in-process engine). */
export function endpointUrl(endpoint: Pick<Endpoint, 'engine' | 'url'>): string | null {
  return endpoint.engine === 'llama-cpp' ? null : (endpoint.url ?? null);
}

/** Where the single engine listens, for status displays (null for the in-process engine). */
export function engineUrl(config: EngineSettings): string | null {
  return endpointUrl(singleEndpoint(config));
}

/**
 * Requests in flight on an endpoint: its own number, else what its engine tells ("discover":
 * llama-server's /props, vLLM's max_num_seqs where it shows it, OLLAMA_NUM_PARALLEL of a local
 * Ollama, the llama-cpp engine's slots); undefined where neither, for the caller's default.
 */
export async function endpointConcurrency(
  endpoint: Pick<Endpoint, 'concurrency'>,
  engine: Pick<Engine, 'slots'>,
): Promise<number | undefined> {
  if (typeof endpoint.concurrency === 'number') return endpoint.concurrency;
  return engine.slots().catch(() => undefined);
}

/**
 * OLLAMA_NUM_PARALLEL as this daemon's environment has it, for an Ollama on this machine: Ollama's
 * API does not tell its slots, and an Ollama started from the same environment (a shell, a
 * service file shared with the daemon) runs with this value. Never for another host's Ollama.
 * 0 or unset: Ollama picks by itself, unknown here.
 */
function localNumParallel(url: string, env: NodeJS.ProcessEnv): number | undefined {
  const parallel = Number(env.OLLAMA_NUM_PARALLEL);
  if (!Number.isInteger(parallel) || parallel < 1) return undefined;
  return isLoopbackUrl(url) ? parallel : undefined;
}
