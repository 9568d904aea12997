// The extension activates in a real VS Code and starts its daemon in the scratch data dir, with
// the engine that dir's config.json selects: the real llama-cpp engine on the tiny model.
import assert from 'node:assert/strict';
import type { MessageConnection } from 'vscode-jsonrpc';
import { DaemonStatusRequest } from '../../../server/protocol/methods.js';
import { activeExtension, daemonConnection, dataDir } from './support.js';

describe('activation', () => {
  let connection: MessageConnection | undefined;
  after(() => connection?.dispose());

  it('activates', async () => {
    const extension = await activeExtension();
    assert.equal(extension.isActive, true);
  });

  it('starts the daemon in OLLAMA_BATCH_HOME with the llama-cpp engine', async () => {
    await activeExtension();
    connection = await daemonConnection(dataDir());
    const info = await connection.sendRequest(DaemonStatusRequest.type);
    assert.equal(info.dataDir, dataDir());
    assert.equal(info.engine.name, 'llama-cpp');
    assert.deepEqual(info.engine.models, ['tiny']);
  });
});
