// The CLI's connection to the daemon: a JSON-RPC connection over the socket that
// daemon-access/local-daemon.ts finds (or starts).
import type { Socket } from 'node:net';
import { createMessageConnection, type MessageConnection } from 'vscode-jsonrpc';
import { SocketMessageWriter } from 'vscode-jsonrpc/node';
import { connectOrStartDaemon, connectSocket, type ServeCommand } from '../daemon-access/local-daemon.js';
import { SocketReader } from './socket-reader.js';

function jsonRpc(socket: Socket): MessageConnection {
  const connection = createMessageConnection(new SocketReader(socket), new SocketMessageWriter(socket));
  connection.listen();
  return connection;
}

/** A connection to the daemon of this data dir, or null when none runs. */
export async function connectDaemon(dataDir: string): Promise<MessageConnection | null> {
  const socket = await connectSocket(dataDir);
  return socket && jsonRpc(socket);
}

/** This same CLI's `serve`, with these arguments after `serve --data-dir D`. */
export function thisCliServe(serveArgs: string[], env: NodeJS.ProcessEnv): ServeCommand {
  return { execPath: process.execPath, args: [...process.execArgv, process.argv[1]!], serveArgs, env };
}

/** Connects to the running daemon, starting this same CLI's `serve` detached when none runs. */
export async function ensureDaemon(
  dataDir: string,
  serveArgs: string[],
  env: NodeJS.ProcessEnv,
): Promise<{ connection: MessageConnection; started: boolean }> {
  const { socket, started } = await connectOrStartDaemon(dataDir, thisCliServe(serveArgs, env));
  return { connection: jsonRpc(socket), started };
}
