// Log probabilities from the embedded engine (tiny random-weight model): the same answer as
// without them, OpenAI's shape, the grammar's alternatives only, the schema's opening written
// rather than sampled, and the prompt cache kept.
import assert from 'node:assert/strict';
import type { LlamaContextSequence } from 'node-llama-cpp';
import type { ChatRequest, ChatResult } from '../../server/engines/engine.js';
import { LlamaCppEngine } from '../../server/engines/llama-cpp.js';
import { checkAnswer } from '../../server/openai/answer-check.js';
import type { TokenLogprob } from '../../server/openai/types.js';
import { readSampleJob } from '../fixtures/recruiting/sample-job.js';
import { never } from '../support/engine-assertions.js';
import { tinyModelPath } from '../support/models.js';

const SCORE_ONLY = {
  type: 'object',
  properties: { score: { type: 'integer', minimum: 0, maximum: 100 } },
  required: ['score'],
  additionalProperties: false,
};

/** What every score-only answer starts with. */
const OPENING = '{"score":';

/** How many of the first entries spell `text`; -1 when none do. */
const tokensSpelling = (entries: readonly TokenLogprob[], text: string): number =>
  entries.findIndex(
    (_, i) =>
      entries
        .slice(0, i)
        .map((e) => e.token)
        .join('') === text,
  );

