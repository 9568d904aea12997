// The endpoints a daemon runs with: the `endpoints` setting's list, each entry completed, or,
// where the list is empty, one endpoint made of the single-engine settings (engine, ollamaUrl,
// openaiUrl, openaiApiKey, modelPath, threads, concurrency, modelAliases): one engine stays the
// default and the simplest case, and behaves as it did before there were pools.
import { basename } from 'node:path';
import type { EndpointConfig } from '../protocol/endpoints.js';
import { DEFAULT_OLLAMA_URL, DEFAULT_OPENAI_URL } from './defaults.js';
import type { Settings } from './settings.js';

/** An endpoint with every default filled in: a unique name, its URL (ollama, openai), concurrency, weight, aliases. */
export interface Endpoint extends EndpointConfig {
  name: string;
  concurrency: number | 'discover';
  weight: number;
  modelAliases: Record<string, string>;
}

/** The settings one endpoint is made of where no list is given, and that fill an entry's blanks. */
export type SingleEngineSettings = Pick<
  Settings,
  'engine' | 'ollamaUrl' | 'openaiUrl' | 'openaiApiKey' | 'modelPath' | 'threads' | 'concurrency' | 'modelAliases'
>;

/** The endpoints to run with, in the order given, each named once. */
export function endpointConfigs(settings: SingleEngineSettings & Pick<Settings, 'endpoints'>): Endpoint[] {
  const entries = settings.endpoints?.length ? settings.endpoints : [singleEndpointConfig(settings)];
  return named(entries.map((entry) => withDefaults(entry, settings)));
}

/** The one endpoint the single-engine settings make: what `createEngine` runs. */
export function singleEndpoint(settings: SingleEngineSettings): Endpoint {
  return named([withDefaults(singleEndpointConfig(settings), settings)])[0]!;
}

/** The single-engine settings as an entry of the list, with only the fields of its kind. */
function singleEndpointConfig(settings: SingleEngineSettings): EndpointConfig {
  const engine = settings.engine ?? 'ollama';
  return {
    engine,
    ...(engine === 'llama-cpp' && {
      ...(settings.modelPath !== undefined && { modelPath: settings.modelPath }),
      ...(settings.threads !== undefined && { threads: settings.threads }),
    }),
    concurrency: settings.concurrency ?? 'discover',
  };
}

/**
 * An entry with its blanks filled: the URL and key of the single-engine settings of its kind, the
 * daemon-wide aliases under its own (its own win), concurrency "discover", weight 1.
 */
function withDefaults(
  entry: EndpointConfig,
  settings: SingleEngineSettings,
): Omit<Endpoint, 'name'> & { name?: string } {
  const url =
    entry.engine === 'ollama'
      ? (entry.url ?? settings.ollamaUrl ?? DEFAULT_OLLAMA_URL)
      : entry.engine === 'openai'
        ? (entry.url ?? settings.openaiUrl ?? DEFAULT_OPENAI_URL)
        : undefined;
  const apiKey = entry.engine === 'openai' ? (entry.apiKey ?? settings.openaiApiKey) : undefined;
  return {
    ...entry,
    ...(url !== undefined && { url }),
    ...(apiKey !== undefined && { apiKey }),
    concurrency: entry.concurrency ?? 'discover',
    weight: entry.weight ?? 1,
    modelAliases: { ...settings.modelAliases, ...entry.modelAliases },
  };
}

/** Its default name: `ollama@gpu-box:11434`, `openai@10.0.0.5:8000`, `llama-cpp@tiny` (the file without .gguf). */
export function defaultEndpointName(endpoint: Pick<EndpointConfig, 'engine' | 'url' | 'modelPath'>): string {
  if (endpoint.engine === 'llama-cpp') return `llama-cpp@${basename(endpoint.modelPath ?? 'model', '.gguf')}`;
  const url = endpoint.url ?? '';
  return `${endpoint.engine}@${URL.canParse(url) ? new URL(url).host : url}`;
}

/** Every entry named: its own name, else its default one, `-2`, `-3`… after a name already taken. */
function named(entries: Array<Omit<Endpoint, 'name'> & { name?: string }>): Endpoint[] {
  const taken = new Set(entries.flatMap((entry) => entry.name ?? []));
  return entries.map((entry) => {
    if (entry.name !== undefined) return entry as Endpoint;
    const base = defaultEndpointName(entry);
    let name = base;
    for (let suffix = 2; taken.has(name); suffix++) name = `${base}-${suffix}`;
    taken.add(name);
    return { ...entry, name };
  });
}
