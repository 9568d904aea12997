// The daemon's JSON-RPC side: one LSP-framed connection per socket client (VS Code windows, the
// CLI). Each connection gets the batch requests, and every batch change as a notification.
// Params are checked before a handler sees them: any process of the user can send anything.
import { stat } from 'node:fs/promises';
import type { Server, Socket } from 'node:net';
import { ResponseError, createConnection, createProtocolConnection, type RequestHandler, type RequestType } from 'vscode-languageserver';
import { SocketMessageReader, SocketMessageWriter } from 'vscode-languageserver/node';
import { ServiceError } from '../batches/errors.js';
import { log } from '../daemon/log.js';
import type { BatchService } from '../batches/service.js';
import { validateBatchFile, type ValidationReport } from '../batches/validate.js';
import { publicFile } from '../batches/service.js';
import * as protocol from '../protocol/methods.js';
import { analyzeFor, convertFor } from '../daemon/jobs.js';
import type { BatchMetricsSnapshot } from '../metrics/batch-metrics.js';
import type { Batch } from '../openai/types.js';
import { registerLanguageFeatures } from '../lsp/language-features.js';

const RPC_CODE = {
  not_found: protocol.RpcErrorCodes.notFound,
  invalid_request: protocol.RpcErrorCodes.invalidRequest,
  conflict: protocol.RpcErrorCodes.conflict,
  unsupported_file: protocol.RpcErrorCodes.invalidRequest,
  too_large: protocol.RpcErrorCodes.invalidRequest,
  disk_full: protocol.RpcErrorCodes.internal,
  internal_error: protocol.RpcErrorCodes.internal,
} as const;

/** Runs a handler and turns a ServiceError into a JSON-RPC error carrying its code and param. */
function handled<P, R>(handler: (params: P) => R | Promise<R>): (params: P) => Promise<R | ResponseError<protocol.RpcErrorData>> {
  return async (params) => {
    try {
      return await handler(params);
    } catch (error) {
      if (error instanceof ServiceError) return new ResponseError(RPC_CODE[error.code], error.message, { code: error.code, param: error.param });
      return new ResponseError(protocol.RpcErrorCodes.internal, (error as Error).message, { code: 'internal_error', param: null });
    }
  };
}

/** How a value sent as params reads in an error message. */
const shown = (value: unknown): string => (Array.isArray(value) ? 'an array' : (JSON.stringify(value) ?? String(value)));

/**
 * The handler, for params that are an object with these fields as strings: anything else is
 * answered with invalid params (-32602) saying what the method needs, not a TypeError's text.
 */
function objectParams<P, R>(method: string, strings: ReadonlyArray<keyof P & string>, handler: (params: P) => R | Promise<R>): (params: P) => R | Promise<R> {
  return (params) => {
    if (typeof params !== 'object' || params === null || Array.isArray(params)) {
      const fields = strings.length === 0 ? '' : ` with ${strings.join(' and ')} (${strings.length === 1 ? 'a string' : 'strings'})`;
      throw new ServiceError('invalid_request', `${method} needs its params as an object${fields}; got ${shown(params)}`);
    }
    for (const field of strings) {
      const value = (params as Record<string, unknown>)[field];
      if (typeof value !== 'string') throw new ServiceError('invalid_request', `${method} needs params.${field} as a string; got ${shown(value)}`, field);
    }
    return handler(params);
  };
}

/** Validates a regular file only: a device or a pipe (/dev/zero) may never end. */
async function validateRegularFile(path: string, signal: AbortSignal): Promise<ValidationReport> {
  const info = await stat(path).catch((error: NodeJS.ErrnoException) => {
    throw error.code === 'ENOENT' ? new ServiceError('not_found', `no such file: ${path}`, 'path') : error;
  });
  if (!info.isFile()) throw new ServiceError('invalid_request', `${path} is not a regular file; only a file can be validated`, 'path');
  return validateBatchFile(path, { signal });
}

const connectionLogger = {
  error: (message: string) => log('warn', `client connection: ${message}`),
  warn: (message: string) => log('warn', `client connection: ${message}`),
  info: () => undefined,
  log: () => undefined,
};

