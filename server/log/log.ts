// The daemon's log: timestamped lines on stderr (which `run` points at daemon.log when it starts
// a detached daemon), and in a file too when stderr is not already that file (`serve` in the
// foreground). A folder of its own, below the transports that write to it.
import { openSync, writeSync } from 'node:fs';

export type LogLevel = 'info' | 'warn' | 'error';

let logFile: number | null = null;

/** Writes every later line to this file as well (appended; made 0600, the data dir's files are its user's alone). */
export function logAlsoTo(path: string): void {
  logFile = openSync(path, 'a', 0o600);
}

export function log(level: LogLevel, message: string): void {
  const line = `${new Date().toISOString()} ${level.padEnd(5)} ${message}\n`;
  process.stderr.write(line);
  // Synchronous, as lines are few and must survive the process's end.
  if (logFile !== null) writeSync(logFile, line);
}
