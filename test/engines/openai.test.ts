// OpenAIEngine (the official `openai` client) against the Ollama emulator's OpenAI-compatible
// /v1, with real inference on the tiny random-weight model: never assert on the words.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { OpenAIEngine, toOpenAIRequest } from '../../server/engines/openai.js';
import { engineError, never, scoreSchemaUrl as schemaUrl } from '../support/engine-assertions.js';
import { startTinyEmulator } from '../support/tiny-emulator.js';
import { startOllamaEmulator } from '../support/ollama-emulator/server.js';
import type { EmulatorFault, RunningEmulator } from '../support/ollama-emulator/server.js';

describe('OpenAIEngine on the emulator /v1 with real inference', function () {
  let emulator: RunningEmulator;
  let engine: OpenAIEngine;

  before(async function () {
    emulator = await startTinyEmulator();
    engine = new OpenAIEngine({ baseURL: `${emulator.url}/v1` });
  });

  after(async function () {
    await emulator?.close();
  });

  it('answers a chat with usage', async function () {
    const result = await engine.chat(
      {
        model: 'tiny',
        messages: [
          { role: 'developer', content: 'You score candidates.' },
          { role: 'user', content: [{ type: 'text', text: 'Score this one.' }] },
        ],
        temperature: 0,
        topP: 0.9,
        seed: 11,
        stop: ['\n\n'],
        maxTokens: 10,
      },
      never(),
    );
    assert.equal(typeof result.content, 'string');
    assert.ok(result.promptTokens > 0);
    assert.ok(result.completionTokens > 0 && result.completionTokens <= 10);
    assert.ok(['stop', 'length'].includes(result.finishReason));
    assert.equal(result.model, 'tiny');
    if (result.cachedTokens !== undefined) assert.ok(result.cachedTokens <= result.promptTokens);
  });

  it('gives finishReason length when max tokens cut the answer', async function () {
    const result = await engine.chat(
      { model: 'tiny', messages: [{ role: 'user', content: 'Talk.' }], maxTokens: 1, seed: 2 },
      never(),
    );
    assert.equal(result.completionTokens, 1);
    assert.equal(result.finishReason, 'length');
  });

  it('follows a json_schema response format with parseable JSON', async function () {
    const schema = JSON.parse(await readFile(schemaUrl, 'utf8')) as Record<string, unknown>;
    const result = await engine.chat(
      {
        model: 'tiny',
        messages: [{ role: 'user', content: 'Score: Ann, 3 years of Rust.' }],
        format: schema,
        seed: 4,
        maxTokens: 1500,
      },
      never(),
    );
    assert.equal(result.finishReason, 'stop');
    const parsed = JSON.parse(result.content) as Record<string, unknown>;
    assert.ok(['advance', 'maybe', 'reject'].includes(parsed.decision as string));
    assert.ok(Array.isArray(parsed.strengths));
  });

  it('follows a json_object response format', async function () {
    const result = await engine.chat(
      { model: 'tiny', messages: [{ role: 'user', content: 'JSON please.' }], format: 'json', seed: 6, maxTokens: 300 },
      never(),
    );
    if (result.finishReason === 'stop') assert.equal(typeof JSON.parse(result.content), 'object');
  });

  it('lists models, pings, and finds no slot count where /props is missing', async function () {
    assert.deepEqual(await engine.listModels(), ['tiny:latest']);
    assert.equal(await engine.ping(), true);
    assert.equal(await engine.slots(), undefined);
  });

  it('answers an unknown model with a permanent model_not_found', async function () {
    const error = await engineError(
      engine.chat({ model: 'nope', messages: [{ role: 'user', content: 'x' }] }, never()),
    );
    assert.equal(error.kind, 'permanent');
    assert.equal(error.code, 'model_not_found');
    assert.equal(error.status, 404);
  });

  it('answers a bad request with a permanent invalid_request', async function () {
    const error = await engineError(engine.chat({ model: '', messages: [{ role: 'user', content: 'x' }] }, never()));
    assert.equal(error.kind, 'permanent');
    assert.equal(error.code, 'invalid_request');
    assert.equal(error.status, 400);
  });

  it('aborts when the caller aborts', async function () {
    const controller = new AbortController();
    const pending = engine.chat(
      { model: 'tiny', messages: [{ role: 'user', content: 'x' }], maxTokens: 2000 },
      controller.signal,
    );
    setTimeout(() => controller.abort(), 20);
    const error = await engineError(pending);
    assert.equal(error.kind, 'transient');
    assert.equal(error.code, 'aborted');
  });
});