export interface RpcHooks {
  info(): Promise<protocol.DaemonInfo>;
  shutdown(): void;
}

/** Serves every client that connects; returns a function that ends all open connections. */
export function serveRpc(server: Server, service: BatchService, hooks: RpcHooks): () => void {
  const sockets = new Set<Socket>();
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    // Our own watchdog: a client that says `exit` closes its connection, never the daemon.
    const watchDog = { shutdownReceived: false, initialize: () => undefined, exit: () => socket.destroy() };
    // Connection problems go to the daemon log: the default logger writes back over the
    // connection, which throws when the client has just gone and would end the daemon.
    const connection = createConnection(
      () => createProtocolConnection(new SocketMessageReader(socket), new SocketMessageWriter(socket), connectionLogger),
      watchDog,
    );
    // Editor features for VS Code windows; the CLI sends no `initialize` and opens no documents.
    const languageFeatures = registerLanguageFeatures(connection, { modelStats: (model) => service.modelStats(model) });
    // Work done for this client alone (validating a file) stops when it goes.
    const clientGone = new AbortController();
    connection.onInitialize((params) => languageFeatures.initialize(params));
    /** A request whose params are an object with these fields as strings. (The cast: TypeScript cannot resolve the library's conditional result type for a generic R.) */
    const onRequest = <P, R>(type: RequestType<P, R, protocol.RpcErrorData>, strings: ReadonlyArray<keyof P & string>, handler: (params: P) => R | Promise<R>): void =>
      void connection.onRequest(type, handled(objectParams(type.method, strings, handler)) as RequestHandler<P, R, protocol.RpcErrorData>);
    onRequest(protocol.BatchCreateRequest.type, ['input_file_id'], (params) => service.createBatch(params));
    connection.onRequest(protocol.BatchListRequest.type, handled((params) => service.listBatches(params ?? {})));
    onRequest(protocol.BatchGetRequest.type, ['id'], ({ id }) => service.getBatch(id));
    onRequest(protocol.BatchCancelRequest.type, ['id'], ({ id }) => service.cancelBatch(id));
    onRequest(protocol.BatchRetryRequest.type, ['id'], ({ id }) => service.retryBatch(id));
    onRequest(protocol.CsvConvertRequest.type, [], (params) => convertFor(service, params));
    onRequest(protocol.ResultsAnalyzeRequest.type, [], (params) => analyzeFor(service, params));
    onRequest(protocol.BatchMetricsRequest.type, ['id'], ({ id, series }) => service.getMetrics(id, series));
    onRequest(protocol.FileRegisterRequest.type, ['path'], (params) => service.registerFile(params));
    onRequest(protocol.FileGetRequest.type, ['id'], ({ id }) => {
      const file = service.getFile(id);
      return { ...publicFile(file), path: file.path };
    });
    onRequest(protocol.FileValidateRequest.type, ['path'], ({ path }) => validateRegularFile(path, clientGone.signal));
    connection.onRequest(protocol.DaemonStatusRequest.type, handled(() => hooks.info()));
    connection.onRequest(protocol.DaemonShutdownRequest.type, handled(() => void setImmediate(hooks.shutdown)));
    const announce = (batch: Batch): void => void connection.sendNotification(protocol.BatchChangedNotification.type, batch).catch(() => undefined);
    const announceMetrics = (id: string, snapshot: BatchMetricsSnapshot): void =>
      void connection.sendNotification(protocol.BatchMetricsNotification.type, { id, snapshot }).catch(() => undefined);
    service.on('changed', announce);
    service.on('metrics', announceMetrics);
    socket.on('close', () => {
      clientGone.abort();
      sockets.delete(socket);
      service.off('changed', announce);
      service.off('metrics', announceMetrics);
      languageFeatures.dispose();
      connection.dispose();
    });
    socket.on('error', () => socket.destroy());
    connection.listen();
  });
  return () => sockets.forEach((socket) => socket.end()); // end, not destroy: answers already written still arrive
}
