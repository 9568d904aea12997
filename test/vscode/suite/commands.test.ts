// Every command package.json contributes is registered once the extension is active.
import assert from 'node:assert/strict';
import * as vscode from 'vscode';
import { activeExtension, contributes } from './support.js';

describe('commands', () => {
  it('registers every contributed ollamaBatch.* command', async () => {
    const contributed = (contributes(await activeExtension()).commands ?? []).map(({ command }) => command);
    assert.ok(contributed.length > 0, 'package.json contributes no commands');
    const registered = new Set(await vscode.commands.getCommands(true));
    assert.deepEqual(
      contributed.filter((id) => !registered.has(id)),
      [],
      'contributed but not registered',
    );
  });
});
