// The in-process llama-cpp engine on the tiny random-weight model, and the GGUF writer behind
// it. Random weights: assert on shapes, counts and errors, never on the words of an answer.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EngineError, type ChatRequest } from '../../server/engines/engine.js';
import { LlamaCppEngine } from '../../server/engines/llama-cpp.js';
import { writeModel } from '../support/gguf/model.js';
import { scoreSchemaUrl } from '../support/engine-assertions.js';
import { tinyModelPath } from '../support/models.js';

function isEngineError(kind: string, code: string): (error: unknown) => boolean {
  return (error) => {
    assert.ok(error instanceof EngineError, `expected an EngineError, got ${String(error)}`);
    assert.equal(error.kind, kind, error.message);
    assert.equal(error.code, code, error.message);
    return true;
  };
}

const ask = (content: string, extra: Partial<ChatRequest> = {}): ChatRequest => ({
  model: 'tiny',
  messages: [{ role: 'user', content }],
  maxTokens: 16,
  ...extra,
});

const never = (): AbortSignal => new AbortController().signal;

describe('llama-cpp engine (tiny random model, 2 slots)', function () {
  this.timeout(120_000);
  let engine: LlamaCppEngine;

  before(async () => {
    engine = await LlamaCppEngine.load({ modelPath: await tinyModelPath(), slots: 2, threads: 1, contextSize: 2048 });
  });
  after(async () => {
    await engine?.close();
  });

  it('serves the model under the file base name', async () => {
    assert.equal(engine.modelName, 'tiny');
    assert.deepEqual(await engine.listModels(), ['tiny']);
    assert.equal(await engine.slots(), 2);
    assert.equal(await engine.ping(), true);
    assert.ok(engine.contextSize >= 2048);
  });

  it('answers with sane token counts', async () => {
    const result = await engine.chat(
      {
        model: 'tiny',
        messages: [
          { role: 'system', content: 'You are a terse assistant.' },
          { role: 'user', content: 'Name three colours.' },
          { role: 'assistant', content: 'Red, green, blue.' },
          { role: 'user', content: 'Three more, please.' },
        ],
        maxTokens: 24,
        temperature: 0.7,
        topP: 0.9,
        seed: 42,
      },
      never(),
    );
    assert.equal(result.model, 'tiny');
    assert.equal(typeof result.content, 'string');
    assert.ok(result.promptTokens > 20 && result.promptTokens < 200, `promptTokens ${result.promptTokens}`);
    assert.ok(
      result.completionTokens >= 1 && result.completionTokens <= 24,
      `completionTokens ${result.completionTokens}`,
    );
    if (result.finishReason === 'length') assert.equal(result.completionTokens, 24);
    assert.ok(
      result.cachedTokens !== undefined && result.cachedTokens >= 0 && result.cachedTokens < result.promptTokens,
    );
  });

  it('rejects an unknown model as permanent model_not_found', async () => {
    await assert.rejects(
      engine.chat(ask('hello', { model: 'llama3' }), never()),
      isEngineError('permanent', 'model_not_found'),
    );
  });

  it('follows a JSON schema (strings bounded by maxLength) to parseable JSON', async () => {
    const schema = JSON.parse(await readFile(scoreSchemaUrl, 'utf8')) as Record<string, unknown>;
    const result = await engine.chat(
      ask('Score this candidate.', { format: schema, maxTokens: 1500, temperature: 0.8, seed: 7 }),
      never(),
    );
    assert.equal(result.finishReason, 'stop', `cut at ${result.completionTokens} tokens`);
    const parsed = JSON.parse(result.content) as Record<string, unknown>;
    for (const key of schema.required as string[]) assert.ok(key in parsed, `missing ${key} in ${result.content}`);
    assert.ok(['advance', 'maybe', 'reject'].includes(parsed.decision as string));
    assert.ok(Array.isArray(parsed.strengths) && parsed.strengths.length <= 3);
  });

  it('format json yields a JSON object or is cut by max tokens', async () => {
    const result = await engine.chat(
      ask('Answer in JSON.', { format: 'json', maxTokens: 64, temperature: 0 }),
      never(),
    );
    assert.ok(result.content.trimStart().startsWith('{'), result.content);
    if (result.finishReason === 'stop') JSON.parse(result.content);
  });

  it('stops at a stop string and leaves it out', async () => {
    const result = await engine.chat(ask('Tell me a story.', { stop: [' ', 'e'], maxTokens: 200, seed: 3 }), never());
    assert.equal(result.finishReason, 'stop');
    assert.ok(!result.content.includes(' ') && !result.content.includes('e'), JSON.stringify(result.content));
  });

  it('answers 20 parallel requests over 2 slots', async () => {
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        engine.chat(ask(`Candidate number ${i}.`, { maxTokens: 12, seed: i }), never()),
      ),
    );
    assert.equal(results.length, 20);
    for (const result of results) {
      assert.ok(result.completionTokens >= 1 && result.completionTokens <= 12);
      assert.ok(result.promptTokens > 0);
    }
  });

  it('serves a repeated long system prompt from the KV cache', async () => {
    const rubric =
      'Score the candidate profile against the rubric: experience, skills, evidence, clear reason. '.repeat(15);
    const request = (user: string): ChatRequest => ({
      model: 'tiny',
      messages: [
        { role: 'system', content: rubric },
        { role: 'user', content: user },
      ],
      maxTokens: 8,
    });
    const first = await engine.chat(request('Profile A: ten years of python.'), never());
    const second = await engine.chat(request('Profile B: two years of java, team lead.'), never());
    assert.ok(first.promptTokens > 150, `promptTokens ${first.promptTokens}`);
    assert.ok(
      (second.cachedTokens ?? 0) > first.promptTokens / 2,
      `cachedTokens ${second.cachedTokens} of ${second.promptTokens}`,
    );
    assert.ok((second.cachedTokens ?? 0) < second.promptTokens);
  });

  it('refuses a prompt that does not fit instead of cutting it', async () => {
    const long = 'candidate profile experience '.repeat(1000);
    await assert.rejects(engine.chat(ask(long), never()), (error: unknown) => {
      isEngineError('permanent', 'context_length_exceeded')(error);
      assert.match((error as Error).message, /\d+ prompt tokens.*\d+ tokens/);
      return true;
    });
    // The prompt fits, but prompt + max tokens do not.
    await assert.rejects(
      engine.chat(ask('hello', { maxTokens: 5000 }), never()),
      isEngineError('permanent', 'context_length_exceeded'),
    );
  });

  it('stops on abort, frees the slot, and drops aborted waiters from the queue', async () => {
    // Already aborted: rejected before any work.
    const early = new AbortController();
    early.abort();
    await assert.rejects(engine.chat(ask('hi'), early.signal), isEngineError('transient', 'aborted'));

    // Both slots busy with long generations, a third request queued behind them.
    const busy = new AbortController();
    const long = { maxTokens: 1800, temperature: 0.8 };
    const running = [engine.chat(ask('one', long), busy.signal), engine.chat(ask('two', long), busy.signal)];
    const queued = new AbortController();
    const waiting = engine.chat(ask('three'), queued.signal);
    queued.abort();
    await assert.rejects(waiting, isEngineError('transient', 'aborted'));
    busy.abort();
    for (const promise of running) await assert.rejects(promise, isEngineError('transient', 'aborted'));

    // Both slots are free again.
    const after = await Promise.all([engine.chat(ask('four'), never()), engine.chat(ask('five'), never())]);
    for (const result of after) assert.ok(result.completionTokens >= 1);
  });
});

