// The OpenAI-compatible HTTP API: /v1/files, /v1/batches, /v1/models, /metrics, /health. A thin
// transport over the batch service, as the JSON-RPC socket is: batches made here show up there.
// Without a key it serves this machine's programs only: a loopback bind, loopback Host names (a
// web page can point its own DNS name at 127.0.0.1) and no cross-site browser requests.
import { createHash, timingSafeEqual } from 'node:crypto';
import { lookup } from 'node:dns/promises';
import { createWriteStream, type WriteStream } from 'node:fs';
import { open, rename, rm } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import { BlockList, isIP, type AddressInfo } from 'node:net';
import busboy from 'busboy';
import type { Registry } from 'prom-client';
import { expirySeconds } from '../batches/file-registry.js';
import type { PageParams } from '../batches/list-page.js';
import type { CreateBatchParams } from '../batches/new-batch.js';
import type { BatchService } from '../batches/service.js';
import type { Engine } from '../engines/engine.js';
import { wholeLinesLength } from '../jsonl/lines.js';
import { log } from '../log/log.js';
import type { ExpiresAfter, FilePurpose } from '../protocol/openai.js';
import { isDiskFull } from '../store/disk-space.js';
import type { StoredFile } from '../store/store.js';
import { HttpError, sendError, sendJson } from './errors.js';

export interface HttpOptions {
  host: string;
  port: number;
  /** When set, every route but /health needs `Authorization: Bearer <key>`. */
  apiKey?: string;
  /** Largest upload accepted by POST /v1/files. */
  maxUploadBytes: number;
  /** An origin allowed to call the API from a browser; CORS is off without it. */
  corsOrigin?: string;
  /** Where the engine answers, for the error that says it does not. */
  engineUrl?: string;
}

const MAX_JSON_BODY_BYTES = 1024 * 1024;
const FILE_ID = /^file-[0-9a-f]{24}$/;
const BATCH_ID = /^batch_[0-9a-f]{24}$/;

export interface RunningHttp {
  url: string;
  close(): Promise<void>;
}

const LOOPBACK = new BlockList();
LOOPBACK.addSubnet('127.0.0.0', 8, 'ipv4');
LOOPBACK.addAddress('::1', 'ipv6');

const isLoopbackAddress = (address: string): boolean =>
  isIP(address) !== 0 && LOOPBACK.check(address, isIP(address) === 6 ? 'ipv6' : 'ipv4');

/**
 * Where to listen: the first address `host` resolves to, and whether every address it resolves to
 * is loopback (a name is judged by its addresses, not its spelling). Refuses to serve beyond this
 * machine without an API key.
 */
async function resolveBind(
  options: Pick<HttpOptions, 'host' | 'apiKey'>,
): Promise<{ address: string; loopback: boolean }> {
  const addresses = await lookup(options.host, { all: true }).catch((error: NodeJS.ErrnoException) => {
    throw new Error(`cannot serve HTTP on ${options.host}: the name does not resolve (${error.code})`);
  });
  const loopback = addresses.every(({ address }) => isLoopbackAddress(address));
  if (!loopback && !options.apiKey) {
    const resolved = addresses.map(({ address }) => address).join(', ');
    throw new Error(
      `refusing to serve HTTP on ${options.host} without an API key: it resolves to ${resolved}, not only to loopback, so anyone who can reach it could read your batches. Set --api-key or --api-key-file (or OLLAMA_BATCH_API_KEY), or keep the default host 127.0.0.1`,
    );
  }
  return { address: addresses[0]!.address, loopback };
}

/** Whether a Host header names this machine: localhost or a loopback address, with or without a port. */
function isLoopbackHost(host: string): boolean {
  const name = /^(?:\[([^\]]*)\]|([^:]*))(?::\d*)?$/.exec(host);
  const hostname = (name?.[1] ?? name?.[2] ?? '').toLowerCase();
  return hostname === 'localhost' || isLoopbackAddress(hostname);
}

