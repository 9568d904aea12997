// Every request field an engine honours reaches it: a batch line's body goes the runner's way
// (toChatRequest → chatChoices → toChatCompletion) through the real `ollama` and `openai` clients
// to the Ollama emulator, which records the bodies it received. Behind it the tiny model (real
// inference: never assert on the words) or, for thinking, the instant answerer of a thinking model.
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import * as prettier from 'prettier';
import { chatChoices } from '../../server/engines/choices.js';
import type { Engine } from '../../server/engines/engine.js';
import { LlamaCppEngine } from '../../server/engines/llama-cpp.js';
import { OllamaEngine } from '../../server/engines/ollama.js';
import { OpenAIEngine } from '../../server/engines/openai.js';
import { REQUEST_FIELDS, type FieldSupport } from '../../server/engines/request-fields.js';
import { toChatCompletion, toChatRequest } from '../../server/engines/translate.js';
import type { ChatCompletion } from '../../server/openai/types.js';
import type { ChatCompletionBody } from '../../server/protocol/openai.js';
import { ENGINE_NAMES } from '../../server/protocol/methods.js';
import { engineError, never } from '../support/engine-assertions.js';
import { startOllamaEmulator, type RunningEmulator } from '../support/ollama-emulator/server.js';
import { tinyModelPath } from '../support/models.js';
import { startTinyEmulator } from '../support/tiny-emulator.js';

const README = new URL('../../README.md', import.meta.url);

const messages: ChatCompletionBody['messages'] = [
  { role: 'system', content: 'You score candidates from 0 to 100.' },
  { role: 'user', content: 'Candidate: ten years of Go.' },
];

/** A batch line's body answered the way the runner answers it. */
async function answer(engine: Engine, body: Partial<ChatCompletionBody>, model = 'tiny'): Promise<ChatCompletion> {
  const request = toChatRequest({ model, messages, ...body });
  return toChatCompletion(await chatChoices(engine, request, never()));
}

/** The body of the last chat request the emulator received. */
function lastBody(emulator: RunningEmulator): Record<string, unknown> {
  const last = emulator.received.at(-1);
  assert.ok(last, 'the emulator received a chat request');
  return last.body;
}

/** Checks OpenAI-shaped logprobs against the answer they are for. */
function assertLogprobsOf(completion: ChatCompletion, top: number): void {
  const [choice] = completion.choices;
  const tokens = choice!.logprobs?.content;
  assert.ok(tokens && tokens.length > 0, 'logprobs.content is there');
  assert.equal(tokens.map((token) => token.token).join(''), choice!.message.content, 'the tokens make the answer');
  for (const token of tokens) {
    assert.ok(token.logprob <= 0, `a log probability: ${token.logprob}`);
    assert.deepEqual(token.bytes, [...Buffer.from(token.token, 'utf8')]);
    assert.equal(token.top_logprobs.length, top);
  }
}

describe('request fields through the Ollama engine (native /api/chat)', function () {
  let emulator: RunningEmulator;
  let engine: OllamaEngine;

  before(async function () {
    emulator = await startTinyEmulator({ recordBodies: true });
    engine = new OllamaEngine({ url: emulator.url });
  });

  after(async function () {
    await emulator?.close();
  });

  it('sends sampling fields, penalties and top_k/min_p/repetition_penalty as Ollama options', async function () {
    const completion = await answer(engine, {
      temperature: 0.7,
      top_p: 0.8,
      seed: 5,
      stop: ['\n\n'],
      max_tokens: 6,
      frequency_penalty: 0.3,
      presence_penalty: 0.2,
      top_k: 10,
      min_p: 0.05,
      repetition_penalty: 1.2,
    });
    const body = lastBody(emulator);
    assert.deepEqual(body.options, {
      temperature: 0.7,
      top_p: 0.8,
      seed: 5,
      stop: ['\n\n'],
      num_predict: 6,
      frequency_penalty: 0.3,
      presence_penalty: 0.2,
      top_k: 10,
      min_p: 0.05,
      repeat_penalty: 1.2,
    });
    assert.equal('think' in body, false, 'think left out when not asked');
    assert.equal('logprobs' in body, false);
    assert.ok(completion.usage.completion_tokens > 0 && completion.usage.completion_tokens <= 6);
  });

  it('top_k reaches the sampler behind Ollama: top_k 1 answers alike whatever the seed', async function () {
    const contents = async (extra: Partial<ChatCompletionBody>) => {
      const answers: string[] = [];
      for (const seed of [1, 2, 3])
        answers.push(
          (await answer(engine, { temperature: 1.5, max_tokens: 12, seed, ...extra })).choices[0]!.message.content,
        );
      return new Set(answers);
    };
    assert.equal((await contents({ top_k: 1 })).size, 1, 'greedy whatever the seed');
    assert.ok((await contents({})).size > 1, 'without top_k, seeds sample differently at temperature 1.5');
  });

  it('asks for logprobs and top_logprobs and answers them as choices[0].logprobs.content', async function () {
    const completion = await answer(engine, { logprobs: true, top_logprobs: 3, max_tokens: 8, seed: 2 });
    const body = lastBody(emulator);
    assert.equal(body.logprobs, true);
    assert.equal(body.top_logprobs, 3);
    assertLogprobsOf(completion, 3);
  });

  it('n = 3 sends three requests and returns three choices with the usage summed', async function () {
    const before = { received: emulator.received.length, ...emulator.stats };
    const completion = await answer(engine, { n: 3, seed: 7, max_tokens: 5, temperature: 1 });
    const sent = emulator.received.slice(before.received).map(({ body }) => body);
    assert.equal(sent.length, 3);
    assert.deepEqual(
      sent.map((body) => (body.options as { seed: number }).seed),
      [7, 8, 9],
      'choice i samples with seed + i',
    );
    assert.deepEqual(
      completion.choices.map((choice) => choice.index),
      [0, 1, 2],
    );
    assert.equal(completion.usage.completion_tokens, emulator.stats.completionTokens - before.completionTokens);
    assert.equal(completion.usage.prompt_tokens, emulator.stats.promptTokens - before.promptTokens);
    assert.ok(completion.usage.prompt_tokens_details!.cached_tokens > 0, 'the later requests find the prompt cached');
  });

  it('reasoning_effort none turns thinking off; a level on a model that cannot think is refused, as by Ollama', async function () {
    await answer(engine, { reasoning_effort: 'none', max_tokens: 4 });
    assert.equal(lastBody(emulator).think, false);
    const error = await engineError(answer(engine, { reasoning_effort: 'high', max_tokens: 4 }));
    assert.equal(error.kind, 'permanent');
    assert.match(error.message, /does not support thinking/);
    assert.equal(lastBody(emulator).think, 'high');
  });
});

