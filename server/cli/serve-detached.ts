// `ollama-batch serve --detach`: the daemon in the background, started as `run` starts it;
// returns once it is ready and says where it is.
import { daemonLogPath, startDetachedDaemon } from '../daemon-access/local-daemon.js';
import * as protocol from '../protocol/methods.js';
import { connectDaemon, thisCliServe } from '../rpc/client.js';
import { CliError, call, requireDaemon } from './daemon-connection.js';
import { hint } from '../daemon-access/command-hint.js';
import { secretEnv, serveArgs } from '../config/serve-args.js';
import { dataDirOf, settingsOf } from './options.js';

export async function serveDetached(flags: Record<string, unknown> & { dataDir?: string }): Promise<void> {
  const dataDir = dataDirOf(flags);
  const settings = settingsOf(flags);
  const running = await connectDaemon(dataDir);
  if (running) {
    const info = await call(() => running.sendRequest(protocol.DaemonStatusRequest.type)).finally(() =>
      running.dispose(),
    );
    throw new CliError(
      `a daemon already runs for ${dataDir} (pid ${info.pid}, HTTP ${info.http}); stop it first with: ${hint(dataDir, 'stop')}`,
    );
  }
  await startDetachedDaemon(
    dataDir,
    thisCliServe(serveArgs(settings), { ...process.env, ...secretEnv(settings) }),
  ).catch((error: Error) => {
    throw new CliError(error.message);
  });
  const connection = await requireDaemon(dataDir);
  try {
    const info = await call(() => connection.sendRequest(protocol.DaemonStatusRequest.type));
    console.log(
      `daemon started: pid ${info.pid}, HTTP ${info.http}/v1, log ${daemonLogPath(dataDir)}; stop it with: ${hint(dataDir, 'stop')}`,
    );
  } finally {
    connection.dispose();
  }
}
