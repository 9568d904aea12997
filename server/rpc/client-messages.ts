// One socket client's messages, read and written with vscode-jsonrpc, with answers for what its
// reader leaves unanswered: bytes it cannot read as a message are only reported to listeners (and
// the reader then waits for a header that never comes), and a message that is no JSON-RPC message
// is only logged. Here a frame that is not JSON or not framed right closes the connection (where
// the next message starts is unknown), and a JSON value that is no message gets an invalid request.
import type { Socket } from 'node:net';
import {
  ErrorCodes,
  Message,
  type DataCallback,
  type Disposable,
  type MessageReader,
  type MessageWriter,
  type ResponseMessage,
} from 'vscode-languageserver';
import { SocketMessageWriter } from 'vscode-languageserver/node';
import { log } from '../log/log.js';
import { SocketReader } from './socket-reader.js';

/** Passes on only JSON-RPC messages; anything else goes to `refuse`. */
class MessageOnlyReader extends SocketReader {
  constructor(
    socket: Socket,
    private readonly refuse: (value: unknown) => void,
  ) {
    super(socket);
  }

  override listen(callback: DataCallback): Disposable {
    return super.listen((message) =>
      Message.isRequest(message) || Message.isNotification(message) || Message.isResponse(message)
        ? callback(message)
        : this.refuse(message),
    );
  }
}

/** The reader and writer of a socket client's connection. */
export function clientMessages(socket: Socket): { reader: MessageReader; writer: MessageWriter } {
  const writer = new SocketMessageWriter(socket);
  // Without an id that can be read, an error answer's id is null (JSON-RPC 2.0, section 5).
  const answerError = (code: number, message: string): Promise<void> => {
    const answer: ResponseMessage = { jsonrpc: '2.0', id: null, error: { code, message } };
    return writer.write(answer);
  };
  const reader = new MessageOnlyReader(socket, (value) => {
    const sent = Array.isArray(value)
      ? 'a JSON array (a batch, which the daemon does not take)'
      : JSON.stringify(value).slice(0, 80);
    void answerError(
      ErrorCodes.InvalidRequest,
      `${sent} is not a JSON-RPC request, notification or response (one a frame, with a string or number id)`,
    ).catch(() => undefined);
  });
  reader.onError((error) => {
    // A client that left while the daemon wrote to it (the CLI after `stop`, as the daemon's
    // batches change while it stops) is no problem to log.
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EPIPE' || code === 'ECONNRESET') return void socket.destroy();
    // A body that is not JSON (the decoder's SyntaxError) can still be answered; a broken header cannot.
    const notJson = error instanceof SyntaxError;
    const problem = `${notJson ? 'not JSON: ' : ''}${error.message.split('\n', 1)[0]}`;
    log('warn', `client connection: ${problem}; closing it`);
    const answered = notJson ? answerError(ErrorCodes.ParseError, problem) : Promise.resolve();
    void answered.catch(() => undefined).finally(() => socket.destroy());
  });
  return { reader, writer };
}
