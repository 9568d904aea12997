// DESIGN.md's import rules at the protocol's edges, checked on the source: server/protocol is a
// leaf (plain data and JSON-RPC method declarations, importing nothing of the daemon's code), and
// the extension reaches server/ only through the modules meant for clients. Type-only imports
// count: a type taken from the daemon's modules ties the wire to their internals.
import assert from 'node:assert/strict';
import { importsOfSource, importsUnder, type Import } from '../support/imports.js';

/** What a protocol file may import: vscode-jsonrpc and the other protocol files. */
const protocolBreaks = (imports: Import[]): string[] =>
  imports
    .filter(({ specifier, target }) =>
      target === null ? specifier !== 'vscode-jsonrpc' : !target.startsWith('server/protocol/'),
    )
    .map(({ file, specifier }) => `${file} imports ${specifier}`);

/** The server/ folders the extension may import. */
const FOR_CLIENTS = ['protocol', 'display', 'daemon-access', 'config', 'common'].map((folder) => `server/${folder}/`);

const clientBreaks = (imports: Import[]): string[] =>
  imports
    .filter(({ target }) => target?.startsWith('server/') && !FOR_CLIENTS.some((folder) => target.startsWith(folder)))
    .map(({ file, target }) => `${file} imports ${target}`);

describe('the protocol is a leaf', () => {
  it('server/protocol/ imports nothing but vscode-jsonrpc and itself', () => {
    const imports = importsUnder('server/protocol');
    assert.ok(
      imports.some(({ specifier }) => specifier === 'vscode-jsonrpc'),
      'the scan found no import of vscode-jsonrpc',
    );
    assert.deepEqual(protocolBreaks(imports), []);
  });

  it('client/ imports server/ only through protocol, display, daemon-access, config (the settings table) and common', () => {
    const imports = importsUnder('client');
    assert.ok(
      imports.some(({ target }) => target?.startsWith('server/protocol/')),
      'the scan found no import of the protocol module',
    );
    assert.deepEqual(clientBreaks(imports), []);
  });

  it('the rules see type-only imports, re-exports and packages', () => {
    const protocolFile = importsOfSource(
      'server/protocol/methods.ts',
      "import type { Batch } from './openai.js';\nimport type { ServiceErrorCode } from '../batches/errors.js';\nexport { readLines } from '../jsonl/lines.js';\nimport envPaths from 'env-paths';\n",
    );
    assert.deepEqual(protocolBreaks(protocolFile), [
      'server/protocol/methods.ts imports ../batches/errors.js',
      'server/protocol/methods.ts imports ../jsonl/lines.js',
      'server/protocol/methods.ts imports env-paths',
    ]);
    const clientFile = importsOfSource(
      'client/model/format.ts',
      "import type { Batch } from '../../server/protocol/openai.js';\nimport type { BatchMetricsSnapshot } from '../../server/metrics/batch-metrics.js';\nexport { gpuLines } from '../../server/display/gpu-lines.js';\n",
    );
    assert.deepEqual(clientBreaks(clientFile), ['client/model/format.ts imports server/metrics/batch-metrics.js']);
  });
});