describe('GGUF writer', function () {
  this.timeout(60_000);
  let dir: string;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'gguf-writer-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const sha256 = async (path: string): Promise<string> =>
    createHash('sha256')
      .update(await readFile(path))
      .digest('hex');

  it('writes the tiny model in under 2 s, byte-identical for the same seed', async () => {
    const started = performance.now();
    const a = await writeModel({ out: join(dir, 'a.gguf'), shape: 'tiny', seed: 7 });
    const elapsed = performance.now() - started;
    assert.ok(elapsed < 2000, `took ${elapsed.toFixed(0)} ms`);
    const b = await writeModel({ out: join(dir, 'b.gguf'), shape: 'tiny', seed: 7 });
    const c = await writeModel({ out: join(dir, 'c.gguf'), shape: 'tiny', seed: 8 });
    assert.equal(a.bytes, b.bytes);
    assert.ok(a.bytes > 5e6 && a.bytes < 8e6, `${a.bytes} bytes`);
    assert.equal(await sha256(a.path), await sha256(b.path));
    assert.notEqual(await sha256(a.path), await sha256(c.path));
  });

  it('writes a GGUF that node-llama-cpp reads as a llama model with a ChatML tokenizer', async () => {
    const { readGgufFileInfo } = await import('node-llama-cpp');
    const info = await readGgufFileInfo(await tinyModelPath());
    assert.equal(info.version, 3);
    const metadata = info.metadata as unknown as {
      general: { architecture: string; alignment: number };
      llama: { block_count: number; embedding_length: number; vocab_size: number };
      tokenizer: {
        ggml: { model: string; tokens: string[]; eos_token_id: number; bos_token_id: number };
        chat_template: string;
      };
    };
    assert.equal(metadata.general.architecture, 'llama');
    assert.equal(metadata.general.alignment, 32);
    assert.equal(metadata.llama.block_count, 4);
    assert.equal(metadata.llama.embedding_length, 256);
    const { tokens, eos_token_id, bos_token_id, model } = metadata.tokenizer.ggml;
    assert.equal(model, 'llama');
    assert.equal(tokens.length, metadata.llama.vocab_size);
    assert.equal(tokens[eos_token_id], '<|im_end|>');
    assert.equal(tokens[bos_token_id], '<s>');
    assert.ok(tokens.includes('<0x0A>') && tokens.includes('▁the'));
    assert.match(metadata.tokenizer.chat_template, /<\|im_start\|>/);
    assert.equal(info.tensorInfo?.length, 3 + 4 * 9);
  });
});