/** Refuses, before any handler reads the body, a request a web page could have sent us. */
function admit(request: IncomingMessage, loopbackBind: boolean, corsOrigin: string | undefined): void {
  const host = request.headers.host ?? '';
  if (loopbackBind && !isLoopbackHost(host)) {
    throw new HttpError(
      403,
      `Host ${JSON.stringify(host)} is not this machine: without an API key the daemon answers only requests addressed to localhost, 127.0.0.1 or [::1]`,
      'host_not_allowed',
    );
  }
  const origin = request.headers.origin;
  if (origin !== undefined && origin !== corsOrigin && origin.toLowerCase() !== `http://${host}`.toLowerCase()) {
    throw new HttpError(
      403,
      `Browser requests from ${origin} are refused: only pages of the daemon's own origin${corsOrigin ? ` and of ${corsOrigin}` : ''} may call it (--cors-origin allows one more)`,
      'origin_not_allowed',
    );
  }
}

/** The request's path and query; `//host`, `*` and absolute-form targets name no route here. */
function requestUrl(target = '/'): URL {
  if (!target.startsWith('/') || target.startsWith('//')) {
    throw new HttpError(
      400,
      `The request target ${JSON.stringify(target.slice(0, 80))} is not a path`,
      'invalid_request_target',
    );
  }
  // Appended, not resolved against a base: `/\host` must stay a path.
  return new URL(`http://localhost${target}`);
}

const digest = (text: string): Buffer => createHash('sha256').update(text).digest();

function authorized(request: IncomingMessage, apiKey: string): boolean {
  const header = request.headers.authorization ?? '';
  const match = /^Bearer (.+)$/.exec(header);
  return match !== null && timingSafeEqual(digest(match[1]!), digest(apiKey));
}

/**
 * The body, failing with 413 once it passes `maxBytes`. The request is left flowing, not
 * destroyed (as leaving a for-await loop would): the 413 must reach the client first.
 */
function readBody(request: IncomingMessage, maxBytes: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    request.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > maxBytes)
        reject(new HttpError(413, `the JSON body is larger than ${maxBytes} bytes`, 'request_too_large'));
      else chunks.push(chunk);
    });
    request.on('end', () => resolve(Buffer.concat(chunks)));
    request.on('close', () => reject(new HttpError(400, 'the body was cut off', 'invalid_json')));
  });
}

async function readJson(request: IncomingMessage): Promise<Record<string, unknown>> {
  if (!/^application\/json\b/i.test(request.headers['content-type'] ?? '')) {
    throw new HttpError(415, 'the body must be JSON (Content-Type: application/json)', 'unsupported_media_type');
  }
  const text = await readBody(request, MAX_JSON_BODY_BYTES);
  try {
    const body = JSON.parse(text.toString('utf8')) as unknown;
    if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new Error('not an object');
    return body as Record<string, unknown>;
  } catch {
    throw new HttpError(400, 'the body is not a JSON object', 'invalid_json');
  }
}

const malformedMultipart = (error: Error): HttpError =>
  new HttpError(400, `the multipart body is malformed: ${error.message}`, 'invalid_multipart');

/** A multipart parser for the request; a Content-Type without a boundary is the client's error. */
function multipartParser(request: IncomingMessage, maxBytes: number): busboy.Busboy {
  try {
    return busboy({ headers: request.headers, limits: { files: 1, fields: 10, fieldSize: 1024, fileSize: maxBytes } });
  } catch (error) {
    throw malformedMultipart(error as Error);
  }
}

/**
 * An upload's `expires_after`, which the openai package sends as the form fields
 * `expires_after[anchor]` and `expires_after[seconds]`; undefined when it sends neither.
 */
function uploadExpiry(fields: Record<string, string>): number | undefined {
  const anchor = fields['expires_after[anchor]'];
  const seconds = fields['expires_after[seconds]'];
  if (anchor === undefined && seconds === undefined) return undefined;
  return expirySeconds({ anchor, seconds: seconds === undefined ? undefined : Number(seconds) }, 'expires_after');
}

