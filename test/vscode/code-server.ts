// code-server (a real VS Code, the version in tools.json) on a free local port with the scratch
// dirs, and Debian's Chromium driven by playwright-core to look at it.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { chromium, type BrowserContext } from 'playwright-core';
import { ensureTools, toolsEnv, tools } from '../../scripts/vscode-tools.mjs';
import type { Scratch } from './scratch.js';

export interface CodeServer {
  /** http://127.0.0.1:PORT */
  origin: string;
  port: number;
  close(): Promise<void>;
}

/** code-server on Node 24 with the scratch dirs (user data, extensions, XDG). */
function runCodeServer(scratch: Scratch, args: string[]): ChildProcess {
  return spawn(
    tools.codeServer,
    [...args, '--user-data-dir', scratch.userDataDir, '--extensions-dir', scratch.extensionsDir],
    {
      env: { ...toolsEnv(), ...scratch.env },
      stdio: ['ignore', 'pipe', 'pipe'],
      // Its own process group, so closing it ends the extension hosts it started too.
      detached: true,
    },
  );
}

/** `code-server --install-extension` into the scratch extensions dir. */
export async function installExtension(scratch: Scratch, vsix: string): Promise<void> {
  ensureTools();
  const child = runCodeServer(scratch, ['--install-extension', vsix]);
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const [code] = (await once(child, 'exit')) as [number | null];
  if (code !== 0) throw new Error(`code-server --install-extension ${vsix} exited with ${code}:\n${output}`);
}

/** Starts code-server and resolves once it listens; `vscodeOptions` go to VS Code (--vscode-option). */
export async function startCodeServer(scratch: Scratch, { vscodeOptions = [] as string[] } = {}): Promise<CodeServer> {
  ensureTools();
  const child = runCodeServer(scratch, [
    '--bind-addr',
    '127.0.0.1:0',
    '--auth',
    'none',
    '--disable-telemetry',
    '--disable-update-check',
    '--disable-workspace-trust',
    '--disable-getting-started-override',
    // Else every page load leaves an extension host running after the page is gone.
    '--reconnection-grace-time',
    '5',
    ...vscodeOptions.flatMap((option) => ['--vscode-option', option]),
  ]);
  let log = '';
  const listening = new Promise<number>((resolve, reject) => {
    for (const stream of [child.stdout!, child.stderr!]) {
      createInterface({ input: stream }).on('line', (line) => {
        log += line + '\n';
        if (process.env.OLLAMA_BATCH_VSCODE_VERBOSE) console.log(`[code-server] ${line}`);
        const match = /HTTP server listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(line);
        if (match) resolve(Number(match[1]));
      });
    }
    child.once('exit', (code) => reject(new Error(`code-server exited with ${code} before listening:\n${log}`)));
    child.once('error', reject);
  });
  const port = await listening;
  return {
    origin: `http://127.0.0.1:${port}`,
    port,
    async close() {
      if (child.exitCode !== null) return;
      const exited = once(child, 'exit');
      process.kill(-child.pid!, 'SIGTERM');
      await exited;
    },
  };
}

/** Headless Debian Chromium with a fresh profile in the scratch root. */
export function launchChromium(scratch: Scratch): Promise<BrowserContext> {
  return chromium.launchPersistentContext(join(scratch.root, 'chromium'), {
    executablePath: tools.chromium,
    headless: true,
    viewport: { width: 1600, height: 1000 },
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

/** The workbench URL for a folder, with extra query parameters (the smoke-test payload). */
export function workbenchUrl(server: CodeServer, folder: string, query: Record<string, string> = {}): string {
  return `${server.origin}/?${new URLSearchParams({ folder, ...query }).toString()}`;
}
