// `ollama-batch serve`: the daemon in the foreground, until SIGINT/SIGTERM or a shutdown request.
import { loadConfig } from '../daemon/config.js';
import { startDaemon } from '../daemon/daemon.js';
import { DaemonRunningError } from '../daemon/lock.js';
import { log } from '../daemon/log.js';
import { READY_LINE } from '../protocol/daemon-access.js';
import { CliError } from './daemon-connection.js';
import { configFlags, dataDirOf, type EngineFlags } from './options.js';

export async function serve(flags: EngineFlags): Promise<void> {
  const dataDir = dataDirOf(flags);
  let config;
  try {
    config = loadConfig(dataDir, configFlags(flags));
  } catch (error) {
    throw new CliError((error as Error).message);
  }
  const daemon = await startDaemon(config).catch((error: Error) => {
    throw error instanceof DaemonRunningError ? new CliError(error.message) : error;
  });
  // A client that started us detached reads this line, then closes the pipe.
  process.stdout.on('error', () => undefined);
  process.stdout.write(`${READY_LINE} on ${daemon.socket} (engine ${daemon.engine.name})\n`);
  const stop = (signal: string): void => {
    log('info', `${signal} received`);
    void daemon.close();
  };
  process.once('SIGINT', () => stop('SIGINT'));
  process.once('SIGTERM', () => stop('SIGTERM'));
  await daemon.stopped;
}