describe('OpenAIEngine errors (emulator in instant mode)', function () {
  let emulator: RunningEmulator;
  const request = { model: 'instant', messages: [{ role: 'user' as const, content: 'x' }] };

  beforeEach(async function () {
    emulator = await startOllamaEmulator({ instant: true });
  });
  afterEach(async function () {
    await emulator.close();
  });

  const cases: Array<[EmulatorFault, string]> = [
    ['500', 'server_error'],
    ['reset', 'connection_error'],
    ['503', 'engine_overloaded'],
    ['timeout', 'timeout'],
    ['oom', 'out_of_memory'],
  ];
  const fetches: Array<[string, typeof fetch | undefined]> = [
    ['', undefined],
    [' (built-in fetch)', globalThis.fetch],
  ];
  for (const [fault, code] of cases)
    for (const [via, fetchImpl] of fetches) {
      it(`maps fault ${fault} to a transient ${code}${via}`, async function () {
        emulator.setFault(fault, 1);
        const engine = new OpenAIEngine({
          baseURL: `${emulator.url}/v1`,
          requestTimeoutMs: 300,
          ...(fetchImpl ? { fetch: fetchImpl } : {}),
        });
        const error = await engineError(engine.chat(request, never()));
        assert.equal(error.kind, 'transient');
        assert.equal(error.code, code);
        assert.equal(emulator.stats.faults, 1, 'no retries inside the client');
      });
    }

  for (const [via, fetchImpl] of fetches)
    it(`says unreachable once the server is gone, and ping turns false${via}`, async function () {
      const engine = new OpenAIEngine({ baseURL: `${emulator.url}/v1/`, ...(fetchImpl ? { fetch: fetchImpl } : {}) });
      assert.equal(await engine.ping(), true);
      await emulator.close();
      const error = await engineError(engine.chat(request, never()));
      assert.equal(error.kind, 'unreachable');
      assert.equal(error.code, 'engine_unreachable');
      assert.equal(await engine.ping(), false);
    });

  it('reports cached prompt tokens from usage.prompt_tokens_details', async function () {
    const engine = new OpenAIEngine({ baseURL: `${emulator.url}/v1` });
    const long = {
      model: 'instant',
      messages: [
        { role: 'system' as const, content: 'rubric '.repeat(200) },
        { role: 'user' as const, content: 'a' },
      ],
    };
    await engine.chat(long, never());
    const second = await engine.chat(long, never());
    assert.ok(second.cachedTokens !== undefined && second.cachedTokens > 200);
    assert.ok(second.cachedTokens < second.promptTokens);
  });
});

describe('OpenAIEngine.slots on a llama.cpp server', function () {
  it('reads total_slots from /props at the server root', async function () {
    const server = http.createServer((request, response) => {
      if (request.url === '/props') {
        response.writeHead(200, { 'Content-Type': 'application/json' });
        response.end(JSON.stringify({ total_slots: 4, default_generation_settings: { n_ctx: 8192 } }));
      } else {
        response.writeHead(404).end();
      }
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = server.address() as AddressInfo;
      assert.equal(await new OpenAIEngine({ baseURL: `http://127.0.0.1:${port}/v1` }).slots(), 4);
      assert.equal(await new OpenAIEngine({ baseURL: `http://127.0.0.1:${port}` }).slots(), 4);
    } finally {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });
});

describe('toOpenAIRequest', function () {
  it('maps the engine request onto chat.completions parameters', function () {
    const schema = { type: 'object', properties: { a: { type: 'string' } } };
    assert.deepEqual(
      toOpenAIRequest({
        model: 'm',
        messages: [{ role: 'user', content: 'x' }],
        temperature: 0.1,
        topP: 0.5,
        seed: 1,
        stop: ['END'],
        maxTokens: 9,
        format: schema,
        numCtx: 8192,
      }),
      {
        model: 'm',
        messages: [{ role: 'user', content: 'x' }],
        temperature: 0.1,
        top_p: 0.5,
        seed: 1,
        stop: ['END'],
        max_tokens: 9,
        response_format: { type: 'json_schema', json_schema: { name: 'answer', schema, strict: true } },
      },
    );
    assert.deepEqual(toOpenAIRequest({ model: 'm', messages: [], format: 'json' }).response_format, {
      type: 'json_object',
    });
  });
});
