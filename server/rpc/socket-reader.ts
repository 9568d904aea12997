// vscode-jsonrpc's socket reader, for both ends of the daemon's socket (the daemon's clients and
// the CLI's connection), without its partial-message timer: nothing here listens for
// partial-message events, and the library re-arms that timer every 10 s forever once a message is
// cut short (a peer that exits mid-write), even after the socket closed and the reader was
// disposed. It kept a stopped daemon running, and `stop` running after its work was done.
import type { Socket } from 'node:net';
import { SocketMessageReader } from 'vscode-jsonrpc/node';

export class SocketReader extends SocketMessageReader {
  constructor(socket: Socket) {
    super(socket);
    this.partialMessageTimeout = 0;
  }
}