describe('thinking through the Ollama engine and the openai engine', function () {
  const content = '{"score":70}';
  const thinking = 'The rubric asks for Go; ten years is strong. '.repeat(4);
  let emulator: RunningEmulator;
  let ollama: OllamaEngine;
  let openai: OpenAIEngine;

  before(async function () {
    emulator = await startOllamaEmulator({
      instant: true,
      models: ['thinker'],
      instantContent: content,
      thinking,
      recordBodies: true,
    });
    ollama = new OllamaEngine({ url: emulator.url });
    openai = new OpenAIEngine({ baseURL: `${emulator.url}/v1` });
  });

  after(async function () {
    await emulator?.close();
  });

  for (const [name, engine, think] of [
    ['ollama', () => ollama, 'think'],
    ['openai', () => openai, 'reasoning_effort'],
  ] as const) {
    it(`${name}: reasoning_effort low thinks apart from the content, counted in reasoning_tokens`, async function () {
      const completion = await answer(engine(), { reasoning_effort: 'low' }, 'thinker');
      assert.equal(lastBody(emulator)[think], 'low');
      assert.equal(completion.choices[0]!.message.content, content, 'no thinking in the content');
      const reasoning = completion.usage.completion_tokens_details?.reasoning_tokens;
      assert.ok(
        reasoning !== undefined && reasoning > 0 && reasoning < completion.usage.completion_tokens,
        `reasoning tokens ${reasoning} of ${completion.usage.completion_tokens}`,
      );
    });

    it(`${name}: reasoning_effort minimal turns thinking off`, async function () {
      const completion = await answer(engine(), { reasoning_effort: 'minimal' }, 'thinker');
      assert.equal(lastBody(emulator)[think], name === 'ollama' ? false : 'none');
      assert.equal(completion.choices[0]!.message.content, content);
      assert.equal(completion.usage.completion_tokens_details, undefined);
    });
  }

  it('ollama: without reasoning_effort, think is left out and a thinking model thinks (and it is counted)', async function () {
    const completion = await answer(ollama, { response_format: { type: 'json_object' } }, 'thinker');
    assert.equal('think' in lastBody(emulator), false);
    assert.ok(completion.usage.completion_tokens_details!.reasoning_tokens > 0);
  });
});

describe('request fields through the openai engine (/v1/chat/completions)', function () {
  let emulator: RunningEmulator;
  let engine: OpenAIEngine;

  before(async function () {
    emulator = await startTinyEmulator({ recordBodies: true });
    engine = new OpenAIEngine({ baseURL: `${emulator.url}/v1` });
  });

  after(async function () {
    await emulator?.close();
  });

  it('sends every field it honours as is, and reads the logprobs back', async function () {
    const fields = {
      temperature: 0.6,
      top_p: 0.85,
      seed: 4,
      stop: ['\n\n'],
      max_tokens: 7,
      frequency_penalty: -0.5,
      presence_penalty: 0.4,
      top_k: 12,
      min_p: 0.1,
      repetition_penalty: 1.15,
      logit_bias: { '17': -100 },
      logprobs: true,
      top_logprobs: 2,
    };
    const completion = await answer(engine, fields);
    const body = lastBody(emulator);
    for (const [field, value] of Object.entries(fields)) assert.deepEqual(body[field], value, field);
    assertLogprobsOf(completion, 2);
  });

  it('n = 2 returns two choices', async function () {
    const completion = await answer(engine, { n: 2, max_tokens: 3 });
    assert.deepEqual(
      completion.choices.map((choice) => choice.index),
      [0, 1],
    );
  });
});

