// `ollama-batch status`, `cancel`, `retry` and `stop`: questions and orders for a running daemon.
import * as protocol from '../protocol/methods.js';
import { gpuLines } from '../display/gpu-lines.js';
import { batchDetails, batchLine } from './format.js';
import { call, requireDaemon } from './daemon-connection.js';

export async function status(id: string | undefined, flags: { dataDir: string; json?: boolean }): Promise<void> {
  const connection = await requireDaemon(flags.dataDir);
  try {
    if (id) {
      const batch = await call(() => connection.sendRequest(protocol.BatchGetRequest.type, { id }));
      const [output, error] = await Promise.all(
        [batch.output_file_id, batch.error_file_id].map(async (fileId) =>
          fileId
            ? (await call(() => connection.sendRequest(protocol.FileGetRequest.type, { id: fileId }))).path
            : undefined,
        ),
      );
      console.log(flags.json ? JSON.stringify(batch, null, 2) : batchDetails(batch, { output, error }));
      return;
    }
    const [info, list] = await Promise.all([
      call(() => connection.sendRequest(protocol.DaemonStatusRequest.type)),
      call(() => connection.sendRequest(protocol.BatchListRequest.type, { limit: 100 })),
    ]);
    if (flags.json) return console.log(JSON.stringify({ daemon: info, batches: list.data }, null, 2));
    const engine = `${info.engine.name}${info.engine.url ? ` at ${info.engine.url}` : ''} (${info.engine.up ? `up; models: ${info.engine.models.join(', ') || 'none'}` : 'not answering'})`;
    console.log(
      `daemon pid ${info.pid}, version ${info.version}, data ${info.dataDir}\nHTTP API ${info.http}/v1\nengine ${engine}\n${gpuLines(info.gpu).join('\n')}`,
    );
    console.log(list.data.length === 0 ? 'no batches' : list.data.map(batchLine).join('\n'));
  } finally {
    connection.dispose();
  }
}

/** `cancel ID` and `retry ID`: one order about a batch, answered with a batch. */
export async function order(
  method: typeof protocol.BatchCancelRequest.type | typeof protocol.BatchRetryRequest.type,
  id: string,
  flags: { dataDir: string; json?: boolean },
): Promise<void> {
  const connection = await requireDaemon(flags.dataDir);
  try {
    const batch = await call(() => connection.sendRequest(method, { id }));
    console.log(flags.json ? JSON.stringify(batch, null, 2) : batchLine(batch));
  } finally {
    connection.dispose();
  }
}

export async function stopDaemon(flags: { dataDir: string }): Promise<void> {
  const connection = await requireDaemon(flags.dataDir);
  try {
    // The daemon may close the connection before its answer arrives: either means it stops.
    const closed = new Promise<void>((resolve) => connection.onClose(() => resolve()));
    await Promise.race([call(() => connection.sendRequest(protocol.DaemonShutdownRequest.type)), closed]);
    console.log('daemon stopping; running batches resume at its next start');
  } finally {
    connection.dispose();
  }
}
