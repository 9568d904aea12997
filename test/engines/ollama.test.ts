// OllamaEngine and the official `ollama` client against the Ollama emulator: real inference on
// the tiny random-weight model (never assert on the words), documented fields, faults, limits.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { Ollama } from 'ollama';
import { EngineError } from '../../server/engines/engine.js';
import { ollamaBaseUrl } from '../../server/config/defaults.js';
import { OllamaEngine } from '../../server/engines/ollama.js';
import { engineError, never, scoreSchemaUrl as schemaUrl } from '../support/engine-assertions.js';
import { startTinyEmulator } from '../support/tiny-emulator.js';
import { BUSY_MESSAGE, startOllamaEmulator } from '../support/ollama-emulator/server.js';
import type { EmulatorFault, RunningEmulator } from '../support/ollama-emulator/server.js';

describe('OllamaEngine on the emulator with real inference', function () {
  let emulator: RunningEmulator;
  let engine: OllamaEngine;
  let client: Ollama;

  before(async function () {
    emulator = await startTinyEmulator();
    engine = new OllamaEngine({ url: emulator.url });
    client = new Ollama({ host: emulator.url });
  });

  after(async function () {
    await emulator?.close();
  });

  it('answers a chat with token counts', async function () {
    const result = await engine.chat(
      {
        model: 'tiny',
        messages: [
          { role: 'system', content: 'You score candidates.' },
          { role: 'user', content: [{ type: 'text', text: 'Score this one.' }] },
        ],
        temperature: 0,
        seed: 7,
        maxTokens: 12,
        numCtx: 2048,
      },
      never(),
    );
    assert.equal(typeof result.content, 'string');
    assert.ok(result.promptTokens > 0, 'prompt tokens counted');
    assert.ok(
      result.completionTokens > 0 && result.completionTokens <= 12,
      `completion tokens ${result.completionTokens}`,
    );
    assert.ok(['stop', 'length'].includes(result.finishReason));
    assert.equal(result.model, 'tiny');
    assert.ok(emulator.stats.completed >= 1);
  });

  it('reports the prefix served from cache on a repeated system prompt', async function () {
    const system = 'You are a strict reviewer. '.repeat(20);
    const ask = (user: string) =>
      engine.chat(
        {
          model: 'tiny',
          messages: [
            { role: 'system', content: system },
            { role: 'user', content: user },
          ],
          maxTokens: 4,
          seed: 1,
        },
        never(),
      );
    const first = await ask('first question');
    const second = await ask('second question');
    assert.ok(second.promptTokens > 0 && first.promptTokens > 0);
    if (second.cachedTokens !== undefined) {
      assert.ok(
        second.cachedTokens <= second.promptTokens,
        'cached tokens are part of the prompt tokens (Ollama >= 0.30)',
      );
    }
  });

  it('follows a JSON schema format with parseable JSON', async function () {
    const schema = JSON.parse(await readFile(schemaUrl, 'utf8')) as Record<string, unknown>;
    const result = await engine.chat(
      {
        model: 'tiny',
        messages: [{ role: 'user', content: 'Score: Jane, 5 years of Go.' }],
        format: schema,
        seed: 3,
        maxTokens: 1500,
      },
      never(),
    );
    assert.equal(result.finishReason, 'stop', 'the grammar ends the answer before max tokens');
    const parsed = JSON.parse(result.content) as Record<string, unknown>;
    for (const key of ['score', 'decision', 'strengths', 'concerns', 'reason']) assert.ok(key in parsed, `has ${key}`);
    assert.ok(['advance', 'maybe', 'reject'].includes(parsed.decision as string));
  });

  it('gives parseable JSON for format "json" through the raw client', async function () {
    const response = await client.chat({
      model: 'tiny',
      messages: [{ role: 'user', content: 'Answer in JSON.' }],
      format: 'json',
      stream: false,
      options: { num_predict: 200, seed: 5, temperature: 0.2 },
    });
    assert.equal(response.done, true);
    if (response.done_reason === 'stop') JSON.parse(response.message.content);
  });

  it('answers the raw client with the documented /api/chat fields, non-streaming and streaming', async function () {
    const response = await client.chat({
      model: 'tiny',
      messages: [{ role: 'user', content: 'Hello' }],
      stream: false,
      options: { num_predict: 8 },
    });
    assert.equal(response.model, 'tiny');
    assert.equal(response.message.role, 'assistant');
    assert.equal(typeof response.message.content, 'string');
    assert.equal(response.done, true);
    assert.ok(['stop', 'length'].includes(response.done_reason));
    assert.ok(!Number.isNaN(Date.parse(String(response.created_at))));
    for (const field of [
      'total_duration',
      'load_duration',
      'prompt_eval_count',
      'prompt_eval_duration',
      'eval_count',
      'eval_duration',
    ] as const) {
      assert.equal(typeof response[field], 'number', field);
    }
    assert.ok(response.total_duration > 0 && response.eval_count > 0 && response.eval_count <= 8);

    const parts = [];
    for await (const part of await client.chat({
      model: 'tiny',
      messages: [{ role: 'user', content: 'Hello' }],
      stream: true,
      options: { num_predict: 8 },
    })) {
      parts.push(part);
    }
    const last = parts.at(-1)!;
    assert.equal(last.done, true);
    assert.ok(parts.slice(0, -1).every((part) => part.done === false));
    assert.equal(typeof last.eval_count, 'number');
  });

  it('serves /api/tags, /api/show, /api/ps and /api/version with the documented fields', async function () {
    await client.chat({
      model: 'tiny',
      messages: [{ role: 'user', content: 'x' }],
      stream: false,
      keep_alive: -1,
      options: { num_predict: 2 },
    });
    const tags = await client.list();
    const tiny = tags.models.find((model) => model.name === 'tiny:latest');
    assert.ok(tiny, 'tiny:latest is listed');
    assert.ok(tiny.size > 0 && typeof tiny.digest === 'string');
    assert.equal(tiny.details.format, 'gguf');
    assert.equal(tiny.details.family, 'llama');

    const show = await client.show({ model: 'tiny' });
    const info = show.model_info as unknown as Record<string, unknown>;
    assert.equal(info['general.architecture'], 'llama');
    assert.equal(typeof info['llama.context_length'], 'number');
    assert.equal(typeof info['llama.embedding_length'], 'number');
    assert.ok(show.capabilities.includes('completion'));
    assert.equal(show.details.format, 'gguf');
    assert.equal(typeof show.template, 'string');

    const ps = await client.ps();
    const loaded = ps.models.find((model) => model.name === 'tiny:latest');
    assert.ok(loaded, 'tiny is loaded');
    assert.ok(loaded.size > 0 && loaded.size_vram > 0 && loaded.size_vram <= loaded.size);
    assert.equal(typeof (loaded as unknown as { context_length: unknown }).context_length, 'number');
    assert.ok(
      new Date(loaded.expires_at).getFullYear() > new Date().getFullYear() + 100,
      'keep_alive -1 keeps it loaded',
    );

    assert.match((await client.version()).version, /^\d+\.\d+\.\d+/);

    const engineView = await engine.ps();
    assert.equal(engineView[0]?.name, 'tiny:latest');
    assert.equal(typeof engineView[0]?.contextLength, 'number');
    assert.match(await engine.version(), /^\d+\.\d+/);
    assert.deepEqual((await engine.listModels()).sort(), ['tiny', 'tiny:latest']);
    assert.equal(await engine.slots(), undefined);
    assert.equal(await engine.ping(), true);
  });

  it('reloads the model when num_ctx changes (load_duration spikes)', async function () {
    const ask = (numCtx: number) =>
      client.chat({
        model: 'tiny',
        messages: [{ role: 'user', content: 'x' }],
        stream: false,
        options: { num_ctx: numCtx, num_predict: 2 },
      });
    await ask(1024);
    const loads = emulator.stats.loads;
    const same = await ask(1024);
    assert.equal(emulator.stats.loads, loads, 'same num_ctx: no reload');
    assert.equal(same.load_duration, 0);
    const changed = await ask(512);
    assert.equal(emulator.stats.loads, loads + 1, 'new num_ctx: reload');
    assert.ok(changed.load_duration > 0);
    assert.equal((await engine.ps())[0]?.contextLength, 512);
  });

  it('answers an unknown model with a permanent model_not_found', async function () {
    const error = await engineError(
      engine.chat({ model: 'nope:7b', messages: [{ role: 'user', content: 'x' }] }, never()),
    );
    assert.equal(error.kind, 'permanent');
    assert.equal(error.code, 'model_not_found');
    assert.equal(error.status, 404);
    assert.match(error.message, /model "nope:7b" not found, try pulling it first/);
  });

  it('aborts a running request when the caller aborts', async function () {
    const controller = new AbortController();
    const pending = engine.chat(
      { model: 'tiny', messages: [{ role: 'user', content: 'x' }], maxTokens: 2000 },
      controller.signal,
    );
    setTimeout(() => controller.abort(), 20);
    const error = await engineError(pending);
    assert.equal(error.kind, 'transient');
    assert.equal(error.code, 'aborted');
    // The emulator notices the closed connection and aborts the generation, freeing its slot.
    const deadline = Date.now() + 5000;
    while ((emulator.stats.aborted < 1 || emulator.stats.running > 0) && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    assert.equal(emulator.stats.aborted, 1);
    assert.equal(emulator.stats.running, 0);
  });
});

describe('Ollama emulator faults and limits (instant mode)', function () {
  let emulator: RunningEmulator;
  const request = { model: 'instant', messages: [{ role: 'user' as const, content: 'x' }] };

  beforeEach(async function () {
    emulator = await startOllamaEmulator({ instant: true });
  });
  afterEach(async function () {
    await emulator.close();
  });

  const cases: Array<[EmulatorFault, string, RegExp]> = [
    ['500', 'server_error', /terminated/],
    ['reset', 'connection_error', /./],
    ['503', 'engine_overloaded', /server busy/],
    ['timeout', 'timeout', /did not answer in time/],
    ['oom', 'out_of_memory', /memory|out of memory|allocate/],
  ];
  const fetches: Array<[string, typeof fetch | undefined]> = [
    ['', undefined],
    [' (built-in fetch)', globalThis.fetch],
  ];
  for (const [fault, code, message] of cases)
    for (const [via, fetchImpl] of fetches) {
      it(`maps fault ${fault} to a transient ${code}${via}`, async function () {
        emulator.setFault(fault, 1);
        const engine = new OllamaEngine({ url: emulator.url, ...(fetchImpl ? { fetch: fetchImpl } : {}) });
        // The caller's signal bounds a chat (the batch runner times every try).
        const error = await engineError(engine.chat(request, AbortSignal.timeout(300)));
        assert.equal(error.kind, 'transient');
        assert.equal(error.code, code);
        assert.match(error.message, message);
        assert.equal(emulator.stats.faults, 1);
      });
    }

  it('gives every OOM wording as out_of_memory', async function () {
    emulator.setFault('oom', 1);
    const engine = new OllamaEngine({ url: emulator.url });
    const codes = new Set<string>();
    for (let i = 0; i < 3; i++) codes.add((await engineError(engine.chat(request, never()))).code);
    assert.deepEqual([...codes], ['out_of_memory']);
  });

  it('answers a share of requests with faults at faultRate', async function () {
    emulator.setFault('500', 0.5);
    const engine = new OllamaEngine({ url: emulator.url });
    const outcomes = await Promise.allSettled(Array.from({ length: 200 }, () => engine.chat(request, never())));
    const failed = outcomes.filter((outcome) => outcome.status === 'rejected').length;
    assert.ok(failed > 50 && failed < 150, `${failed} of 200 failed`);
    assert.equal(emulator.stats.faults, failed);
  });

  for (const [via, fetchImpl] of fetches)
    it(`says unreachable once the emulator is closed, and ping turns false${via}`, async function () {
      const engine = new OllamaEngine({ url: emulator.url, ...(fetchImpl ? { fetch: fetchImpl } : {}) });
      assert.equal(await engine.ping(), true);
      await emulator.close();
      const error = await engineError(engine.chat(request, never()));
      assert.equal(error.kind, 'unreachable');
      assert.equal(await engine.ping(), false);
    });

  it('closes promptly while connections are held open', async function () {
    emulator.setFault('timeout', 1);
    const engine = new OllamaEngine({ url: emulator.url });
    const pending = Promise.allSettled([engine.chat(request, never()), engine.chat(request, never())]);
    while (emulator.stats.faults < 2) await new Promise((resolve) => setTimeout(resolve, 5));
    const start = Date.now();
    await emulator.close();
    assert.ok(Date.now() - start < 1000, 'close() does not wait for held connections');
    const outcomes = await pending;
    for (const outcome of outcomes) {
      assert.equal(outcome.status, 'rejected');
      assert.equal((outcome.reason as EngineError).kind, 'transient');
    }
  });

  it('refuses with 503 busy past OLLAMA_MAX_QUEUE', async function () {
    await emulator.close();
    emulator = await startOllamaEmulator({ instant: true, parallel: 1, maxQueue: 2, latencyMs: 100 });
    const engine = new OllamaEngine({ url: emulator.url });
    const outcomes = await Promise.allSettled(Array.from({ length: 6 }, () => engine.chat(request, never())));
    const rejected = outcomes
      .filter((outcome) => outcome.status === 'rejected')
      .map((outcome) => outcome.reason as EngineError);
    assert.equal(rejected.length, 3, '1 running + 2 queued are served, the rest refused');
    for (const error of rejected) {
      assert.equal(error.kind, 'transient');
      assert.equal(error.code, 'engine_overloaded');
      assert.equal(error.status, 503);
      assert.equal(error.message, BUSY_MESSAGE);
    }
    assert.equal(emulator.stats.rejected, 3);
    assert.equal(emulator.stats.runningMax, 1);
    assert.equal(emulator.stats.queuedMax, 2);
  });

  it('serves parallel slots and queues the rest', async function () {
    await emulator.close();
    emulator = await startOllamaEmulator({ instant: true, parallel: 3, latencyMs: 50 });
    const engine = new OllamaEngine({ url: emulator.url });
    await Promise.all(Array.from({ length: 9 }, () => engine.chat(request, never())));
    assert.equal(emulator.stats.runningMax, 3);
    assert.equal(emulator.stats.inFlightMax, 9);
    assert.equal(emulator.stats.completed, 9);
  });

  it('gives promptTokens 0 when an older Ollama omits prompt_eval_count', async function () {
    await emulator.close();
    emulator = await startOllamaEmulator({ instant: true, legacyCounts: true, parallel: 1 });
    const engine = new OllamaEngine({ url: emulator.url });
    const prompt = { model: 'instant', messages: [{ role: 'user' as const, content: 'same prompt' }] };
    const first = await engine.chat(prompt, never());
    assert.ok(first.promptTokens > 0);
    assert.equal(first.cachedTokens, undefined);
    const client = new Ollama({ host: emulator.url });
    const raw = await client.chat({ ...prompt, stream: false });
    assert.equal('prompt_eval_cached_count' in raw, false);
  });

  it('answers a max-tokens cut with finishReason length', async function () {
    const engine = new OllamaEngine({ url: emulator.url });
    const result = await engine.chat({ ...request, maxTokens: 3 }, never());
    assert.equal(result.finishReason, 'length');
    assert.equal(result.completionTokens, 3);
  });

  it('speaks the rest of the wire protocol: root, bad JSON, missing model, unknown route', async function () {
    const root = await fetch(`${emulator.url}/`);
    assert.equal(await root.text(), 'Ollama is running');
    const badJson = await fetch(`${emulator.url}/api/chat`, { method: 'POST', body: '{"model":' });
    assert.equal(badJson.status, 400);
    assert.equal(typeof ((await badJson.json()) as { error: unknown }).error, 'string');
    const noModel = await fetch(`${emulator.url}/api/chat`, { method: 'POST', body: '{"messages":[]}' });
    assert.equal(noModel.status, 400);
    assert.deepEqual(await noModel.json(), { error: 'model is required' });
    const badFormat = await fetch(`${emulator.url}/api/chat`, {
      method: 'POST',
      body: '{"model":"instant","format":"xml"}',
    });
    assert.equal(badFormat.status, 400);
    const load = await fetch(`${emulator.url}/api/chat`, { method: 'POST', body: '{"model":"instant"}' });
    assert.equal(((await load.json()) as { done_reason: string }).done_reason, 'load');
    const unknown = await fetch(`${emulator.url}/api/nothing`);
    assert.equal(unknown.status, 404);
    await unknown.text();
  });

  it('serves only the models it lists, and answers any other as Ollama does: 404 "not found"', async function () {
    await emulator.close();
    emulator = await startOllamaEmulator({ instant: true, models: ['tiny', 'llama3'] });
    const client = new Ollama({ host: emulator.url });
    assert.deepEqual((await client.list()).models.map((model) => model.name).sort(), ['llama3:latest', 'tiny:latest']);
    // Ollama's rule: no tag means :latest.
    const answered = await client.chat({ model: 'llama3', messages: [{ role: 'user', content: 'x' }], stream: false });
    assert.equal(answered.model, 'llama3');
    await client.chat({ model: 'tiny:latest', messages: [{ role: 'user', content: 'x' }], stream: false });
    const refusal = (call: Promise<unknown>) =>
      call.then(
        () => assert.fail('an unknown model was served'),
        (error: unknown) => error as Error & { status_code: number; error: string },
      );
    const chat = await refusal(
      client.chat({ model: 'gemma3:12b', messages: [{ role: 'user', content: 'x' }], stream: false }),
    );
    assert.equal(chat.status_code, 404);
    assert.equal(chat.error, 'model "gemma3:12b" not found, try pulling it first');
    const show = await refusal(client.show({ model: 'gemma3:12b' }));
    assert.equal(show.status_code, 404);
    assert.equal(show.error, "model 'gemma3:12b' not found");
    const v1 = await fetch(`${emulator.url}/v1/chat/completions`, {
      method: 'POST',
      body: JSON.stringify({ model: 'llama3:8b', messages: [{ role: 'user', content: 'x' }] }),
    });
    assert.equal(v1.status, 404);
    assert.deepEqual(await v1.json(), {
      error: {
        message: 'model "llama3:8b" not found, try pulling it first',
        type: 'not_found_error',
        param: null,
        code: null,
      },
    });
    assert.equal(emulator.stats.completed, 2, 'only the listed models were answered');
  });

  it('honours keep_alive 0 (unloaded after the answer)', async function () {
    const client = new Ollama({ host: emulator.url });
    await client.chat({ model: 'instant', messages: [{ role: 'user', content: 'x' }], stream: false, keep_alive: 0 });
    assert.equal((await client.ps()).models.length, 0);
    await client.chat({
      model: 'instant',
      messages: [{ role: 'user', content: 'x' }],
      stream: false,
      keep_alive: '10m',
    });
    const [model] = (await client.ps()).models;
    const minutes = (new Date(model!.expires_at).getTime() - Date.now()) / 60_000;
    assert.ok(minutes > 9 && minutes <= 10, `expires in ${minutes} minutes`);
  });
});

describe('ollamaBaseUrl', function () {
  it('reads OLLAMA_HOST the way Ollama does', function () {
    assert.equal(ollamaBaseUrl(''), 'http://127.0.0.1:11434');
    assert.equal(ollamaBaseUrl('0.0.0.0:11434'), 'http://127.0.0.1:11434');
    assert.equal(ollamaBaseUrl('0.0.0.0'), 'http://127.0.0.1:11434');
    assert.equal(ollamaBaseUrl('gpu-box'), 'http://gpu-box:11434');
    assert.equal(ollamaBaseUrl(':8080'), 'http://127.0.0.1:8080');
    assert.equal(ollamaBaseUrl('http://gpu-box'), 'http://gpu-box');
    assert.equal(ollamaBaseUrl('https://ollama.example.com/'), 'https://ollama.example.com');
    assert.equal(ollamaBaseUrl('http://127.0.0.1:11434'), 'http://127.0.0.1:11434');
    assert.equal(ollamaBaseUrl('[::]:11434'), 'http://[::1]:11434');
  });
});
