// The daemon's start failures as the extension words them: the taken HTTP port known by the
// daemon's exit code whatever its log says, offered a free port in the setting's name, never the
// CLI's flag; other failures in one sentence, with no stack.
import assert from 'node:assert/strict';
import {
  DaemonExitedError,
  EXIT_ENGINE_MISSING,
  EXIT_HTTP_PORT_IN_USE,
} from '../../server/daemon-access/local-daemon.js';
import { startFailure } from '../../client/model/start-failure.js';

const LOG = '/data/daemon.log';

describe('start failures', () => {
  it('a taken HTTP port: any free port, named by its setting', () => {
    const failure = startFailure(
      new DaemonExitedError(
        EXIT_HTTP_PORT_IN_USE,
        'ollama-batch: HTTP port 11435 on 127.0.0.1 is in use (another ollama-batch daemon?); choose another with --port, or 0 for any free port',
        LOG,
      ),
    );
    assert.deepEqual(failure.fixes, ['useAnyFreePort', 'showDaemonLog']);
    assert.match(failure.message, /ollamaBatch\.httpPort/);
    assert.doesNotMatch(failure.message, /--port/);
  });

  it('the port is told by the exit code, not by the words of the log', () => {
    assert.ok(startFailure(new DaemonExitedError(EXIT_HTTP_PORT_IN_USE, null, LOG)).fixes.includes('useAnyFreePort'));
    const other = startFailure(new DaemonExitedError(1, 'ollama-batch: HTTP port 11435 is in use', LOG));
    assert.ok(!other.fixes.includes('useAnyFreePort'));
  });

  it('node-llama-cpp missing, told by the exit code: Install Embedded Engine, or another engine', () => {
    const failure = startFailure(
      new DaemonExitedError(EXIT_ENGINE_MISSING, 'ollama-batch: the llama-cpp engine needs node-llama-cpp', LOG),
    );
    assert.deepEqual(failure.fixes, ['installEmbeddedEngine', 'openSettings']);
    assert.match(failure.message, /install it with npm .*ollamaBatch\.engine/);
    assert.ok(!startFailure(new DaemonExitedError(1, null, LOG)).fixes.includes('installEmbeddedEngine'));
  });

  it('another failure the daemon foresaw: its sentence, and its log', () => {
    const failure = startFailure(new DaemonExitedError(1, 'ollama-batch: db.json is not readable.', LOG));
    assert.equal(failure.message, 'Ollama Batch: the daemon could not start: db.json is not readable.');
    assert.deepEqual(failure.fixes, ['showDaemonLog', 'openSettings']);
  });

  it('a crash: no stack line, the log says why', () => {
    const failure = startFailure(new DaemonExitedError(1, '    at main (file:///x/dist/cli.mjs:12:34)', LOG));
    assert.equal(failure.message, 'Ollama Batch: the daemon could not start; its log says why.');
  });

  it('a failure before the daemon ran: its message alone', () => {
    const error = new Error("EACCES: permission denied, mkdir '/data'");
    assert.equal(
      startFailure(error).message,
      "Ollama Batch: the daemon could not start: EACCES: permission denied, mkdir '/data'.",
    );
    assert.doesNotMatch(startFailure(error).message, /\n/);
  });
});
