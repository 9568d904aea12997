// Builds the configured engine. The llama-cpp engine is imported only when chosen, so the
// others never load node-llama-cpp.
import type { Engine, EngineName } from './engine.js';
import { OllamaEngine } from './ollama.js';
import { OpenAIEngine } from './openai.js';

/** What choosing and building an engine takes from the settings (the daemon's config has all of it). */
export interface EngineSettings {
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
  /** The context window: the llama-cpp engine loads with it. */
  numCtx?: number;
  /** Ollama's keep_alive for every request (default -1: keep the model loaded). */
  keepAlive?: string | number;
}

export async function createEngine(config: EngineSettings): Promise<Engine> {
  switch (config.engine) {
    case 'ollama':
      return new OllamaEngine({
        url: config.ollamaUrl,
        ...(config.keepAlive !== undefined && {
          keepAlive: /^-?\d+$/.test(String(config.keepAlive)) ? Number(config.keepAlive) : config.keepAlive,
        }),
      });
    case 'openai':
      return new OpenAIEngine({ baseURL: config.openaiUrl, apiKey: config.openaiApiKey });
    case 'llama-cpp': {
      const { LlamaCppEngine } = await import('./llama-cpp.js');
      // num_ctx is the context it loads with: fixed for its life, as a llama.cpp server's --ctx-size.
      return LlamaCppEngine.load({
        modelPath: config.modelPath!,
        slots: config.concurrency,
        threads: config.threads,
        ...(config.numCtx !== undefined && { contextSize: config.numCtx }),
      });
    }
  }
}

/** Where the engine listens, for status displays (null for the in-process engine). */
export function engineUrl(config: EngineSettings): string | null {
  if (config.engine === 'ollama') return config.ollamaUrl;
  if (config.engine === 'openai') return config.openaiUrl;
  return null;
}
