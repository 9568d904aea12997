// Where the daemon finds node-llama-cpp: the folder the VS Code extension installs it into
// ($OLLAMA_BATCH_ENGINE_MODULES) first, else beside the daemon, else an error that says what to do.
// The resolution on its own with a stand-in package, then the built CLI in the .vsix's layout.
import assert from 'node:assert/strict';
import { copyFileSync, cpSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import {
  ENGINE_MODULES_ENV,
  INSTALL_ENGINE_COMMAND,
  INSTALL_ENGINE_HINT,
} from '../../server/common/embedded-engine.js';
import { EXIT_ENGINE_MISSING } from '../../server/daemon-access/local-daemon.js';
import { importNodeLlamaCpp, nodeLlamaCppEntry } from '../../server/engines/node-llama-cpp-module.js';
import { batchLines, tempDir, writeTempFile } from '../support/batch-files.js';
import { cli, freshDataDir } from '../support/cli-process.js';
import { CLI } from '../support/daemon-process.js';
import { tinyModelPath } from '../support/models.js';

const repoRoot = resolve(import.meta.dirname, '..', '..');

/** A folder as the extension's install leaves it, holding a stand-in node-llama-cpp that says it is one. */
function folderWithStandIn(): string {
  const folder = tempDir();
  const module = join(folder, 'node_modules', 'node-llama-cpp');
  mkdirSync(module, { recursive: true });
  writeFileSync(
    join(module, 'package.json'),
    JSON.stringify({ name: 'node-llama-cpp', type: 'module', exports: { '.': { node: './index.js' } } }),
  );
  writeFileSync(join(module, 'index.js'), 'export const standIn = true;\n');
  return folder;
}

describe('finding node-llama-cpp', function () {
  this.timeout(120_000);

  it("takes the extension's folder first, even where the package root has one too", async () => {
    const folder = folderWithStandIn();
    assert.equal(nodeLlamaCppEntry(folder, repoRoot), join(folder, 'node_modules', 'node-llama-cpp', 'index.js'));
    const before = process.env[ENGINE_MODULES_ENV];
    process.env[ENGINE_MODULES_ENV] = folder;
    try {
      const loaded = (await importNodeLlamaCpp()) as unknown as { standIn?: boolean };
      assert.equal(loaded.standIn, true);
    } finally {
      if (before === undefined) delete process.env[ENGINE_MODULES_ENV];
      else process.env[ENGINE_MODULES_ENV] = before;
    }
  });

  it('falls back to the package root (a checkout) when the folder has none', () => {
    assert.match(nodeLlamaCppEntry(tempDir(), repoRoot), /node_modules\/node-llama-cpp\/dist\/index\.js$/);
  });

  it('names the command that installs it when neither has it; from a checkout, npm ci', () => {
    const emptyRoot = tempDir();
    assert.throws(() => nodeLlamaCppEntry(tempDir(), emptyRoot), {
      message: `the llama-cpp engine needs node-llama-cpp, which is not installed: ${INSTALL_ENGINE_HINT}, or use the ollama engine`,
    });
    assert.throws(() => nodeLlamaCppEntry(undefined, emptyRoot), {
      message: `the llama-cpp engine needs the node-llama-cpp package, which is not installed in ${emptyRoot}/node_modules: run \`npm ci\` in the checkout, or use the ollama engine`,
    });
    // The command the hint names is the one the extension contributes.
    const manifest = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as {
      contributes: { commands: { command: string; title: string; category: string }[] };
    };
    const contributed = manifest.contributes.commands.find(({ command }) => command === INSTALL_ENGINE_COMMAND.id);
    assert.equal(`${contributed?.category}: ${contributed?.title}`, `Ollama Batch: ${INSTALL_ENGINE_COMMAND.title}`);
    assert.ok(INSTALL_ENGINE_HINT.includes(`Ollama Batch: ${INSTALL_ENGINE_COMMAND.title}`));
  });

  it('runs a batch on the llama-cpp engine from the .vsix layout (no node_modules) with the folder named', async () => {
    // The .vsix layout: the manifest and dist/, no node_modules anywhere above it.
    const packaged = tempDir();
    cpSync(join(CLI, '..'), join(packaged, 'dist'), { recursive: true });
    copyFileSync(join(repoRoot, 'package.json'), join(packaged, 'package.json'));
    const script = join(packaged, 'dist', 'cli.mjs');
    const input = writeTempFile('batch.jsonl', batchLines(2, { model: 'tiny', maxTokens: 4 }));
    const dataDir = freshDataDir();
    writeFileSync(
      join(dataDir, 'config.json'),
      JSON.stringify({ port: 0, engine: 'llama-cpp', modelPath: await tinyModelPath(), threads: 1 }),
    );
    // A folder that lacks it: the daemon exits with the code the extension offers the install on,
    // and says which command installs it.
    const missing = await cli(['serve', '--data-dir', dataDir], {
      script,
      env: { ...process.env, [ENGINE_MODULES_ENV]: tempDir() },
    });
    assert.equal(missing.code, EXIT_ENGINE_MISSING);
    assert.ok(missing.stderr.includes(INSTALL_ENGINE_HINT), missing.stderr);
    // A folder with it (the checkout's node_modules, lent): the batch runs.
    const installed = tempDir();
    symlinkSync(join(repoRoot, 'node_modules'), join(installed, 'node_modules'));
    const env = { ...process.env, [ENGINE_MODULES_ENV]: installed };
    try {
      const run = await cli(['run', input, '--data-dir', dataDir, '--json'], { script, env });
      assert.equal(run.code, 0, run.stderr);
      assert.equal((JSON.parse(run.stdout) as { batch: { status: string } }).batch.status, 'completed');
    } finally {
      await cli(['stop', '--data-dir', dataDir], { script, env });
    }
  });
});