describe('llama-cpp engine logprobs (tiny random model)', function () {
  this.timeout(300_000);
  let engine: LlamaCppEngine;
  const rubric = readSampleJob().rubric;

  const ask = (i: number, extra: Partial<ChatRequest> = {}): ChatRequest => ({
    model: 'tiny',
    messages: [
      { role: 'system', content: rubric },
      { role: 'user', content: `Candidate C${i}: ${i} years of experience.` },
    ],
    format: SCORE_ONLY,
    temperature: 0,
    maxTokens: 16,
    ...extra,
  });

  before(async () => {
    engine = await LlamaCppEngine.load({ modelPath: await tinyModelPath(), slots: 1, threads: 1, contextSize: 4096 });
  });
  after(async () => {
    await engine?.close();
  });

  it('gives the same greedy answer as without logprobs, one entry per token, in OpenAI shape', async () => {
    for (let i = 0; i < 5; i++) {
      const plain = await engine.chat(ask(i), never());
      const withLogprobs = await engine.chat(ask(i, { logprobs: true, topLogprobs: 5 }), never());
      assert.equal(withLogprobs.content, plain.content);
      assert.equal(withLogprobs.finishReason, 'stop');
      assert.equal(withLogprobs.completionTokens, plain.completionTokens);
      assert.equal(plain.logprobs, undefined, 'none unless asked');
      const entries = withLogprobs.logprobs!;
      assert.equal(entries.map((e) => e.token).join(''), withLogprobs.content);
      for (const entry of entries) {
        assert.ok(Number.isFinite(entry.logprob) && entry.logprob <= 0, `logprob ${entry.logprob}`);
        assert.deepEqual(entry.bytes, [...Buffer.from(entry.token)]);
        assert.ok(entry.top_logprobs.length >= 1 && entry.top_logprobs.length <= 5);
        const logprobs = entry.top_logprobs.map((t) => t.logprob);
        assert.deepEqual(
          logprobs,
          [...logprobs].sort((a, b) => b - a),
          'most likely first',
        );
        // Greedy: the chosen token is the most likely one.
        assert.equal(entry.logprob, entry.top_logprobs[0]!.logprob);
        assert.ok(logprobs.reduce((sum, l) => sum + Math.exp(l), 0) <= 1 + 1e-6);
      }
    }
  });

  it('samples with the same settings as the plain path: penalties, top_k and min_p give the same greedy text', async () => {
    const story = (extra: Partial<ChatRequest>): ChatRequest => ({
      model: 'tiny',
      messages: [{ role: 'user', content: 'Tell me a story about data.' }],
      temperature: 0,
      maxTokens: 40,
      ...extra,
    });
    const contents = new Set<string>();
    for (const extra of [
      { frequencyPenalty: 1.5 },
      { repeatPenalty: 1.3, presencePenalty: 0.5 },
      { topK: 3, minP: 0.05 },
    ]) {
      const plain = await engine.chat(story(extra), never());
      const withLogprobs = await engine.chat(story({ ...extra, logprobs: true }), never());
      assert.equal(withLogprobs.content, plain.content, JSON.stringify(extra));
      contents.add(plain.content);
    }
    assert.ok(contents.size > 1, 'the settings change the text, so the comparison means something');
  });

  it('offers only what the grammar allows: digits where the score begins', async () => {
    const result = await engine.chat(ask(7, { logprobs: true, topLogprobs: 20 }), never());
    const entries = result.logprobs!;
    const first = tokensSpelling(entries, OPENING);
    assert.ok(first > 0, result.content);
    const alternatives = entries[first]!.top_logprobs;
    assert.ok(alternatives.length > 1, 'several digits are possible');
    for (const alternative of alternatives) assert.match(alternative.token, /^[0-9]$/);
    const total = alternatives.reduce((sum, t) => sum + Math.exp(t.logprob), 0);
    assert.ok(total > 0.5 && total <= 1 + 1e-6, `digits carry the probability: ${total}`);
  });

  it('writes the opening the schema forces with the prompt: certain, counted in the answer, never sampled', async () => {
    // The engine's one sequence: its meter counts the tokens the engine sampled.
    const slots = (engine as unknown as { allSlots: { sequence: LlamaContextSequence }[] }).allSlots;
    const meter = slots[0]!.sequence.tokenMeter;
    const sampledIn = async (request: ChatRequest): Promise<{ result: ChatResult; sampled: number }> => {
      const before = meter.usedOutputTokens;
      const result = await engine.chat(request, never());
      return { result, sampled: meter.usedOutputTokens - before };
    };
    const { result, sampled } = await sampledIn(ask(8, { logprobs: true, topLogprobs: 5 }));
    const entries = result.logprobs!;
    const opening = tokensSpelling(entries, OPENING);
    assert.ok(opening > 0, result.content);
    for (const entry of entries.slice(0, opening)) {
      assert.equal(entry.logprob, 0, 'forced: probability 1');
      assert.deepEqual(entry.top_logprobs, [{ token: entry.token, logprob: 0, bytes: entry.bytes }]);
    }
    assert.equal(result.completionTokens, opening + sampled, 'only the tokens after the opening are sampled');
    const plain = await sampledIn(ask(8));
    assert.equal(plain.result.content, result.content);
    assert.equal(plain.result.completionTokens, result.completionTokens);
    assert.equal(plain.sampled, sampled);
  });

  it('samples under the grammar at temperature 1, and counts, cuts and stops like the plain path', async () => {
    for (let i = 0; i < 20; i++) {
      const result = await engine.chat(ask(i, { logprobs: true, topLogprobs: 3, temperature: 1, seed: i }), never());
      assert.ok(checkAnswer(result.content, SCORE_ONLY).valid, result.content);
      assert.equal(result.logprobs!.map((e) => e.token).join(''), result.content);
    }
    const cut = await engine.chat(ask(1, { logprobs: true, maxTokens: 3 }), never());
    assert.equal(cut.finishReason, 'length');
    assert.equal(cut.logprobs!.length, 3);
    assert.equal(cut.completionTokens, 3);
    for (const entry of cut.logprobs!) assert.deepEqual(entry.top_logprobs, []);
    const stopped = await engine.chat(ask(2, { logprobs: true, stop: ['e'] }), never());
    assert.equal(stopped.content, (await engine.chat(ask(2, { stop: ['e'] }), never())).content);
    assert.equal(stopped.content, '{"scor');
    assert.equal(stopped.logprobs!.map((e) => e.token).join(''), '{"scor');
  });

  it('serves the repeated rubric from the KV cache with and without logprobs', async () => {
    await engine.chat(ask(30), never());
    const withLogprobs = await engine.chat(ask(31, { logprobs: true }), never());
    const after = await engine.chat(ask(32), never());
    for (const result of [withLogprobs, after]) {
      assert.ok(
        result.cachedTokens! > result.promptTokens * 0.8,
        `${result.cachedTokens} of ${result.promptTokens} cached`,
      );
    }
  });
});
