// Raw HTTP requests to the daemon, for what the openai client cannot send: other Host and Origin
// headers, malformed targets and bodies, requests over a kept-alive socket.
import assert from 'node:assert/strict';
import http from 'node:http';

export interface RawResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
  /** The body parsed, when it is JSON. */
  json: any;
}

export function raw(url: string, options: http.RequestOptions, body?: string | Buffer): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const request = http.request(url, options, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('error', reject);
      response.on('end', () => {
        const whole = Buffer.concat(chunks);
        const isJson = /^application\/json\b/.test(response.headers['content-type'] ?? '') && whole.length > 0;
        resolve({
          status: response.statusCode!,
          headers: response.headers,
          body: whole,
          json: isJson ? JSON.parse(whole.toString('utf8')) : null,
        });
      });
    });
    request.on('error', reject);
    request.end(body);
  });
}

/** Asserts the status and OpenAI's error shape, {"error": {message, type, param, code}}, with this code. */
export function assertOpenAiError(response: RawResponse, status: number, code: string): void {
  assert.equal(response.status, status, response.body.toString('utf8'));
  assert.deepEqual(Object.keys(response.json.error).sort(), ['code', 'message', 'param', 'type']);
  assert.equal(response.json.error.code, code);
}