/** A list route's paging parameters (limit, after, order), as given. */
function pageParams(query: URLSearchParams): PageParams {
  const [limit, after, order] = ['limit', 'after', 'order'].map((name) => query.get(name));
  return {
    ...(limit !== null && { limit: Number(limit) }),
    ...(after !== null && { after }),
    ...(order !== null && { order: order as PageParams['order'] }),
  };
}

/** POST /v1/files: the multipart `file` streamed to disk, never held in memory. */
async function upload(request: IncomingMessage, service: BatchService, maxBytes: number) {
  if (!/^multipart\/form-data\b/i.test(request.headers['content-type'] ?? '')) {
    throw new HttpError(
      415,
      'upload a file as multipart/form-data with the fields "file" and "purpose"',
      'unsupported_media_type',
    );
  }
  const { id, path } = service.newFilePath();
  const partPath = `${path}.part`;
  const fields: Record<string, string> = {};
  let filename: string | null = null;
  let bytes = 0;
  let writing: Promise<void> = Promise.resolve();
  let fileStream: Readable | null = null;
  let partFile: WriteStream | null = null;
  try {
    await new Promise<void>((resolve, reject) => {
      const parser = multipartParser(request, maxBytes);
      // A field sent twice is ambiguous (which purpose? which file?): refused, not guessed.
      const twice = (name: string): void =>
        reject(
          new HttpError(400, `the multipart body has the field "${name}" more than once`, 'invalid_multipart', name),
        );
      parser.on('field', (name, value) => {
        if (name in fields) twice(name);
        fields[name] = value;
      });
      // busboy takes one file (limits.files) and drops the others, saying so with filesLimit.
      parser.on('filesLimit', () => twice('file'));
      parser.on('file', (name, stream, info) => {
        if (name !== 'file') return void stream.resume();
        filename = info.filename || 'upload.jsonl';
        fileStream = stream;
        const out = createWriteStream(partPath, { mode: 0o600 });
        partFile = out;
        stream.on('data', (chunk: Buffer) => (bytes += chunk.length));
        stream.on('limit', () =>
          reject(
            new HttpError(
              413,
              `the file is larger than the upload limit of ${maxBytes} bytes (--max-upload-mb)`,
              'file_too_large',
            ),
          ),
        );
        // pipeline, not pipe: a form cut off mid-file errors the part stream, and that error
        // must reach us rather than go unhandled.
        writing = pipeline(stream, out);
        // Awaited on 'close', so that a form cut off reports its own error; a full disk is
        // reported at once, since the parser may wait forever on a file stream nobody reads.
        writing.catch((error: unknown) => {
          if (isDiskFull(error)) reject(error);
        });
      });
      parser.on('error', (error: Error) => reject(malformedMultipart(error)));
      parser.on('close', () => void writing.then(resolve, reject));
      request.on('aborted', () => reject(new HttpError(400, 'the upload was cut off', 'invalid_multipart')));
      request.pipe(parser);
    });
    if (filename === null) throw new HttpError(400, 'the multipart body has no "file" field', 'missing_file', 'file');
    if (fields.purpose !== 'batch') {
      throw new HttpError(
        400,
        `purpose must be "batch" (this server runs batches), got ${JSON.stringify(fields.purpose ?? null)}`,
        'invalid_purpose',
        'purpose',
      );
    }
    const expiresAfter = uploadExpiry(fields);
    await rename(partPath, path);
    return await service.addFile({
      id,
      path,
      bytes,
      filename,
      purpose: 'batch',
      ...(expiresAfter && { expiresAfter }),
    });
  } catch (error) {
    request.unpipe(); // the rest is drained once the error is answered
    // The part file is closed before it is removed, or a write still opening it would bring it back.
    (fileStream as Readable | null)?.destroy(); // (set in a callback, which TypeScript does not follow)
    await writing.catch(() => undefined);
    // pipeline settles at the first error, while the part file may still be opening: an open
    // that completes after the rm would create it again, so its close is awaited first.
    const part = partFile as WriteStream | null;
    // (Not events.once: the part file may emit the upload's error on its way to closing.)
    if (part && !part.closed) await new Promise<void>((resolve) => part.once('close', () => resolve()));
    await Promise.all([rm(partPath, { force: true }), rm(path, { force: true })]); // nothing half-made stays
    throw error;
  }
}

