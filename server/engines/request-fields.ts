// What each engine does with each field of a /v1/chat/completions body: honours it (and how),
// accepts it as changing nothing a local engine answers, or refuses it (and why). One table:
// validation refuses a line that asks an engine for something it would drop, and the README's
// request-field table is made from it. A field not in the table is refused by every engine.
import { isObject } from '../common/is-object.js';
import { ENGINE_NAMES, type EngineName } from '../protocol/methods.js';
import { REASONING_EFFORTS } from '../protocol/openai.js';

export type FieldSupport = { honoured: string } | { accepted: string } | { refused: string };

export interface RequestField {
  engines: Readonly<Record<EngineName, FieldSupport>>;
  /** What is wrong with a value (completing "body.<field> …"), or null; fields validate.ts checks itself have none. */
  check?: (value: unknown, body: Record<string, unknown>) => string | null;
  /** A value that asks for nothing (the default), accepted whatever the engine. null always is. */
  inert?: (value: unknown) => boolean;
}

const every = (support: FieldSupport): Record<EngineName, FieldSupport> => ({
  ollama: support,
  openai: support,
  'llama-cpp': support,
});

/** The embedded engine samples token by token where logprobs are asked for (llama-cpp.ts). */
const LLAMA_CPP_LOGPROBS: FieldSupport = {
  honoured:
    "sampled token by token with node-llama-cpp's probabilities (after the grammar and top_k/top_p: alternatives the grammar forbids are left out; the opening a schema forces has logprob 0)",
};

const isFalse = (value: unknown): boolean => value === false;
const isEmptyArray = (value: unknown): boolean => Array.isArray(value) && value.length === 0;

const finiteIn =
  (min: number, max: number) =>
  (value: unknown): string | null =>
    typeof value === 'number' && Number.isFinite(value) && value >= min && value <= max
      ? null
      : `must be a number from ${min} to ${max}`;

const integerIn =
  (min: number, max: number) =>
  (value: unknown): string | null =>
    Number.isInteger(value) && (value as number) >= min && (value as number) <= max
      ? null
      : `must be an integer from ${min} to ${max}`;

/** At most OpenAI's limit of choices per request. */
export const MAX_CHOICES = 128;
/** At most OpenAI's (and Ollama's) limit of alternatives per token. */
export const MAX_TOP_LOGPROBS = 20;

const NO_TOOLS = 'a batch answer is the message text: tool and function calls are not run or returned';
const NOT_LOCAL = 'not a feature of a local chat model';
const NO_EFFECT = 'changes nothing a local engine answers';

