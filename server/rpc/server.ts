// The daemon's JSON-RPC side: one LSP-framed connection per socket client (VS Code windows, the
// CLI). Each connection gets the batch requests, and every batch change as a notification.
// Params are checked before a handler sees them: any process of the user can send anything.
// Answers are the service's own objects; wire-types.ts checks that their types are protocol's.
import { stat } from 'node:fs/promises';
import { setTimeout as delay } from 'node:timers/promises';
import type { Server, Socket } from 'node:net';
import {
  ResponseError,
  createConnection,
  type Connection,
  type Logger,
  createProtocolConnection,
  type RequestHandler,
  type RequestType,
} from 'vscode-languageserver';
import { ServiceError } from '../batches/errors.js';
import { log } from '../log/log.js';
import type { BatchService } from '../batches/service.js';
import { validateBatchFile, type ValidationReport } from '../batches/validate.js';
import { publicFile } from '../batches/file-registry.js';
import * as protocol from '../protocol/methods.js';
import { analyzeFor, convertFor, type ModelContextLength } from '../jobs/jobs.js';
import type { BatchMetricsSnapshot } from '../protocol/metrics.js';
import type { Batch } from '../protocol/openai.js';
import { registerLanguageFeatures } from '../lsp/language-features.js';
import { clientMessages } from './client-messages.js';

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
function handled<P, R>(
  handler: (params: P) => R | Promise<R>,
): (params: P) => Promise<R | ResponseError<protocol.RpcErrorData>> {
  return async (params) => {
    try {
      return await handler(params);
    } catch (error) {
      if (error instanceof ServiceError)
        return new ResponseError(RPC_CODE[error.code], error.message, { code: error.code, param: error.param });
      return new ResponseError(protocol.RpcErrorCodes.internal, (error as Error).message, {
        code: 'internal_error',
        param: null,
      });
    }
  };
}

/** How a value sent as params reads in an error message (cut short: it may be megabytes). */
const shown = (value: unknown): string => {
  if (value === undefined) return 'nothing';
  if (Array.isArray(value)) return 'an array';
  const text = JSON.stringify(value);
  return text.length > 80 ? `${text.slice(0, 80)}…` : text;
};

/** A field's JSON type; a trailing `?` marks one a client may leave out (or send as null). */
type FieldType = 'string' | 'number' | 'boolean' | 'object';
type FieldSpec = FieldType | `${FieldType}?`;
type JsonType<T> = T extends string
  ? 'string'
  : T extends number
    ? 'number'
    : T extends boolean
      ? 'boolean'
      : T extends object
        ? 'object'
        : never;
/** Every field of a method's params (its wire type, from protocol/methods.ts) with its JSON type. */
type ParamFields<P> = {
  readonly [K in keyof P]-?: undefined extends P[K] ? `${JsonType<NonNullable<P[K]>>}?` : JsonType<P[K]>;
};

const FIELD_TYPE_NAMES: Record<FieldType, string> = {
  string: 'a string',
  number: 'a number',
  boolean: 'true or false',
  object: 'an object',
};

function hasType(value: unknown, type: FieldType): boolean {
  if (type === 'number') return typeof value === 'number' && Number.isFinite(value); // 1e400 parses as Infinity
  if (type === 'object') return typeof value === 'object' && value !== null && !Array.isArray(value);
  return typeof value === type;
}

/**
 * The handler, for params that are an object whose fields have the declared types: anything else
 * is answered with invalid params (-32602) naming the field and what it needs, not a TypeError's
 * text. The handler gets the declared fields only, an optional one sent as null left out.
 */
