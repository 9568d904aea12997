// The daemon's log: timestamped lines on stderr (which `run` points at daemon.log when it starts
// a detached daemon). A folder of its own, below the transports that write to it.
export type LogLevel = 'info' | 'warn' | 'error';

export function log(level: LogLevel, message: string): void {
  process.stderr.write(`${new Date().toISOString()} ${level.padEnd(5)} ${message}\n`);
}
