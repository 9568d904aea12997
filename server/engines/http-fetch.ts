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
  const headers = requestHeaders(init?.headers);
  const secure = url.protocol === 'https:';
  return new Promise<Response>((resolve, reject) => {
    const attempt = (retry: boolean) => {
      if (signal?.aborted) return reject(signal.reason as Error);
      let answered = false;
      const request = (secure ? https : http).request(
        url,
        {
          method: init?.method ?? 'GET',
          headers,
          agent: secure ? httpsAgent : httpAgent,
          ...(signal ? { signal } : {}),
        },
        (response) => {
          answered = true;
          const chunks: Buffer[] = [];
          response.on('data', (chunk: Buffer) => chunks.push(chunk));
          response.on('error', reject);
          response.on('aborted', () =>
            reject(Object.assign(new Error('the connection closed mid-answer'), { code: 'ECONNRESET' })),
          );
          response.on('end', () => {
            if (!response.complete) return; // 'aborted' rejected already
            const status = response.statusCode ?? 500;
            const empty = status === 204 || status === 304 || init?.method === 'HEAD';
            resolve(
              new BufferedResponse(
                empty ? null : Buffer.concat(chunks),
                status,
                response.statusMessage ?? '',
                response.rawHeaders,
                url.href,
              ) as unknown as Response,
            );
          });
        },
      );
      request.on('error', (error: NodeJS.ErrnoException) => {
        // A kept-alive connection the server closed while idle fails on first use: try once on
        // a fresh one (the pattern Node's documentation gives for `request.reusedSocket`).
        if (
          retry &&
          !answered &&
          request.reusedSocket &&
          (error.code === 'ECONNRESET' || error.code === 'EPIPE') &&
          !signal?.aborted
        ) {
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

/** Request headers as node:http takes them; the clients pass plain objects, which skip a Headers. */
function requestHeaders(init: HeadersInit | undefined): Record<string, string> {
  const headers: Record<string, string> = {};
  if (init && !(init instanceof Headers) && !Array.isArray(init)) {
    for (const [key, value] of Object.entries(init)) headers[key.toLowerCase()] = value;
  } else {
    new Headers(init).forEach((value, key) => (headers[key] = value));
  }
  delete headers['accept-encoding']; // answers come back uncompressed: nothing here inflates them
  return headers;
}

/**
 * The part of `Response` the ollama and openai clients read, over a body already in memory.
 * Building a real Response (a web ReadableStream per answer) cost ~0.06 ms of CPU per request,
 * a quarter of the daemon's own work in the benchmark; the stream is made only if asked for.
 */
class BufferedResponse {
  bodyUsed = false;
  readonly type = 'basic';
  readonly redirected = false;

  constructor(
    private readonly bytes: Buffer | null,
    readonly status: number,
    readonly statusText: string,
    private readonly rawHeaders: string[],
    readonly url: string,
  ) {}

  private parsedHeaders: Headers | undefined;

  /** Built on first use (about a microsecond for an answer's few headers). */
  get headers(): Headers {
    if (!this.parsedHeaders) {
      this.parsedHeaders = new Headers();
      for (let i = 0; i + 1 < this.rawHeaders.length; i += 2)
        this.parsedHeaders.append(this.rawHeaders[i]!, this.rawHeaders[i + 1]!);
    }
    return this.parsedHeaders;
  }

  get ok(): boolean {
    return this.status >= 200 && this.status < 300;
  }

  get body(): ReadableStream<Uint8Array> | null {
    return this.bytes === null ? null : new Response(new Uint8Array(this.bytes)).body;
  }

  private consume(): Buffer {
    if (this.bodyUsed) throw new TypeError('Body is unusable: Body has already been read');
    this.bodyUsed = true;
    return this.bytes ?? Buffer.alloc(0);
  }

  async text(): Promise<string> {
    return this.consume().toString('utf8');
  }

  async json(): Promise<unknown> {
    return JSON.parse(await this.text());
  }

  async arrayBuffer(): Promise<ArrayBuffer> {
    const bytes = this.consume();
    return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
  }

  clone(): BufferedResponse {
    return new BufferedResponse(this.bytes, this.status, this.statusText, this.rawHeaders, this.url);
  }
}