function objectParams<P, R>(
  method: string,
  fields: ParamFields<P>,
  handler: (params: P) => R | Promise<R>,
): (params: P) => R | Promise<R> {
  const declared = Object.entries(fields as Record<string, FieldSpec>).map(([field, type]) => ({
    field,
    type: type.replace('?', '') as FieldType,
    optional: type.endsWith('?'),
  }));
  return (params) => {
    if (typeof params !== 'object' || params === null || Array.isArray(params)) {
      const required = declared
        .filter(({ optional }) => !optional)
        .map(({ field, type }) => `${field} (${FIELD_TYPE_NAMES[type]})`);
      const fieldList =
        required.length === 0
          ? ''
          : ` with ${required.length === 1 ? required[0] : `${required.slice(0, -1).join(', ')} and ${required.at(-1)}`}`;
      throw new ServiceError(
        'invalid_request',
        `${method} needs its params as an object${fieldList}; got ${shown(params)}`,
      );
    }
    const checked: Record<string, unknown> = {};
    for (const { field, type, optional } of declared) {
      const value = (params as Record<string, unknown>)[field];
      if (optional && (value === undefined || value === null)) continue;
      if (!hasType(value, type))
        throw new ServiceError(
          'invalid_request',
          `${method} needs params.${field} as ${FIELD_TYPE_NAMES[type]}; got ${shown(value)}`,
          field,
        );
      checked[field] = value;
    }
    return handler(checked as P);
  };
}

/** Validates a regular file only: a device or a pipe (/dev/zero) may never end. */
async function validateRegularFile(path: string, signal: AbortSignal): Promise<ValidationReport> {
  const info = await stat(path).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT' || error.code === 'ENOTDIR')
      throw new ServiceError('not_found', `no such file: ${path}`, 'path');
    // Not echoed: such a path may be megabytes.
    if (error.code === 'ENAMETOOLONG')
      throw new ServiceError(
        'invalid_request',
        `the path (${path.length} characters) is longer than the system allows`,
        'path',
      );
    throw error;
  });
  if (!info.isFile())
    throw new ServiceError('invalid_request', `${path} is not a regular file; only a file can be validated`, 'path');
  return validateBatchFile(path, { signal });
}

/** The library's complaints about a connection, but not those about writing to a client that has gone. */
const connectionLogger = (socket: Socket): Logger => {
  const warn = (message: string): void => {
    if (!socket.destroyed) log('warn', `client connection: ${message}`);
  };
  return { error: warn, warn, info: () => undefined, log: () => undefined };
};

export interface RpcHooks {
  info(): Promise<protocol.DaemonInfo>;
  /** The model's own context limit, as the engine tells it (convert's estimate keeps within it). */
  modelContextLength?: ModelContextLength;
  shutdown(): void;
}

/** How long a stopping daemon waits for its daemon/stopping notification to be written out. */
const ANNOUNCE_LIMIT_MS = 1000;

export interface RpcClients {
  /** Tells every client the daemon stops on purpose, so that none takes the closing for a crash. */
  announceStopping(reason: string): Promise<void>;
  /** Ends all open connections. */
  disconnect(): void;
}

