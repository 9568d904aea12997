// The settings package.json declares are what VS Code sees, and changing one has its effect:
// `ollamaBatch.dataDir` moves the window to the daemon of the new dir (starting one there).
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import * as vscode from 'vscode';
import { DaemonStatusRequest } from '../../../server/protocol/methods.js';
import { activeExtension, contributes, daemonConnection, dataDir, type SettingDeclaration } from './support.js';

describe('settings', () => {
  it('declares every ollamaBatch.* setting with a description and the default VS Code reports', async () => {
    const sections = [contributes(await activeExtension()).configuration ?? []].flat();
    const properties: Record<string, SettingDeclaration> = Object.assign(
      {},
      ...sections.map((section) => section.properties ?? {}),
    );
    assert.ok(Object.keys(properties).length > 0, 'package.json contributes no settings');
    for (const [key, declared] of Object.entries(properties)) {
      assert.ok(key.startsWith('ollamaBatch.'), `${key} is outside the ollamaBatch section`);
      assert.ok(declared.description || declared.markdownDescription, `${key} has no description`);
      assert.deepEqual(
        vscode.workspace.getConfiguration().inspect(key)?.defaultValue,
        declared.default,
        `${key} default`,
      );
    }
  });

  it('follows ollamaBatch.dataDir to a daemon of the new dir', async () => {
    await activeExtension();
    // Beside the runner's data dir: the runner stops every daemon there once VS Code has exited
    // (stopping it now would race the extension, which restarts a daemon that drops it).
    const other = join(dirname(dataDir()), 'data-other');
    mkdirSync(other, { recursive: true });
    copyFileSync(join(dataDir(), 'config.json'), join(other, 'config.json'));
    const config = vscode.workspace.getConfiguration('ollamaBatch');
    // dataDir is machine-scoped: only the user (global) level may set it.
    await config.update('dataDir', other, vscode.ConfigurationTarget.Global);
    try {
      const connection = await daemonConnection(other);
      try {
        assert.equal((await connection.sendRequest(DaemonStatusRequest.type)).dataDir, other);
      } finally {
        connection.dispose();
      }
    } finally {
      await config.update('dataDir', undefined, vscode.ConfigurationTarget.Global);
    }
  });
});
