// The CLI's access to the daemon: one place that connects, sends, and turns RPC errors into
// one-line messages.
import type { MessageConnection } from 'vscode-jsonrpc';
import { ResponseError } from 'vscode-jsonrpc';
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

/** Sends a request; a daemon error becomes a CliError with the daemon's message. */
export async function call<R>(send: () => Promise<R>): Promise<R> {
  try {
    return await send();
  } catch (error) {
    if (error instanceof ResponseError) throw new CliError(error.message);
    throw error;
  }
}