export const REQUEST_FIELDS: Readonly<Record<string, RequestField>> = {
  model: {
    engines: every({ honoured: 'the model the engine serves under this name (or its `modelAliases` target)' }),
  },
  messages: { engines: every({ honoured: 'the conversation; `developer` turns as system turns' }) },
  temperature: {
    engines: {
      ollama: { honoured: '`options.temperature`' },
      openai: { honoured: 'sent as is' },
      'llama-cpp': { honoured: 'sampling temperature (default 0.8, as Ollama)' },
    },
  },
  top_p: {
    engines: {
      ollama: { honoured: '`options.top_p`' },
      openai: { honoured: 'sent as is' },
      'llama-cpp': { honoured: 'top-p sampling (default 0.9, as Ollama)' },
    },
  },
  seed: {
    engines: {
      ollama: { honoured: '`options.seed`' },
      openai: { honoured: 'sent as is' },
      'llama-cpp': { honoured: "the sampler's seed" },
    },
  },
  stop: {
    check: (value) =>
      typeof value === 'string' || (Array.isArray(value) && value.every((item) => typeof item === 'string'))
        ? null
        : 'must be a string or an array of strings',
    engines: {
      ollama: { honoured: '`options.stop`' },
      openai: { honoured: 'sent as is' },
      'llama-cpp': { honoured: 'stop triggers' },
    },
  },
  max_tokens: {
    engines: {
      ollama: { honoured: '`options.num_predict`' },
      openai: { honoured: 'sent as `max_tokens`' },
      'llama-cpp': { honoured: 'the generation limit' },
    },
  },
  max_completion_tokens: {
    engines: every({ honoured: 'as `max_tokens` (this one wins when both are set)' }),
  },
  response_format: {
    engines: {
      ollama: { honoured: '`format`: `"json"` or the JSON schema' },
      openai: { honoured: 'sent as is (a schema as `json_schema`, strict)' },
      'llama-cpp': {
        honoured:
          'a grammar made from the JSON schema (or any JSON object); the opening every answer starts with (`{"score":`) is written after the prompt, not sampled',
      },
    },
  },
  n: {
    check: integerIn(1, MAX_CHOICES),
    inert: (value) => value === 1,
    engines: every({
      honoured:
        'n requests, one after another (each finds the prompt in the KV cache); n choices, usage summed; with a `seed`, choice i uses seed + i',
    }),
  },
  logprobs: {
    check: (value) => (typeof value === 'boolean' ? null : 'must be true or false'),
    inert: isFalse,
    engines: {
      ollama: { honoured: '`logprobs` on /api/chat, answered as `choices[].logprobs.content`' },
      openai: { honoured: 'sent as is, read back from `choices[].logprobs.content`' },
      'llama-cpp': LLAMA_CPP_LOGPROBS,
    },
  },
  top_logprobs: {
    check: (value, body) =>
      integerIn(0, MAX_TOP_LOGPROBS)(value) ?? (body.logprobs === true ? null : 'needs body.logprobs set to true'),
    inert: (value) => value === 0,
    engines: {
      ollama: { honoured: '`top_logprobs` on /api/chat' },
      openai: { honoured: 'sent as is' },
      'llama-cpp': LLAMA_CPP_LOGPROBS,
    },
  },
  reasoning_effort: {
    check: (value) =>
      (REASONING_EFFORTS as readonly unknown[]).includes(value)
        ? null
        : `must be one of ${REASONING_EFFORTS.join(', ')}`,
    engines: {
      ollama: {
        honoured:
          "`think`: `none`/`minimal` → `false`, a level as is; left out, a thinking model thinks. `reasoning_tokens`: the thinking's share of `eval_count` by length (Ollama does not count it apart)",
      },
      openai: {
        honoured:
          "sent as is (`minimal` as `none`); the server's `reasoning_tokens`, else the thinking's share of the completion by length",
      },
      'llama-cpp': {
        honoured:
          '`none`/`minimal`: no thought tokens; a level: thoughts within the default budget, kept out of `content`',
      },
    },
  },
  frequency_penalty: {
    check: finiteIn(-2, 2),
    inert: (value) => value === 0,
    engines: {
      ollama: { honoured: '`options.frequency_penalty`' },
      openai: { honoured: 'sent as is' },
      'llama-cpp': { honoured: "the repeat penalty's `frequencyPenalty` (last 64 tokens)" },
    },
  },
  presence_penalty: {
    check: finiteIn(-2, 2),
    inert: (value) => value === 0,
    engines: {
      ollama: { honoured: '`options.presence_penalty`' },
      openai: { honoured: 'sent as is' },
      'llama-cpp': { honoured: "the repeat penalty's `presencePenalty` (last 64 tokens)" },
    },
  },
  top_k: {
    check: integerIn(0, 1_000_000),
    engines: {
      ollama: { honoured: '`options.top_k` (extension, as vLLM)' },
      openai: { honoured: 'sent as is (vLLM, SGLang and llama.cpp server read it)' },
      'llama-cpp': { honoured: 'top-k sampling (default 40, as Ollama)' },
    },
  },
  min_p: {
    check: finiteIn(0, 1),
    engines: {
      ollama: { honoured: '`options.min_p` (extension, as vLLM)' },
      openai: { honoured: 'sent as is (vLLM, SGLang and llama.cpp server read it)' },
      'llama-cpp': { honoured: 'min-p sampling' },
    },
  },
  repetition_penalty: {
    check: finiteIn(0, 10),
    inert: (value) => value === 1,
    engines: {
      ollama: { honoured: '`options.repeat_penalty` (extension, as vLLM)' },
      openai: { honoured: 'sent as is (vLLM and SGLang read it)' },
      'llama-cpp': { honoured: "the repeat penalty's `penalty` (last 64 tokens)" },
    },
  },
  logit_bias: {
    check: (value) =>
      isObject(value) && Object.values(value).every((bias) => finiteIn(-100, 100)(bias) === null)
        ? null
        : 'must map token ids to numbers from -100 to 100',
    inert: (value) => isObject(value) && Object.keys(value).length === 0,
    engines: {
      ollama: { refused: 'Ollama has no logit bias' },
      openai: { honoured: "sent as is (token ids of the server's model)" },
      'llama-cpp': { refused: 'not mapped to the embedded engine' },
    },
  },
  stream: {
    inert: isFalse,
    engines: every({ refused: 'a batch line gets one whole answer' }),
  },
  stream_options: { engines: every({ refused: 'only for streamed answers, and a batch does not stream' }) },
  tools: { inert: isEmptyArray, engines: every({ refused: NO_TOOLS }) },
  tool_choice: { inert: (value) => value === 'none', engines: every({ refused: NO_TOOLS }) },
  parallel_tool_calls: { engines: every({ refused: NO_TOOLS }) },
  functions: { inert: isEmptyArray, engines: every({ refused: NO_TOOLS }) },
  function_call: { inert: (value) => value === 'none', engines: every({ refused: NO_TOOLS }) },
  modalities: {
    inert: (value) => Array.isArray(value) && value.every((item) => item === 'text'),
    engines: every({ refused: 'the answer is text only' }),
  },
  audio: { engines: every({ refused: NOT_LOCAL }) },
  prediction: { engines: every({ refused: NOT_LOCAL }) },
  web_search_options: { engines: every({ refused: NOT_LOCAL }) },
  verbosity: { engines: every({ refused: NOT_LOCAL }) },
  user: { engines: every({ accepted: NO_EFFECT }) },
  safety_identifier: { engines: every({ accepted: NO_EFFECT }) },
  metadata: { engines: every({ accepted: NO_EFFECT }) },
  store: { engines: every({ accepted: `${NO_EFFECT} (answers are in the output file anyway)` }) },
  service_tier: { engines: every({ accepted: NO_EFFECT }) },
  prompt_cache_key: { engines: every({ accepted: `${NO_EFFECT} (prompt prefixes are cached anyway)` }) },
  prompt_cache_retention: { engines: every({ accepted: NO_EFFECT }) },
};

