// Clients below the libraries, for tests that send what no well-behaved client sends: multipart
// bodies built by hand, HTTP bytes over a plain TCP socket (lying Content-Lengths, header floods,
// bodies cut off), LSP-framed JSON-RPC bytes over the daemon's socket, and a check that the data
// dir holds no file that the daemon does not list.
import { readdirSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { connectSocket } from '../../server/daemon-access/local-daemon.js';

// ---- multipart/form-data

export interface FormPart {
  name: string;
  /** Makes the part a file part (Content-Disposition filename). */
  filename?: string;
  /** Extra part headers, e.g. Content-Type. */
  headers?: Record<string, string>;
  content: string | Buffer;
}

/** A multipart body exactly as given; `closed: false` leaves off the closing boundary. */
export function multipartBody(boundary: string, parts: FormPart[], closed = true): Buffer {
  const chunks: Buffer[] = [];
  for (const part of parts) {
    let head = `--${boundary}\r\nContent-Disposition: form-data; name="${part.name}"`;
    if (part.filename !== undefined) head += `; filename="${part.filename}"`;
    head += '\r\n';
    for (const [key, value] of Object.entries(
      part.headers ?? (part.filename !== undefined ? { 'Content-Type': 'application/octet-stream' } : {}),
    ))
      head += `${key}: ${value}\r\n`;
    chunks.push(
      Buffer.from(`${head}\r\n`, 'latin1'),
      Buffer.isBuffer(part.content) ? part.content : Buffer.from(part.content),
      Buffer.from('\r\n'),
    );
  }
  if (closed) chunks.push(Buffer.from(`--${boundary}--\r\n`));
  return Buffer.concat(chunks);
}

// ---- HTTP over a plain socket

export interface SocketAnswer {
  /** The status of the first response, or null when the connection closed without one. */
  status: number | null;
  /** Everything the server sent. */
  text: string;
}

/**
 * Sends `bytes` over a fresh TCP connection and reads until the server closes it. `halfClose`
 * ends our side after sending: a client that stops sending mid-body but still listens. (A client
 * that vanishes mid-request is made with `openSocket` and `destroy()`.)
 */
export function socketExchange(
  url: string,
  bytes: Buffer | string,
  options: { halfClose?: boolean } = {},
): Promise<SocketAnswer> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect({ host: hostname.replace(/^\[|\]$/g, ''), port: Number(port), allowHalfOpen: true });
    const chunks: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    // A reset after the server's answer is an ending like any other.
    socket.on('error', (error: NodeJS.ErrnoException) =>
      error.code === 'ECONNRESET' || error.code === 'EPIPE' ? undefined : reject(error),
    );
    socket.on('close', () => {
      const text = Buffer.concat(chunks).toString('latin1');
      const status = /^HTTP\/1\.[01] (\d{3})/.exec(text);
      resolve({ status: status ? Number(status[1]) : null, text });
    });
    socket.on('end', () => socket.end());
    socket.write(bytes, () => {
      if (options.halfClose) socket.end();
    });
  });
}

/** A connected TCP socket to the server of `url`. */
export function openSocket(url: string): Promise<Socket> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect({ host: hostname.replace(/^\[|\]$/g, ''), port: Number(port) });
    socket.once('connect', () => {
      socket.removeListener('error', reject);
      socket.on('error', () => undefined);
      resolve(socket);
    });
    socket.once('error', reject);
  });
}

/** The JSON body of a raw HTTP answer, when it has one. */
export function bodyJson(answer: SocketAnswer): any {
  const start = answer.text.indexOf('\r\n\r\n');
  if (start === -1) return null;
  try {
    return JSON.parse(answer.text.slice(start + 4));
  } catch {
    return null;
  }
}

// ---- LSP-framed JSON-RPC over the daemon's socket

export const frame = (body: string | Buffer): Buffer => {
  const bytes = Buffer.isBuffer(body) ? body : Buffer.from(body, 'utf8');
  return Buffer.concat([Buffer.from(`Content-Length: ${bytes.length}\r\n\r\n`, 'ascii'), bytes]);
};

