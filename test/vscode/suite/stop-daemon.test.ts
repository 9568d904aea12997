// Stop Daemon, as its message promises: a command that needs the daemon starts it again, and in
// between the batch files keep their last diagnostics, validated afresh once the daemon is back.
// A daemon that dies is started again without a command.
import assert from 'node:assert/strict';
import * as vscode from 'vscode';
import { readLock } from '../../../server/daemon-access/local-daemon.js';
import { BROKEN_BATCH, BROKEN_LINES } from '../broken-batch.js';
import { activeExtension, codeOf, dataDir, diagnosticsWith, whenInDir, within, workspaceFolder } from './support.js';

/** Resolves once a daemon other than `pid` holds the data dir. */
function newDaemon(pid: number): Promise<number> {
  return within(
    60_000,
    'a new daemon in the data dir',
    whenInDir(dataDir(), () => {
      const holder = readLock(dataDir())?.pid;
      return holder !== undefined && holder !== pid ? holder : undefined;
    }),
  );
}

describe('a daemon stopped or gone', () => {
  const codes = Object.keys(BROKEN_LINES);
  /** The line the test breaks while the daemon is stopped (the file's last, empty, line). */
  const brokenLater = BROKEN_BATCH.split('\n').length - 1;

  it('keeps the diagnostics, and a command that needs the daemon starts it and validates the file again', async () => {
    await activeExtension();
    const uri = vscode.Uri.joinPath(workspaceFolder(), 'stopped.jsonl');
    await vscode.workspace.fs.writeFile(uri, new TextEncoder().encode(BROKEN_BATCH));
    const published = diagnosticsWith(uri, codes);
    const editor = await vscode.window.showTextDocument(uri);
    await within(60_000, `diagnostics ${codes.join(', ')} for ${uri.fsPath}`, published);
    const pid = readLock(dataDir())?.pid;
    assert.ok(pid, 'no daemon holds the data dir');

    await vscode.commands.executeCommand('ollamaBatch.stopDaemon');
    assert.notEqual(readLock(dataDir())?.pid, pid, 'the daemon still holds the data dir');
    assert.deepEqual(
      codes.filter((code) => !vscode.languages.getDiagnostics(uri).some((found) => codeOf(found) === code)),
      [],
      'diagnostics gone with the daemon',
    );

    // An edit no daemon has seen: only a fresh validation can mark it.
    await editor.edit((edit) => edit.insert(new vscode.Position(brokenLater, 0), 'not json\n'));
    const validated = diagnosticsWith(uri, codes, (found) =>
      found.some(
        (diagnostic) => codeOf(diagnostic) === 'invalid_json_line' && diagnostic.range.start.line === brokenLater,
      ),
    );
    // Not awaited: it ends in a toast that waits for a click.
    void vscode.commands.executeCommand('ollamaBatch.validateBatchFile', uri);
    await newDaemon(pid);
    await within(60_000, `invalid_json_line on line ${brokenLater + 1} of ${uri.fsPath}`, validated);
  });

  it('starts a new daemon when the one it was connected to dies', async () => {
    await activeExtension();
    const pid = readLock(dataDir())?.pid;
    assert.ok(pid, 'no daemon holds the data dir');
    process.kill(pid, 'SIGKILL');
    await newDaemon(pid);
  });
});