/** How long a refused request's body is drained before the answer goes anyway. */
const DRAIN_MS = 10_000;

/** Resolves once the request's body has all arrived (read and dropped), it closed, or `ms` passed. */
function drained(request: IncomingMessage, ms: number): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    const done = (): void => {
      clearTimeout(timer);
      resolve();
    };
    request.once('end', done).once('close', done).resume();
  });
}

/**
 * GET /v1/files/{id}/content: the file as it is on disk. One still being written (a running
 * batch's output, whose recorded size is set when the batch ends) is served up to its last
 * newline, so a reader never gets a torn line.
 */
async function sendFile(response: ServerResponse, file: StoredFile): Promise<void> {
  const handle = await open(file.path, 'r');
  try {
    const { size } = await handle.stat();
    const length = size === file.bytes ? size : await wholeLinesLength(handle, size);
    response.writeHead(200, { 'Content-Type': 'application/jsonl', 'Content-Length': length });
    if (length === 0) return void response.end();
    await pipeline(handle.createReadStream({ start: 0, end: length - 1, autoClose: false }), response);
  } finally {
    await handle.close();
  }
}

type Handler = (
  request: IncomingMessage,
  response: ServerResponse,
  match: RegExpExecArray,
  query: URLSearchParams,
) => Promise<void>;

