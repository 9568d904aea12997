// The daemon's JSON-RPC side: one LSP-framed connection per socket client (VS Code windows, the
// CLI). Each connection gets the batch requests, and every batch change as a notification.
import type { Server, Socket } from 'node:net';
import { ResponseError, createConnection, createProtocolConnection } from 'vscode-languageserver';
import { SocketMessageReader, SocketMessageWriter } from 'vscode-languageserver/node';
import { ServiceError } from '../batches/errors.js';
import { log } from '../daemon/log.js';
import type { BatchService } from '../batches/service.js';
import { validateBatchFile } from '../batches/validate.js';
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
    connection.onInitialize((params) => languageFeatures.initialize(params));
    connection.onRequest(protocol.BatchCreateRequest.type, handled((params) => service.createBatch(params)));
    connection.onRequest(protocol.BatchListRequest.type, handled((params) => service.listBatches(params ?? {})));
    connection.onRequest(protocol.BatchGetRequest.type, handled(({ id }) => service.getBatch(id)));
    connection.onRequest(protocol.BatchCancelRequest.type, handled(({ id }) => service.cancelBatch(id)));
    connection.onRequest(protocol.BatchRetryRequest.type, handled(({ id }) => service.retryBatch(id)));
    connection.onRequest(protocol.CsvConvertRequest.type, handled((params) => convertFor(service, params)));
    connection.onRequest(protocol.ResultsAnalyzeRequest.type, handled((params) => analyzeFor(service, params)));
    connection.onRequest(protocol.BatchMetricsRequest.type, handled(({ id, series }) => service.getMetrics(id, series)));
    connection.onRequest(protocol.FileRegisterRequest.type, handled((params) => service.registerFile(params)));
    connection.onRequest(protocol.FileGetRequest.type, handled(({ id }) => {
      const file = service.getFile(id);
      return { ...publicFile(file), path: file.path };
    }));
    connection.onRequest(protocol.FileValidateRequest.type, handled(({ path }) => validateBatchFile(path)));
    connection.onRequest(protocol.DaemonStatusRequest.type, handled(() => hooks.info()));
    connection.onRequest(protocol.DaemonShutdownRequest.type, handled(() => void setImmediate(hooks.shutdown)));
    const announce = (batch: Batch): void => void connection.sendNotification(protocol.BatchChangedNotification.type, batch).catch(() => undefined);
    const announceMetrics = (id: string, snapshot: BatchMetricsSnapshot): void =>
      void connection.sendNotification(protocol.BatchMetricsNotification.type, { id, snapshot }).catch(() => undefined);
    service.on('changed', announce);
    service.on('metrics', announceMetrics);
    socket.on('close', () => {
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
