// Builds the configured engine. The llama-cpp engine is imported only when chosen, so the
// others never load node-llama-cpp.
import type { DaemonConfig } from '../daemon/config.js';
import type { Engine } from './engine.js';
import { OllamaEngine } from './ollama.js';
import { OpenAIEngine } from './openai.js';

export async function createEngine(config: DaemonConfig): Promise<Engine> {
  switch (config.engine) {
    case 'ollama':
      return new OllamaEngine({ url: config.ollamaUrl, ...(config.keepAlive !== undefined && { keepAlive: /^-?\d+$/.test(String(config.keepAlive)) ? Number(config.keepAlive) : config.keepAlive }) });
    case 'openai':
      return new OpenAIEngine({ baseURL: config.openaiUrl, apiKey: config.openaiApiKey });
    case 'llama-cpp': {
      const { LlamaCppEngine } = await import('./llama-cpp.js');
      // num_ctx is the context it loads with: fixed for its life, as a llama.cpp server's --ctx-size.
      return LlamaCppEngine.load({ modelPath: config.modelPath!, slots: config.concurrency, threads: config.threads, ...(config.numCtx !== undefined && { contextSize: config.numCtx }) });
    }
  }
}

/** Where the engine listens, for status displays (null for the in-process engine). */
export function engineUrl(config: DaemonConfig): string | null {
  if (config.engine === 'ollama') return config.ollamaUrl;
  if (config.engine === 'openai') return config.openaiUrl;
  return null;
}
