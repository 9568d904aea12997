// What an engine answers is checked, not trusted: a 200 without a message (or whose message has
// no string content) and an HTML page where JSON was due (a proxy's error page, a captive portal)
// are invalid engine answers, retryable where a later try may fare better, for both engines and
// both fetches under them.
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Engine } from '../../server/engines/engine.js';
import { OllamaEngine } from '../../server/engines/ollama.js';
import { OpenAIEngine } from '../../server/engines/openai.js';
import { engineError, never } from '../support/engine-assertions.js';

/** One answer of the scripted server: status, Content-Type and body as sent. */
interface Answer {
  status: number;
  type: string;
  body: string;
}

const json = (body: unknown, status = 200): Answer => ({
  status,
  type: 'application/json; charset=utf-8',
  body: JSON.stringify(body),
});
const html = (status: number, page: string): Answer => ({ status, type: 'text/html; charset=utf-8', body: page });

const BAD_GATEWAY =
  '<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body><center><h1>502 Bad Gateway</h1></center><hr><center>nginx</center></body>\r\n</html>\r\n';
const PORTAL =
  '<!DOCTYPE html><html><head>\n  <title>\n    Sign in to   the guest network\n  </title></head><body><form></form></body></html>';
const UNTITLED = '<!doctype html><html><body><h1>Forbidden</h1><p>You are not allowed here.</p></body></html>';

/** Answers every chat (either API) with the answer the test set last. */
async function startScriptedServer(): Promise<{ url: string; answer: Answer; close(): Promise<void> }> {
  const scripted = { url: '', answer: json({}), close: async () => {} };
  const server = http.createServer((request, response) => {
    request.resume().on('end', () => {
      const { status, type, body } = scripted.answer;
      response.writeHead(status, { 'Content-Type': type, 'Content-Length': Buffer.byteLength(body) });
      response.end(body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  scripted.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  scripted.close = async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  };
  return scripted;
}

const request = { model: 'm', messages: [{ role: 'user' as const, content: 'x' }] };

const ollamaDone = {
  model: 'm',
  created_at: '2025-01-01T00:00:00Z',
  done: true,
  done_reason: 'stop',
  prompt_eval_count: 9,
  eval_count: 3,
};
const completion = (choices: unknown): unknown => ({
  id: 'chatcmpl-1',
  object: 'chat.completion',
  created: 1,
  model: 'm',
  choices,
  usage: { prompt_tokens: 9, completion_tokens: 3, total_tokens: 12 },
});

describe('engine answers are checked', function () {
  let server: Awaited<ReturnType<typeof startScriptedServer>>;
  before(async () => {
    server = await startScriptedServer();
  });
  after(async () => {
    await server.close();
  });

  const fetches: Array<[string, typeof fetch | undefined]> = [
    ['', undefined],
    [' (built-in fetch)', globalThis.fetch],
  ];
  const engines: Array<[string, () => Engine]> = [];
  for (const [via, fetchImpl] of fetches) {
    const fetchOption = fetchImpl ? { fetch: fetchImpl } : {};
    engines.push([`ollama${via}`, () => new OllamaEngine({ url: server.url, ...fetchOption })]);
    engines.push([`openai${via}`, () => new OpenAIEngine({ baseURL: `${server.url}/v1`, ...fetchOption })]);
  }
  const isOllama = (name: string): boolean => name.startsWith('ollama');

  // What each API answers without what the batch needs, and what the error must say is missing.
  const missing: Array<[string, { ollama: unknown; openai: unknown }, RegExp]> = [
    ['an empty object', { ollama: {}, openai: {} }, /invalid engine answer: (no message|no choices)/],
    [
      'a message without content',
      {
        ollama: { ...ollamaDone, message: { role: 'assistant' } },
        openai: completion([{ index: 0, message: { role: 'assistant' }, finish_reason: 'stop' }]),
      },
      /invalid engine answer: .*content is missing, not a string/,
    ],
    [
      'content that is not a string',
      {
        ollama: { ...ollamaDone, message: { role: 'assistant', content: 42 } },
        openai: completion([{ index: 0, message: { role: 'assistant', content: null }, finish_reason: 'stop' }]),
      },
      /invalid engine answer: .*content is (a number|null), not a string/,
    ],
    [
      'no choice at all',
      { ollama: { ...ollamaDone, message: null }, openai: completion([]) },
      /invalid engine answer: (no message|no choices)/,
    ],
    ['JSON that is not an object', { ollama: [], openai: 'fine' }, /invalid engine answer: not a JSON object/],
  ];
  for (const [engineName, makeEngine] of engines) {
    for (const [what, answers, message] of missing) {
      it(`${engineName}: an answer of ${what} is a retryable server_error`, async () => {
        server.answer = json(isOllama(engineName) ? answers.ollama : answers.openai);
        const error = await engineError(makeEngine().chat(request, never()));
        assert.equal(error.kind, 'transient', error.message);
        assert.equal(error.code, 'server_error');
        assert.match(error.message, message);
        assert.equal(error.status, undefined, 'a 200 is no error status for the error line');
      });
    }

    it(`${engineName}: a 200 whose body is not JSON is a retryable server_error`, async () => {
      server.answer = { status: 200, type: 'application/json', body: '{"message": {"content": "cut off' };
      const error = await engineError(makeEngine().chat(request, never()));
      assert.equal(error.kind, 'transient');
      assert.equal(error.code, 'server_error');
      assert.match(error.message, /^invalid engine answer: not JSON/);
    });

    it(`${engineName}: an answer with empty string content is an answer`, async () => {
      server.answer = json(
        isOllama(engineName)
          ? { ...ollamaDone, message: { role: 'assistant', content: '' } }
          : completion([{ index: 0, message: { role: 'assistant', content: '' }, finish_reason: 'stop' }]),
      );
      const result = await makeEngine().chat(request, never());
      assert.equal(result.content, '');
      assert.equal(result.promptTokens, 9);
    });

    const pages: Array<[Answer, 'transient' | 'permanent', RegExp]> = [
      [
        html(502, BAD_GATEWAY),
        'transient',
        /^invalid engine answer: an HTML page \(status 502\), not JSON: "502 Bad Gateway"$/,
      ],
      [
        html(200, PORTAL),
        'transient',
        /^invalid engine answer: an HTML page \(status 200\), not JSON: "Sign in to the guest network"$/,
      ],
      [
        html(403, UNTITLED),
        'permanent',
        /^invalid engine answer: an HTML page \(status 403\), not JSON: "Forbidden You are not allowed here\."$/,
      ],
    ];
    for (const [answer, kind, message] of pages) {
      it(`${engineName}: an HTML page with status ${answer.status} is ${kind}, named for what it is`, async () => {
        server.answer = answer;
        const error = await engineError(makeEngine().chat(request, never()));
        assert.equal(error.kind, kind, error.message);
        assert.equal(error.code, kind === 'transient' ? 'server_error' : 'invalid_request');
        assert.match(error.message, message);
        assert.equal(error.status, answer.status === 200 ? undefined : answer.status);
      });
    }
  }
});
