// The CLI's access to the daemon: one place that connects, sends, and turns RPC errors into
// one-line messages.
import type { MessageConnection } from 'vscode-jsonrpc';
import { ErrorCodes, ResponseError } from 'vscode-jsonrpc';
import { connectDaemon } from '../rpc/client.js';
import { hint } from '../daemon-access/command-hint.js';

export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
  }
}

export async function requireDaemon(dataDir: string): Promise<MessageConnection> {
  const connection = await connectDaemon(dataDir);
  if (!connection) throw new CliError(`no daemon runs for ${dataDir}; start one with: ${hint(dataDir, 'serve')}`);
  return connection;
}

/**
 * The connection's own failures (a write to a daemon gone, a read cut, a request pending when it
 * closed) come as ResponseErrors too, in JSON-RPC's reserved range; the daemon answers with
 * codes outside it (RpcErrorCodes).
 */
const CONNECTION_FAILURES: readonly number[] = [
  ErrorCodes.MessageWriteError,
  ErrorCodes.MessageReadError,
  ErrorCodes.PendingResponseRejected,
  ErrorCodes.ConnectionInactive,
];

/** Whether the daemon answered the request with an error, as opposed to the connection failing. */
export const isDaemonRefusal = (error: unknown): error is ResponseError<unknown> =>
  error instanceof ResponseError && !CONNECTION_FAILURES.includes(error.code);

/** Sends a request; a daemon error becomes a CliError with the daemon's message. */
export async function call<R>(send: () => Promise<R>): Promise<R> {
  try {
    return await send();
  } catch (error) {
    if (isDaemonRefusal(error)) throw new CliError(error.message);
    if (error instanceof ResponseError) throw new CliError(`lost the daemon's connection (${error.message})`);
    throw error;
  }
}