describe('sampling fields through the embedded llama-cpp engine', function () {
  let engine: LlamaCppEngine;

  before(async function () {
    engine = await LlamaCppEngine.load({ modelPath: await tinyModelPath(), slots: 1, threads: 1, contextSize: 1024 });
  });

  after(async function () {
    await engine?.close();
  });

  const contents = async (body: Partial<ChatCompletionBody>, seeds: number[]): Promise<Set<string>> => {
    const answers: string[] = [];
    for (const seed of seeds)
      answers.push((await answer(engine, { max_tokens: 24, seed, ...body })).choices[0]!.message.content);
    return new Set(answers);
  };

  it('min_p and top_k reach the sampler: min_p 1 and top_k 1 answer alike whatever the seed', async function () {
    assert.ok(
      (await contents({ temperature: 1.5 }, [1, 2, 3])).size > 1,
      'seeds sample differently at temperature 1.5',
    );
    assert.equal((await contents({ temperature: 1.5, min_p: 1 }, [1, 2, 3])).size, 1);
    assert.equal((await contents({ temperature: 1.5, top_k: 1 }, [1, 2, 3])).size, 1);
  });

  it('penalties reach the sampler: a greedy answer changes under them', async function () {
    const [greedy] = await contents({ temperature: 0 }, [1]);
    for (const penalty of [{ repetition_penalty: 3 }, { presence_penalty: 2 }, { frequency_penalty: 2 }]) {
      const [penalised] = await contents({ temperature: 0, ...penalty }, [1]);
      assert.notEqual(penalised, greedy, JSON.stringify(penalty));
    }
  });

  it('n = 2 gives two choices, the second sampled with the next seed', async function () {
    const completion = await answer(engine, { n: 2, seed: 1, temperature: 1.5, max_tokens: 24 });
    const [second] = await contents({ temperature: 1.5 }, [2]);
    assert.equal(completion.choices[1]!.message.content, second);
  });
});

describe("the README's request-field table", function () {
  it('is the table of server/engines/request-fields.ts (UPDATE_FIELDS_DOCS=1 rewrites it)', async function () {
    const readme = readFileSync(README, 'utf8');
    const [start, end] = [
      '<!-- request fields table: made from server/engines/request-fields.ts -->\n',
      '<!-- end of request fields table -->',
    ];
    const at = readme.indexOf(start);
    const until = readme.indexOf(end, at);
    assert.ok(at >= 0 && until > at, 'the README marks where its request-field table is');
    const expected = await prettier.format(
      `${readme.slice(0, at + start.length)}${fieldsTable()}${readme.slice(until)}`,
      { ...(await prettier.resolveConfig(fileURLToPath(README))), filepath: fileURLToPath(README) },
    );
    if (process.env.UPDATE_FIELDS_DOCS) writeFileSync(README, expected);
    assert.equal(readme, expected, "the README's request-field table and request-fields.ts disagree");
  });
});

/** Field × engine, each cell what the engine does with it; a row alike for every engine says it once. */
function fieldsTable(): string {
  const cell = (text: string): string => text.replace(/\|/g, '\\|').replace(/\n/g, ' ');
  const kind = (support: FieldSupport): string =>
    'honoured' in support ? '✓' : 'accepted' in support ? 'accepted' : 'refused';
  const text = (support: FieldSupport): string =>
    'honoured' in support ? support.honoured : 'accepted' in support ? support.accepted : support.refused;
  const rows = Object.entries(REQUEST_FIELDS).map(([field, spec]) => {
    const supports = ENGINE_NAMES.map((engine) => spec.engines[engine]);
    const alike = supports.every((support) => JSON.stringify(support) === JSON.stringify(supports[0]));
    const described = (support: FieldSupport): string => {
      if (alike)
        return `${kind(support)} ${'honoured' in support ? 'every engine' : 'by every engine'}: ${text(support)}`;
      return 'honoured' in support ? `✓ ${text(support)}` : `${kind(support)}: ${text(support)}`;
    };
    return [
      `\`${field}\``,
      ...supports.map((support, index) => (alike && index > 0 ? kind(support) : described(support))),
    ];
  });
  const header = ['field', ...ENGINE_NAMES.map((engine) => `\`${engine}\``)];
  return [header, header.map(() => '---'), ...rows].map((row) => `| ${row.map(cell).join(' | ')} |\n`).join('');
}
