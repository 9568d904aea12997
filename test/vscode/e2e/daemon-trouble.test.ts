// The daemon in trouble, as a user meets it in code-server through the UI: its HTTP port taken by
// another program (a plain server here) gives a one-sentence toast with ways out, "Use Any Free
// Port" brings it up on the port the lock file names, Show Daemon Log opens the daemon's own log,
// and after Stop Daemon the batch commands stay in the palette and Check Engine starts it again.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { copyFileSync, mkdirSync, readFileSync, watch, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { basename, dirname, join } from 'node:path';
import { readLock } from '../../../server/daemon-access/local-daemon.js';
import { commandTitle } from './installed.js';
import { uiSuite } from './ui-suite.js';

/** Resolves once the file's text passes `test`, read now and on every change in its folder. */
function fileSays(path: string, test: RegExp): Promise<void> {
  return new Promise((resolve, reject) => {
    const says = (): boolean => {
      try {
        return test.test(readFileSync(path, 'utf8'));
      } catch {
        return false; // not written yet
      }
    };
    const watcher = watch(dirname(path), () => {
      if (!says()) return;
      watcher.close();
      resolve();
    });
    watcher.on('error', reject);
    if (says()) {
      watcher.close();
      resolve();
    }
  });
}

describe('Ollama Batch in code-server: the daemon in trouble', function () {
  const ui = uiSuite({
    kind: 'trouble',
    screenshots: 'e2e-daemon',
    prepare: async (scratch) => {
      // Another program on the port the user's setting names.
      occupier = createServer().listen(0, '127.0.0.1');
      await once(occupier, 'listening');
      takenPort = (occupier.address() as { port: number }).port;
      // Two models in a folder of their own: the setting names one, Choose GGUF File… picks the other.
      mkdirSync(join(scratch.root, 'models'));
      for (const model of [currentModel(), chosenModel()]) copyFileSync(scratch.modelPath, model);
      // The user's values, and none in the workspace, where they would win over the user's.
      writeFileSync(
        join(scratch.workspace, '.vscode', 'settings.json'),
        JSON.stringify({ 'ollamaBatch.engine': 'llama-cpp' }),
      );
      mkdirSync(dirname(machineSettings()), { recursive: true });
      writeFileSync(
        machineSettings(),
        JSON.stringify({ 'ollamaBatch.httpPort': takenPort, 'ollamaBatch.modelPath': currentModel() }),
      );
    },
  });
  let occupier: Server | undefined;
  let takenPort: number;
  after(() => occupier?.close());

  // The daemon's settings are machine-overridable: in a remote window (code-server's is one) VS Code
  // keeps the user's values of them in the remote machine's settings, not in the browser's.
  const machineSettings = (): string => join(ui.scratch.userDataDir, 'Machine', 'settings.json');
  const currentModel = (): string => join(ui.scratch.root, 'models', 'current.gguf');
  const chosenModel = (): string => join(ui.scratch.root, 'models', 'chosen.gguf');
  const statusBar = (icon: string) =>
    ui.bench.page.locator('.statusbar-item', {
      hasText: 'Ollama Batch',
      has: ui.bench.page.locator(`.codicon-${icon}`),
    });

  it('says in one sentence that the HTTP port is taken, offering Use Any Free Port, with no stack', async () => {
    await ui.openWorkspace();
    const toast = ui.bench.notification(/daemon could not start/);
    await toast.waitFor({ timeout: 120_000 });
    const message = (await toast.locator('.notification-list-item-message').textContent()) ?? '';
    assert.match(message, /ollamaBatch\.httpPort/);
    // No stack frame, no bundle position, no CLI flag.
    assert.doesNotMatch(message, /\bat \S+ \(|\.c?m?js:\d+|:\d+:\d+\)?|--port/);
    await toast.getByRole('button', { name: 'Show Daemon Log' }).waitFor();
    await toast.getByRole('button', { name: 'Use Any Free Port' }).waitFor();
    await statusBar('circle-slash').waitFor();
  });

  it('Use Any Free Port: the daemon runs, on the port its lock file names', async () => {
    await ui.bench
      .notification(/daemon could not start/)
      .getByRole('button', { name: 'Use Any Free Port' })
      .click();
    await statusBar('server-process').waitFor({ timeout: 120_000 });
    const http = readLock(ui.scratch.dataDir)?.http;
    const port = Number(/^http:\/\/127\.0\.0\.1:(\d+)$/.exec(http ?? '')?.[1]);
    assert.ok(port > 0 && port !== takenPort, `the lock file's HTTP URL: ${http}`);
    assert.equal((await fetch(`${http}/health`)).status, 200);
    // In the user's settings (the machine's, as above), so every window and the next start use it.
    await fileSays(machineSettings(), /"ollamaBatch\.httpPort":\s*0\b/);
  });

  it("Show Daemon Log opens the daemon's log, which says why the first start failed", async () => {
    await ui.bench.runCommand(commandTitle('ollamaBatch.showDaemonLog'));
    await ui.bench.page.locator('.tabs-container .tab.active', { hasText: 'daemon.log' }).waitFor();
    await ui.bench.page
      .locator('.editor-instance .view-lines', { hasText: `HTTP port ${takenPort} on 127.0.0.1 is in use` })
      .waitFor();
  });

  it('after Stop Daemon the batch commands stay in the palette', async () => {
    await ui.bench.runCommand(commandTitle('ollamaBatch.stopDaemon'));
    await ui.bench.notification(/daemon stopped/).waitFor({ timeout: 60_000 });
    await statusBar('circle-slash').waitFor();
    await ui.bench.openPalette('Ollama Batch: ');
    try {
      const titles = ['ollamaBatch.analyzeResults', 'ollamaBatch.exportScoredCsv', 'ollamaBatch.openOutput'].map(
        commandTitle,
      );
      await ui.bench.paletteLists(titles, 'Ollama Batch: ', 15_000);
    } finally {
      await ui.bench.screenshot('palette-stopped');
      await ui.bench.page.keyboard.press('Escape');
    }
  });

  it('Check Engine starts the stopped daemon and answers with its real HTTP URL', async () => {
    await ui.bench.runCommand(commandTitle('ollamaBatch.checkEngine'));
    const dialog = ui.bench.page.locator('.monaco-dialog-box', { hasText: /engine llama-cpp\b.*\bis up/ });
    await dialog.waitFor({ timeout: 120_000 });
    const http = readLock(ui.scratch.dataDir)?.http;
    assert.ok(http, 'no HTTP URL in the lock file');
    await dialog.filter({ hasText: `HTTP API ${http}/v1` }).waitFor();
    await ui.bench.page.keyboard.press('Escape');
    await dialog.waitFor({ state: 'hidden' });
  });

  it('Choose GGUF File… puts the chosen model into the user setting ollamaBatch.modelPath', async () => {
    await ui.bench.runCommand(commandTitle('ollamaBatch.chooseModelFile'));
    // The dialog opens where the current model lies.
    await ui.bench.chooseFile(/GGUF model file/, basename(chosenModel()));
    const quoted = JSON.stringify(chosenModel()).replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    await fileSays(machineSettings(), new RegExp(`"ollamaBatch\\.modelPath":\\s*${quoted}`));
  });
});
