// What the extension says when the daemon it starts cannot start: one sentence in the extension's
// words (its settings, not the CLI's flags), and the ways out it offers. No stack: the log has it.
import {
  DaemonExitedError,
  EXIT_ENGINE_MISSING,
  EXIT_HTTP_PORT_IN_USE,
} from '../../server/daemon-access/local-daemon.js';

/** A way out, offered as a button. */
export type StartFix = 'useAnyFreePort' | 'installEmbeddedEngine' | 'showDaemonLog' | 'openSettings';

export interface StartFailure {
  message: string;
  fixes: StartFix[];
}

/** How the CLI begins the one line it prints for a failure it foresaw (server/cli/main.ts). */
const CLI_PREFIX = 'ollama-batch: ';

export function startFailure(error: unknown): StartFailure {
  if (error instanceof DaemonExitedError && error.exitCode === EXIT_HTTP_PORT_IN_USE)
    return {
      message:
        'Ollama Batch: the daemon could not start because its HTTP port (setting ollamaBatch.httpPort) is in use by another program, perhaps another ollama-batch daemon.',
      fixes: ['useAnyFreePort', 'showDaemonLog'],
    };
  if (error instanceof DaemonExitedError && error.exitCode === EXIT_ENGINE_MISSING)
    return {
      message:
        'Ollama Batch: the llama-cpp engine needs node-llama-cpp, which is not installed: install it with npm (about 85 MB), or choose another engine (setting ollamaBatch.engine).',
      fixes: ['installEmbeddedEngine', 'openSettings'],
    };
  // Another exit: the daemon's own sentence when it printed one, else (a crash) only its log can tell.
  const said =
    error instanceof DaemonExitedError
      ? error.lastLine?.startsWith(CLI_PREFIX) && error.lastLine.slice(CLI_PREFIX.length)
      : error instanceof Error && error.message;
  return {
    message: `Ollama Batch: the daemon could not start${said ? `: ${said.replace(/\.$/, '')}` : '; its log says why'}.`,
    fixes: ['showDaemonLog', 'openSettings'],
  };
}