export async function startHttp(
  service: BatchService,
  engine: Engine,
  metrics: Registry,
  options: HttpOptions,
): Promise<RunningHttp> {
  const bind = await resolveBind(options);
  const id = (value: string, pattern: RegExp, kind: string): string => {
    if (!pattern.test(value))
      throw new HttpError(404, `No ${kind} with id ${JSON.stringify(value.slice(0, 80))}`, `${kind}_not_found`);
    return value;
  };
  const routes: Array<[string, RegExp, Handler]> = [
    ['GET', /^\/health$/, async (_request, response) => sendJson(response, 200, { status: 'ok' })],
    [
      'GET',
      /^\/metrics$/,
      async (_request, response) => {
        const text = await metrics.metrics();
        response.writeHead(200, { 'Content-Type': metrics.contentType });
        response.end(text);
      },
    ],
    [
      'GET',
      /^\/v1\/models$/,
      async (_request, response) => {
        const models = await engine.listModels().catch((error: Error) => {
          // Not the daemon's fault: say whose it is, and keep it in the log.
          const engineName = `the ${engine.name} engine${options.engineUrl ? ` at ${options.engineUrl}` : ''}`;
          log('warn', `GET /v1/models: ${engineName} does not answer: ${error.message}`);
          throw new HttpError(
            503,
            `The model list is not available: ${engineName} does not answer (${error.message}); start it, or point the daemon at it`,
            'engine_unavailable',
          );
        });
        sendJson(response, 200, {
          object: 'list',
          data: models.map((model) => ({ id: model, object: 'model', created: 0, owned_by: engine.name })),
        });
      },
    ],
    [
      'POST',
      /^\/v1\/files$/,
      async (request, response) => sendJson(response, 200, await upload(request, service, options.maxUploadBytes)),
    ],
    [
      'GET',
      /^\/v1\/files$/,
      async (_request, response, _match, query) => {
        const purpose = query.get('purpose');
        sendJson(
          response,
          200,
          service.listFiles({ ...pageParams(query), ...(purpose !== null && { purpose: purpose as FilePurpose }) }),
        );
      },
    ],
    [
      'GET',
      /^\/v1\/files\/([^/]+)$/,
      async (_request, response, match) => {
        const { path: _path, ...file } = service.getFile(id(match[1]!, FILE_ID, 'file'));
        sendJson(response, 200, file);
      },
    ],
    [
      'GET',
      /^\/v1\/files\/([^/]+)\/content$/,
      async (_request, response, match) => {
        await sendFile(response, service.getFile(id(match[1]!, FILE_ID, 'file')));
      },
    ],
    [
      'DELETE',
      /^\/v1\/files\/([^/]+)$/,
      async (_request, response, match) =>
        sendJson(response, 200, await service.deleteFile(id(match[1]!, FILE_ID, 'file'))),
    ],
    [
      'POST',
      /^\/v1\/batches$/,
      async (request, response) => {
        const body = await readJson(request);
        if (typeof body.input_file_id !== 'string')
          throw new HttpError(400, 'input_file_id is required', 'missing_required_parameter', 'input_file_id');
        const params: CreateBatchParams = { input_file_id: body.input_file_id };
        for (const key of ['endpoint', 'completion_window'] as const) {
          if (body[key] !== undefined && typeof body[key] !== 'string')
            throw new HttpError(400, `${key} must be a string`, 'invalid_type', key);
          if (typeof body[key] === 'string') params[key] = body[key];
        }
        if (body.metadata !== undefined) params.metadata = body.metadata as Record<string, string> | null;
        if (body.output_expires_after !== undefined)
          params.output_expires_after = body.output_expires_after as ExpiresAfter; // checked by the service
        sendJson(response, 200, await service.createBatch(params));
      },
    ],
    [
      'GET',
      /^\/v1\/batches$/,
      async (_request, response, _match, query) => {
        const { order: _order, ...params } = pageParams(query); // batches come newest first, as OpenAI's
        sendJson(response, 200, service.listBatches(params));
      },
    ],
    [
      'GET',
      /^\/v1\/batches\/([^/]+)$/,
      async (_request, response, match) => sendJson(response, 200, service.getBatch(id(match[1]!, BATCH_ID, 'batch'))),
    ],
    [
      'POST',
      /^\/v1\/batches\/([^/]+)\/cancel$/,
      async (_request, response, match) =>
        sendJson(response, 200, await service.cancelBatch(id(match[1]!, BATCH_ID, 'batch'))),
    ],
  ];

  const server = http.createServer(
    { maxHeaderSize: 16 * 1024, requestTimeout: 0, headersTimeout: 60_000 },
    (request, response) => {
      void (async () => {
        admit(request, bind.loopback, options.corsOrigin);
        if (options.corsOrigin) {
          response.setHeader('Access-Control-Allow-Origin', options.corsOrigin);
          response.setHeader('Access-Control-Allow-Headers', 'Authorization, Content-Type');
          response.setHeader('Access-Control-Allow-Methods', 'GET, POST, DELETE');
          if (request.method === 'OPTIONS') return void response.writeHead(204).end();
        }
        const url = requestUrl(request.url);
        if (url.pathname !== '/health' && options.apiKey && !authorized(request, options.apiKey)) {
          throw new HttpError(401, 'Incorrect or missing API key: send Authorization: Bearer <key>', 'invalid_api_key');
        }
        const route = routes.find(([method, pattern]) => method === request.method && pattern.test(url.pathname));
        if (!route) {
          const known = routes.some(([, pattern]) => pattern.test(url.pathname));
          throw new HttpError(
            known ? 405 : 404,
            known
              ? `${request.method} is not allowed on ${url.pathname}`
              : `Unknown route ${request.method} ${url.pathname}`,
            known ? 'method_not_allowed' : 'not_found',
          );
        }
        await route[2](request, response, route[1].exec(url.pathname)!, url.searchParams);
      })().catch(async (error: unknown) => {
        // A client still sending its body may not read an answer before it has sent it all, and a
        // connection closed on its unsent bytes is reset, losing the answer ("Connection error"
        // where a full disk answered 507): the rest is drained first, for a while. A refused
        // sender (no key, another origin) and a body over the limit are not waited for: answered
        // at once, on a connection closed after the answer.
        const refused = error instanceof HttpError && [401, 403, 413].includes(error.status);
        if (!request.complete && !refused) await drained(request, DRAIN_MS);
        if (!request.complete && !response.headersSent) response.setHeader('Connection', 'close');
        sendError(response, error);
        request.resume();
      });
    },
  );
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, bind.address, () => resolve());
  });
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return {
    url: `http://${host}:${address.port}`,
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