/** A field a line cannot have: which one, and why (completing "body.<field> …"). */
export interface FieldProblem {
  field: string;
  /** Refused by the engine (or by every engine), not a bad value. */
  unsupported: boolean;
  message: string;
}

const engineList = (names: readonly EngineName[]): string =>
  names.length === 1 ? `the ${names[0]} engine` : `the ${names.slice(0, -1).join(', ')} and ${names.at(-1)} engines`;

/**
 * The first field of `body` that is unknown, has a bad value, or asks `engine` for what it
 * refuses. Without an engine (the editor, `validate` without a daemon) only what every engine
 * refuses is refused.
 */
export function requestFieldProblem(
  body: Record<string, unknown>,
  /** The engines that run the batch (a pool's kinds): a field must be honoured by each. */
  engines: readonly EngineName[] = [],
): FieldProblem | null {
  for (const [field, value] of Object.entries(body)) {
    if (value === null || value === undefined) continue;
    const spec = Object.hasOwn(REQUEST_FIELDS, field) ? REQUEST_FIELDS[field]! : undefined;
    if (!spec) {
      return {
        field,
        unsupported: true,
        message: 'is not a chat completion field any engine here honours (see the README for those that are)',
      };
    }
    const invalid = spec.check?.(value, body);
    if (invalid) return { field, unsupported: false, message: invalid };
    if (spec.inert?.(value)) continue;
    const honouredBy = ENGINE_NAMES.filter((name) => !('refused' in spec.engines[name]));
    const engine = engines.find((name) => 'refused' in spec.engines[name]);
    const refused = engine
      ? spec.engines[engine]
      : engines.length === 0 && honouredBy.length === 0
        ? spec.engines.ollama
        : undefined;
    if (refused && 'refused' in refused) {
      const others =
        honouredBy.length === 0
          ? ''
          : `; ${engineList(honouredBy)} ${honouredBy.length === 1 ? 'honours' : 'honour'} it`;
      const who = honouredBy.length === 0 ? 'any engine' : `the ${engine} engine`;
      return { field, unsupported: true, message: `is not supported by ${who}: ${refused.refused}${others}` };
    }
  }
  return null;
}
