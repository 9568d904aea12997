// `ollama-batch status` (and `list`), `cancel`, `retry`, `resume`, `delete`, `clear` and `stop`: questions and orders for the
// daemon. `status` answers without one too, from the data dir's db.json.
import * as protocol from '../protocol/methods.js';
import { TERMINAL_STATUSES, type Batch } from '../protocol/openai.js';
import { engineLines } from '../display/endpoint-lines.js';
import { gpuLines } from '../display/gpu-lines.js';
import { connectDaemon } from '../rpc/client.js';
import { readStoreFile } from '../store/store.js';
import { batchDetails, batchLine } from './format.js';
import { CliError, call, requireDaemon } from './daemon-connection.js';
import { hint } from '../daemon-access/command-hint.js';

const LIST_LIMIT = 100;

export async function status(id: string | undefined, flags: { dataDir: string; json?: boolean }): Promise<void> {
  const connection = await connectDaemon(flags.dataDir);
  if (!connection) return offlineStatus(id, flags);
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
      call(() => connection.sendRequest(protocol.BatchListRequest.type, { limit: LIST_LIMIT })),
    ]);
    if (flags.json) return console.log(JSON.stringify({ daemon: info, batches: list.data }, null, 2));
    console.log(
      [
        `daemon pid ${info.pid}, version ${info.version}, data ${info.dataDir}`,
        `HTTP API ${info.http}/v1`,
        ...engineLines(info),
        ...gpuLines(info.gpu),
      ].join('\n'),
    );
    console.log(list.data.length === 0 ? 'no batches' : list.data.map(batchLine).join('\n'));
  } finally {
    connection.dispose();
  }
}

/** `status` with no daemon: the batches as db.json last recorded them, read-only. */
function offlineStatus(id: string | undefined, flags: { dataDir: string; json?: boolean }): void {
  let stored;
  try {
    stored = readStoreFile(flags.dataDir);
  } catch (error) {
    throw new CliError(
      `no daemon runs for ${flags.dataDir}, and its db.json cannot be read: ${(error as Error).message}`,
    );
  }
  // Newest first, as the daemon lists them.
  const batches: Batch[] = (stored?.batches ?? []).map((entry) => entry.batch).reverse();
  const notRunning = `no daemon runs for ${flags.dataDir}; these are its batches as it left them; start it with: ${hint(flags.dataDir, 'serve --detach')}`;
  if (id) {
    const batch = batches.find((each) => each.id === id);
    if (!batch)
      throw new CliError(
        `No batch with id ${JSON.stringify(id)} (no daemon runs for ${flags.dataDir}; read from its db.json)`,
      );
    const path = (fileId: string | null): string | undefined => stored?.files?.find((file) => file.id === fileId)?.path;
    if (flags.json) return console.log(JSON.stringify(batch, null, 2));
    console.error(notRunning);
    console.log(batchDetails(batch, { output: path(batch.output_file_id), error: path(batch.error_file_id) }));
    return;
  }
  const shown = batches.slice(0, LIST_LIMIT);
  if (flags.json) return console.log(JSON.stringify({ daemon: null, batches: shown }, null, 2));
  console.error(notRunning);
  console.log(shown.length === 0 ? 'no batches' : shown.map(batchLine).join('\n'));
}

/** `cancel ID`, `retry ID` and `resume ID`: one order about a batch, answered with a batch. */
export async function order(
  method:
    | typeof protocol.BatchCancelRequest.type
    | typeof protocol.BatchRetryRequest.type
    | typeof protocol.BatchResumeRequest.type,
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

/** `delete ID`: forgets an ended batch, with its files that no other batch uses. */
export async function deleteBatch(id: string, flags: { dataDir: string; json?: boolean }): Promise<void> {
  const connection = await requireDaemon(flags.dataDir);
  try {
    const deleted = await call(() => connection.sendRequest(protocol.BatchDeleteRequest.type, { id }));
    console.log(flags.json ? JSON.stringify(deleted, null, 2) : `deleted ${id}`);
  } finally {
    connection.dispose();
  }
}

/** `clear`: deletes every batch that has ended; without --yes it only says which it would. */
export async function clearFinished(flags: { dataDir: string; json?: boolean; yes?: boolean }): Promise<void> {
  const connection = await requireDaemon(flags.dataDir);
  try {
    const finished: Batch[] = [];
    let after: string | undefined;
    for (;;) {
      const page = await call(() =>
        connection.sendRequest(protocol.BatchListRequest.type, { limit: LIST_LIMIT, ...(after && { after }) }),
      );
      finished.push(...page.data.filter((batch) => TERMINAL_STATUSES.includes(batch.status)));
      if (!page.has_more || !page.last_id) break;
      after = page.last_id;
    }
    if (!flags.yes) {
      if (finished.length === 0) return console.log('no finished batches');
      throw new CliError(
        `would delete ${finished.length} finished batch${finished.length === 1 ? '' : 'es'} with their files:\n${finished.map(batchLine).join('\n')}\nrun again with --yes to delete them`,
      );
    }
    const deleted = [];
    for (const batch of finished)
      deleted.push(await call(() => connection.sendRequest(protocol.BatchDeleteRequest.type, { id: batch.id })));
    console.log(
      flags.json
        ? JSON.stringify(deleted, null, 2)
        : `deleted ${deleted.length} finished batch${deleted.length === 1 ? '' : 'es'}`,
    );
  } finally {
    connection.dispose();
  }
}
