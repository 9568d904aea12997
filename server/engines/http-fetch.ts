// The fetch under the engines' official clients (ollama, openai): see nodeHttpFetch.
import http from 'node:http';
import https from 'node:https';

const httpAgent = new http.Agent({ keepAlive: true, maxSockets: 256 });
const httpsAgent = new https.Agent({ keepAlive: true, maxSockets: 256 });

/**
 * A `fetch` for JSON calls to a local engine, on node:http with a keep-alive agent. Node 20's
 * built-in fetch (undici) managed 200-480 requests/s on the 2-core test machines against a
 * trivial local server, where node:http managed ~2,400; an engine answering cached or tiny
 * requests (and the benchmark's instant emulator) would wait on the client instead of the
 * model. It buffers the whole answer, so it is not for streamed responses, and asks for no
 * compression; bodies other than a string or bytes go to the built-in fetch. Network failures keep their errno code (ECONNREFUSED,
 * ECONNRESET), which fromNetworkError sorts.
 */
export const nodeHttpFetch: typeof fetch = (input, init) => {
  const body = init?.body;
  if (body !== undefined && body !== null && typeof body !== 'string' && !(body instanceof Uint8Array)) {
    return fetch(input, init);
  }
  const url = new URL(typeof input === 'string' ? input : input instanceof URL ? input.href : input.url);
  const signal = init?.signal ?? undefined;
  const headers: Record<string, string> = {};
  new Headers(init?.headers).forEach((value, key) => (headers[key] = value));
  delete headers['accept-encoding']; // answers come back uncompressed: nothing here inflates them
  const secure = url.protocol === 'https:';
  return new Promise<Response>((resolve, reject) => {
    const attempt = (retry: boolean) => {
      if (signal?.aborted) return reject(signal.reason);
      let answered = false;
      const request = (secure ? https : http).request(
        url,
        { method: init?.method ?? 'GET', headers, agent: secure ? httpsAgent : httpAgent, ...(signal ? { signal } : {}) },
        (response) => {
          answered = true;
          const chunks: Buffer[] = [];
          response.on('data', (chunk: Buffer) => chunks.push(chunk));
          response.on('error', reject);
          response.on('aborted', () => reject(Object.assign(new Error('the connection closed mid-answer'), { code: 'ECONNRESET' })));
          response.on('end', () => {
            if (!response.complete) return; // 'aborted' rejected already
            const responseHeaders = new Headers();
            const raw = response.rawHeaders;
            for (let i = 0; i + 1 < raw.length; i += 2) responseHeaders.append(raw[i]!, raw[i + 1]!);
            const status = response.statusCode ?? 500;
            const empty = status === 204 || status === 304 || init?.method === 'HEAD';
            resolve(new Response(empty ? null : Buffer.concat(chunks), { status, statusText: response.statusMessage ?? '', headers: responseHeaders }));
          });
        },
      );
      request.on('error', (error: NodeJS.ErrnoException) => {
        // A kept-alive connection the server closed while idle fails on first use: try once on
        // a fresh one (the pattern Node's documentation gives for `request.reusedSocket`).
        if (retry && !answered && request.reusedSocket && (error.code === 'ECONNRESET' || error.code === 'EPIPE') && !signal?.aborted) {
          attempt(false);
          return;
        }
        reject(error);
      });
      request.end(body ?? undefined);
    };
    attempt(true);
  });
};
