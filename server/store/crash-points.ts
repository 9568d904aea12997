// Test-only: with OLLAMA_BATCH_CRASH_AT=N the daemon kills itself (SIGKILL, as a power cut or the
// OOM killer would) at the Nth durable write, so a test can prove that dying at each one of them
// in turn loses nothing. Unset, as for every user, it does nothing.
const crashAt = Number(process.env.OLLAMA_BATCH_CRASH_AT ?? 0);
let reached = 0;

/** Marks a point where the data dir has just changed (or is about to): a place to die at. */
export function durablePoint(what: string): void {
  if (crashAt <= 0 || ++reached !== crashAt) return;
  process.stderr.write(`crash point ${reached}: ${what}\n`);
  process.kill(process.pid, 'SIGKILL');
}