export interface RpcMessage {
  jsonrpc?: string;
  id?: number | string | null;
  method?: string;
  params?: unknown;
  result?: unknown;
  error?: { code: number; message: string; data?: unknown };
}

/** A JSON-RPC peer that writes bytes as given and reads the daemon's framed answers. */
export class WireClient {
  readonly messages: RpcMessage[] = [];
  closed = false;
  private buffer = Buffer.alloc(0);
  private readonly waiters = new Set<() => void>();
  private nextId = 1;

  private constructor(readonly socket: Socket) {
    socket.on('data', (chunk: Buffer) => {
      this.buffer = Buffer.concat([this.buffer, chunk]);
      this.parse();
    });
    socket.on('error', () => undefined);
    socket.on('close', () => {
      this.closed = true;
      this.wake();
    });
  }

  static async connect(dataDir: string): Promise<WireClient> {
    const socket = await connectSocket(dataDir);
    if (!socket) throw new Error(`no daemon answers in ${dataDir}`);
    return new WireClient(socket);
  }

  private parse(): void {
    for (;;) {
      const end = this.buffer.indexOf('\r\n\r\n');
      if (end === -1) return;
      const length = /content-length: *(\d+)/i.exec(this.buffer.subarray(0, end).toString('ascii'));
      if (!length)
        throw new Error(
          `the daemon sent a frame without Content-Length: ${this.buffer.subarray(0, end).toString('ascii')}`,
        );
      const total = end + 4 + Number(length[1]);
      if (this.buffer.length < total) return;
      this.messages.push(JSON.parse(this.buffer.subarray(end + 4, total).toString('utf8')) as RpcMessage);
      this.buffer = this.buffer.subarray(total);
      this.wake();
    }
  }

  private wake(): void {
    for (const waiter of [...this.waiters]) waiter();
  }

  write(bytes: Buffer | string): Promise<void> {
    return new Promise((resolve) => this.socket.write(bytes, () => resolve()));
  }

  /** Sends a request with `params` exactly as given (undefined leaves the member out); returns its id. */
  async request(method: string, params?: unknown): Promise<number> {
    const id = this.nextId++;
    await this.write(frame(JSON.stringify({ jsonrpc: '2.0', id, method, ...(params !== undefined && { params }) })));
    return id;
  }

  notify(method: string, params?: unknown): Promise<void> {
    return this.write(frame(JSON.stringify({ jsonrpc: '2.0', method, ...(params !== undefined && { params }) })));
  }

  /** Resolves once `found` holds for the messages read so far, or 'closed' once the daemon closed the connection; rejects after `ms`. */
  until<T>(found: (messages: RpcMessage[]) => T | undefined, ms = 10_000): Promise<T | 'closed'> {
    return new Promise((resolve, reject) => {
      const check = (): void => {
        const value = found(this.messages);
        if (value !== undefined) finish(value);
        else if (this.closed) finish('closed');
      };
      const timer = setTimeout(() => {
        this.waiters.delete(check);
        reject(new Error(`no answer within ${ms} ms; read so far: ${JSON.stringify(this.messages).slice(0, 500)}`));
      }, ms);
      const finish = (value: T | 'closed'): void => {
        clearTimeout(timer);
        this.waiters.delete(check);
        resolve(value);
      };
      this.waiters.add(check);
      check();
    });
  }

  /** The answer to request `id`, or 'closed'. */
  answer(id: number | string, ms?: number): Promise<RpcMessage | 'closed'> {
    return this.until(
      (messages) => messages.find((message) => message.id === id && ('result' in message || 'error' in message)),
      ms,
    );
  }

  close(): void {
    this.socket.destroy();
  }
}

// ---- what the data dir holds

/** Names in `<dataDir>/files` that no listed file owns (a `.part`, a file without a record). */
export function strayFiles(dataDir: string, listedIds: readonly string[]): string[] {
  const owned = new Set(listedIds.map((id) => `${id}.jsonl`));
  return readdirSync(join(dataDir, 'files')).filter((name) => !owned.has(name));
}
