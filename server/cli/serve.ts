// `ollama-batch serve`: the daemon in the foreground, until SIGINT/SIGTERM or a shutdown request.
import { fstatSync, mkdirSync, statSync } from 'node:fs';
import { setFlagsFromString } from 'node:v8';
import { DaemonStartError, startDaemon } from '../daemon/daemon.js';
import { DaemonRunningError } from '../daemon/lock.js';
import { log, logAlsoTo } from '../log/log.js';
import { daemonLogPath, READY_LINE } from '../daemon-access/local-daemon.js';
import { CliError } from './daemon-connection.js';
import { dataDirOf, settingsOf } from './options.js';
import { rememberSettings } from './run-settings.js';

export async function serve(flags: Record<string, unknown> & { dataDir?: string }): Promise<void> {
  // Each request's objects outlive a young-generation GC while it is in flight, so they reach
  // the old generation as garbage; V8 then raises the old-generation limit the longer a batch
  // runs (peak RSS 118 MB at 10,000 lines, 166 MB at 100,000, with 14 MB live after every full
  // GC). Growing the limit by at most 2x the live heap keeps RSS flat at no measured CPU cost.
  // V8 reads this flag at every GC, so setting it now takes effect.
  setFlagsFromString('--heap-growing-percent=100');
  const dataDir = dataDirOf(flags);
  const settings = settingsOf(flags);
  const config = rememberSettings(dataDir, settings);
  writeLogFile(dataDir);
  // A stderr whose reader is gone (a closed terminal, a parent that exited) fails each write: as an
  // uncaught exception, logged to stderr again, that looped without end, filling daemon.log. The
  // log file still gets every line.
  process.stderr.on('error', () => undefined);
  const daemon = await startDaemon(config).catch((error: Error) => {
    if (error instanceof DaemonStartError) throw new CliError(error.message, error.exitCode);
    throw error instanceof DaemonRunningError ? new CliError(error.message) : error;
  });
  // The last resort: every background task catches its own failure and fails its batch, so what
  // arrives here escaped a bug. A daemon that owns a 12-hour job logs it and goes on serving;
  // exiting would only restart into the same state.
  process.on('unhandledRejection', (reason) =>
    log('error', `unhandled rejection (the daemon goes on): ${describe(reason)}`),
  );
  process.on('uncaughtException', (error) =>
    log('error', `uncaught exception (the daemon goes on): ${describe(error)}`),
  );
  // A client that started us detached reads this line, then closes the pipe.
  process.stdout.on('error', () => undefined);
  process.stdout.write(`${READY_LINE} on ${daemon.socket}, HTTP ${daemon.httpUrl} (engine ${daemon.engine.name})\n`);
  const stop = (signal: string): void => {
    log('info', `${signal} received`);
    void daemon.close(`${signal} received`);
  };
  process.once('SIGINT', () => stop('SIGINT'));
  process.once('SIGTERM', () => stop('SIGTERM'));
  await daemon.stopped;
  // Stopped means gone: no timer a library left behind may keep the process running. Exit once
  // the log has been written out.
  await new Promise<void>((resolve) => process.stderr.write('', () => resolve()));
  process.exit(process.exitCode ?? 0);
}

/** daemon.log gets every line, in the foreground too; started detached, stderr already is that file. */
function writeLogFile(dataDir: string): void {
  const path = daemonLogPath(dataDir);
  const stderr = fstatSync(process.stderr.fd);
  const file = statSync(path, { throwIfNoEntry: false });
  if (file && file.dev === stderr.dev && file.ino === stderr.ino) return;
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  logAlsoTo(path);
}

const describe = (error: unknown): string => (error instanceof Error ? (error.stack ?? error.message) : String(error));