/** Serves every client that connects. */
export function serveRpc(server: Server, service: BatchService, hooks: RpcHooks): RpcClients {
  const sockets = new Set<Socket>();
  const connections = new Set<Connection>();
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    // Our own watchdog: a client that says `exit` closes its connection, never the daemon.
    const watchDog = { shutdownReceived: false, initialize: () => undefined, exit: () => socket.destroy() };
    const { reader, writer } = clientMessages(socket);
    // Connection problems go to the daemon log: the default logger writes back over the
    // connection, which throws when the client has just gone and would end the daemon.
    const connection = createConnection(
      () => createProtocolConnection(reader, writer, connectionLogger(socket)),
      watchDog,
    );
    connections.add(connection);
    // Editor features for VS Code windows; the CLI sends no `initialize` and opens no documents.
    const languageFeatures = registerLanguageFeatures(connection, { modelStats: (model) => service.modelStats(model) });
    // Work done for this client alone (validating a file) stops when it goes.
    const clientGone = new AbortController();
    connection.onInitialize((params) => languageFeatures.initialize(params));
    /** A request whose params are an object with these fields. (The cast: TypeScript cannot resolve the library's conditional result type for a generic R.) */
    const onRequest = <P, R>(
      type: RequestType<P, R, protocol.RpcErrorData>,
      fields: NoInfer<ParamFields<P>>,
      handler: (params: P) => R | Promise<R>,
    ): void =>
      void connection.onRequest(
        type,
        handled(objectParams(type.method, fields, handler)) as RequestHandler<P, R, protocol.RpcErrorData>,
      );
    onRequest(
      protocol.BatchCreateRequest.type,
      {
        input_file_id: 'string',
        endpoint: 'string?',
        completion_window: 'string?',
        metadata: 'object?',
        output_expires_after: 'object?',
        options: 'object?',
      },
      (params) => service.createBatch(params),
    );
    onRequest(protocol.BatchListRequest.type, { limit: 'number?', after: 'string?' }, (params) =>
      service.listBatches(params),
    );
    onRequest(protocol.BatchGetRequest.type, { id: 'string' }, ({ id }) => service.getBatch(id));
    onRequest(protocol.BatchCancelRequest.type, { id: 'string' }, ({ id }) => service.cancelBatch(id));
    onRequest(protocol.BatchRetryRequest.type, { id: 'string' }, ({ id }) => service.retryBatch(id));
    onRequest(protocol.BatchResumeRequest.type, { id: 'string' }, ({ id }) => service.resumeBatch(id));
    onRequest(protocol.BatchDeleteRequest.type, { id: 'string' }, ({ id }) => service.deleteBatch(id));
    onRequest(
      protocol.CsvConvertRequest.type,
      {
        input: 'string',
        model: 'string',
        numCtx: 'number?',
        output: 'string?',
        template: 'string?',
        idColumn: 'string?',
        delimiter: 'string?',
        encoding: 'string?',
        keepBadRows: 'boolean?',
        systemPrompt: 'string?',
        temperature: 'number?',
        seed: 'number?',
        maxTokens: 'number?',
        schema: 'object?',
        reasoningEffort: 'string?',
        topLogprobs: 'number?',
        cascade: 'boolean?',
        scoreField: 'string?',
        shortlistShare: 'number?',
      },
      (params) => convertFor(service, params, hooks.modelContextLength),
    );
    onRequest(
      protocol.ResultsAnalyzeRequest.type,
      {
        batch_id: 'string?',
        output: 'string?',
        errors: 'string?',
        input: 'string?',
        source: 'string?',
        idColumn: 'string?',
        encoding: 'string?',
        csv: 'string?',
        neutralise: 'boolean?',
        sortBy: 'string?',
        order: 'string?',
        top: 'number?',
      },
      (params) => analyzeFor(service, params),
    );
    onRequest(protocol.BatchMetricsRequest.type, { id: 'string', series: 'boolean?' }, ({ id, series }) =>
      service.getMetrics(id, series),
    );
    onRequest(protocol.FileRegisterRequest.type, { path: 'string', purpose: 'string?' }, (params) =>
      service.registerFile(params),
    );
    onRequest(protocol.FileGetRequest.type, { id: 'string' }, ({ id }) => {
      const file = service.getFile(id);
      return { ...publicFile(file), path: file.path };
    });
    onRequest(protocol.FileValidateRequest.type, { path: 'string' }, ({ path }) =>
      validateRegularFile(path, clientGone.signal),
    );
    connection.onRequest(
      protocol.DaemonStatusRequest.type,
      handled(() => hooks.info()),
    );
    connection.onRequest(
      protocol.DaemonShutdownRequest.type,
      handled(() => void setImmediate(() => hooks.shutdown())),
    );
    const announce = (batch: Batch): void =>
      void connection.sendNotification(protocol.BatchChangedNotification.type, batch).catch(() => undefined);
    const announceMetrics = (id: string, snapshot: BatchMetricsSnapshot): void =>
      void connection.sendNotification(protocol.BatchMetricsNotification.type, { id, snapshot }).catch(() => undefined);
    service.on('changed', announce);
    service.on('metrics', announceMetrics);
    socket.on('close', () => {
      clientGone.abort();
      sockets.delete(socket);
      connections.delete(connection);
      service.off('changed', announce);
      service.off('metrics', announceMetrics);
      languageFeatures.dispose();
      connection.dispose();
    });
    socket.on('error', () => socket.destroy());
    connection.listen();
  });
  return {
    announceStopping: async (reason) => {
      const sent = Promise.all(
        [...connections].map((connection) =>
          connection.sendNotification(protocol.DaemonStoppingNotification.type, { reason }).catch(() => undefined),
        ),
      );
      // A client that reads nothing (its socket's buffer full) must not hold the daemon up.
      await Promise.race([sent, delay(ANNOUNCE_LIMIT_MS, undefined, { ref: false })]);
    },
    // end, not destroy: answers already written still arrive
    disconnect: () => sockets.forEach((socket) => socket.end()),
  };
}
