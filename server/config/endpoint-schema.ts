// The `endpoints` setting's check: one entry per engine of the pool, each field checked for its
// engine's kind, every error at its place (`endpoints[1].url: expected a URL`). What a missing
// field becomes (its default, the entry's name) is server/config/endpoints.ts's.
import { isAbsolute } from 'node:path';
import * as z from 'zod';
import type { EndpointConfig } from '../protocol/endpoints.js';
import { ENGINE_NAMES, type EngineName } from '../protocol/methods.js';
import { ollamaBaseUrl } from './defaults.js';

const text = (what: string): z.ZodType<string> =>
  z
    .string({ error: `expected ${what}` })
    .trim()
    .min(1, { error: `expected ${what}, not blank` });

const wholeNumber = z
  .int({ error: 'expected a whole number at least 1' })
  .min(1, { error: 'expected a whole number at least 1' });

const fields = {
  name: text('a name'),
  engine: z.enum(ENGINE_NAMES as [EngineName, ...EngineName[]], {
    error: `expected one of ${ENGINE_NAMES.join(', ')}`,
  }),
  url: text('a URL'),
  apiKey: text('a key'),
  modelPath: text('the path of a GGUF file').refine(isAbsolute, {
    error: 'expected an absolute path (the daemon runs in its data dir)',
  }),
  threads: wholeNumber,
  concurrency: z.union([z.literal('discover'), wholeNumber], {
    error: 'expected a whole number at least 1, or "discover"',
  }),
  weight: z.number({ error: 'expected a number above 0' }).gt(0, { error: 'expected a number above 0' }),
  modelAliases: z.record(z.string().min(1), text('a model name'), { error: 'expected an object of name: target' }),
};

/** The fields only some kinds take, and which. */
const ONLY_FOR: Partial<Record<keyof typeof fields, EngineName[]>> = {
  url: ['ollama', 'openai'],
  apiKey: ['openai'],
  modelPath: ['llama-cpp'],
  threads: ['llama-cpp'],
};

const endpoint = z
  .strictObject(
    {
      name: fields.name.optional(),
      engine: fields.engine,
      url: fields.url.optional(),
      apiKey: fields.apiKey.optional(),
      modelPath: fields.modelPath.optional(),
      threads: fields.threads.optional(),
      concurrency: fields.concurrency.optional(),
      weight: fields.weight.optional(),
      modelAliases: fields.modelAliases.optional(),
    },
    {
      error: (issue) =>
        issue.code === 'unrecognized_keys'
          ? `unknown field ${issue.keys.map((key) => `"${key}"`).join(', ')} (fields: ${Object.keys(fields).join(', ')})`
          : 'expected an endpoint: an object with at least "engine"',
    },
  )
  .transform((entry, context) => {
    const fail = (field: keyof typeof fields, message: string): never => {
      context.addIssue({ code: 'custom', path: [field], message });
      return z.NEVER;
    };
    for (const [field, kinds] of Object.entries(ONLY_FOR) as Array<[keyof typeof fields, EngineName[]]>)
      if (entry[field] !== undefined && !kinds.includes(entry.engine))
        return fail(field, `only ${kinds.join(' and ')} endpoints take it`);
    if (entry.engine === 'llama-cpp' && entry.modelPath === undefined)
      return fail('modelPath', 'a llama-cpp endpoint needs its GGUF file');
    if (entry.url === undefined) return entry;
    if (entry.engine === 'ollama') {
      // Written as OLLAMA_HOST may be ("gpu-box", "10.0.0.5:11434"), kept as the URL a client calls.
      try {
        return { ...entry, url: ollamaBaseUrl(entry.url) };
      } catch {
        return fail('url', 'expected a URL or host[:port] such as http://gpu-box:11434');
      }
    }
    if (!URL.canParse(entry.url) || !/^https?:$/.test(new URL(entry.url).protocol))
      return fail('url', 'expected a URL such as http://gpu-box:8000/v1');
    return { ...entry, url: entry.url.replace(/\/+$/, '') };
  });

/** The list as config.json, a flag or the extension gives it: each entry checked, names given once at most. */
export const endpointList: z.ZodType<EndpointConfig[]> = z
  .array(endpoint, {
    error: 'expected a list of endpoints, e.g. [{"engine": "ollama", "url": "http://gpu-box:11434"}]',
  })
  .superRefine((entries, context) => {
    const named = new Map<string, number>();
    entries.forEach((entry, index) => {
      if (entry.name === undefined) return;
      const first = named.get(entry.name);
      if (first === undefined) named.set(entry.name, index);
      else
        context.addIssue({
          code: 'custom',
          path: [index, 'name'],
          message: `"${entry.name}" is already the name of endpoints[${first}]`,
        });
    });
  });

/** The JSON Schema of one entry, for VS Code's settings editor (package.json). */
export const ENDPOINT_EDITOR_SCHEMA = {
  type: 'object',
  required: ['engine'],
  additionalProperties: false,
  properties: {
    name: { type: 'string', description: 'Shown in metrics and logs (default: kind@host:port).' },
    engine: { type: 'string', enum: ENGINE_NAMES },
    url: { type: 'string', description: 'ollama, openai: where it listens.' },
    apiKey: { type: 'string', description: 'openai: the bearer key.' },
    modelPath: { type: 'string', description: 'llama-cpp: the GGUF file (absolute path).' },
    threads: { type: 'integer', minimum: 1, description: 'llama-cpp: CPU threads.' },
    concurrency: {
      anyOf: [
        { type: 'integer', minimum: 1 },
        { type: 'string', enum: ['discover'] },
      ],
      description: 'Requests in flight on it, or "discover" (default).',
    },
    weight: { type: 'number', exclusiveMinimum: 0, description: 'Relative speed for the first lines (default 1).' },
    modelAliases: { type: 'object', additionalProperties: { type: 'string' } },
  },
} as const;

/** The list as shown (`config`, `status`): every key masked. */
export const maskedEndpoints = (entries: EndpointConfig[]): EndpointConfig[] =>
  entries.map((entry) => (entry.apiKey === undefined ? entry : { ...entry, apiKey: '(set)' }));
