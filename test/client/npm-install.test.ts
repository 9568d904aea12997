// Install Embedded Engine's npm run: the real npm (from its cache, as after `npm ci`) installs a
// folder the daemon's resolution finds node-llama-cpp in; a stand-in npm on the PATH shows what the
// user is told when npm is missing or fails, and that a cancelled install leaves nothing behind.
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { NPM_MISSING, npmInstall, type Cancellation } from '../../client/model/npm-install.js';
import { nodeLlamaCppEntry } from '../../server/engines/node-llama-cpp-module.js';
import { tempDir } from '../support/batch-files.js';

const VERSION = (
  JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
    dependencies: Record<string, string>;
  }
).dependencies['node-llama-cpp']!;

/** A token the test cancels by hand. */
function cancellation(): Cancellation & { cancel(): void } {
  let listener: (() => void) | undefined;
  const token = {
    isCancellationRequested: false,
    onCancellationRequested(callback: () => void) {
      listener = callback;
      return { dispose: () => (listener = undefined) };
    },
    cancel() {
      token.isCancellationRequested = true;
      listener?.();
    },
  };
  return token;
}

const lines: string[] = [];
/** The extension's log, kept in `lines`; `onLine` sees each line as it comes. */
const logTo = (onLine: (line: string) => void = () => undefined) => ({
  info: (line: string) => {
    lines.push(line);
    onLine(line);
  },
  warn: (line: string) => lines.push(line),
});
const log = logTo();

/** Runs `body` with PATH holding only a folder with this `npm` script (none when null). */
async function withNpm<T>(script: string | null, body: () => Promise<T>): Promise<T> {
  const bin = tempDir();
  if (script !== null) {
    writeFileSync(join(bin, 'npm'), `#!/bin/sh\n${script}\n`);
    chmodSync(join(bin, 'npm'), 0o755);
  }
  const path = process.env.PATH;
  process.env.PATH = bin;
  try {
    return await body();
  } finally {
    process.env.PATH = path;
  }
}

describe('installing the embedded engine with npm', function () {
  this.timeout(300_000);
  beforeEach(() => (lines.length = 0));

  it('installs node-llama-cpp where the daemon finds it, and removes the install of another version', async () => {
    const storage = tempDir();
    mkdirSync(join(storage, 'node-llama-cpp-0.0.1'));
    const folder = join(storage, `node-llama-cpp-${VERSION}`);
    assert.equal(await npmInstall(folder, VERSION, log, cancellation()), true, lines.join('\n'));
    assert.deepEqual(readdirSync(storage), [`node-llama-cpp-${VERSION}`]);
    // Resolved from the folder alone: the package root given has no node_modules.
    const entry = nodeLlamaCppEntry(folder, tempDir());
    assert.ok(entry.startsWith(join(folder, 'node_modules', 'node-llama-cpp')), entry);
    // Its CPU build only: none of the GPU builds npm would add.
    const builds = readdirSync(join(folder, 'node_modules', '@node-llama-cpp'));
    assert.equal(builds.length, 1, builds.join(', '));
    assert.doesNotMatch(builds[0]!, /cuda|vulkan/);
  });

  it('says to install Node.js when there is no npm on the PATH', async () => {
    const folder = join(tempDir(), `node-llama-cpp-${VERSION}`);
    await withNpm(null, () =>
      assert.rejects(npmInstall(folder, VERSION, log, cancellation()), { message: NPM_MISSING }),
    );
    assert.deepEqual(readdirSync(join(folder, '..')), []);
  });

  it("names npm's exit code and last line when it fails, and leaves nothing", async () => {
    const folder = join(tempDir(), `node-llama-cpp-${VERSION}`);
    const script =
      "echo 'npm error code E404' >&2; echo 'npm error 404 Not Found - GET https://registry/x' >&2; exit 1";
    await withNpm(script, () =>
      assert.rejects(npmInstall(folder, VERSION, log, cancellation()), {
        message: `npm install node-llama-cpp@${VERSION} failed (exit code 1): npm error 404 Not Found - GET https://registry/x (the Ollama Batch log has all npm said)`,
      }),
    );
    assert.deepEqual(readdirSync(join(folder, '..')), []);
  });

  it('stops npm when cancelled, and leaves nothing', async () => {
    const folder = join(tempDir(), `node-llama-cpp-${VERSION}`);
    const token = cancellation();
    // Cancelled once npm has said it runs.
    const cancelOnStart = logTo((line) => line === 'npm: running' && token.cancel());
    const installed = await withNpm('echo running; exec sleep 300', () =>
      npmInstall(folder, VERSION, cancelOnStart, token),
    );
    assert.equal(installed, false);
    assert.deepEqual(readdirSync(join(folder, '..')), []);
    assert.ok(!existsSync(`${folder}.partial`));
  });
});
