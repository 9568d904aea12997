// What every UI suite does around its steps: a scratch world with the packed extension installed,
// code-server and Chromium on it, a screenshot after each step, and on the way out everything
// closed, the scratch kept (and the daemon's log put beside the screenshots) when a step failed.
import { copyFileSync, existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { BrowserContext, Locator } from 'playwright-core';
import { installExtension, launchChromium, startCodeServer, workbenchUrl, type CodeServer } from '../code-server.js';
import { disposeScratch, makeScratch, repoRoot, type Scratch } from '../scratch.js';
import { lendEngine, VSIX } from './installed.js';
import { Workbench } from './workbench.js';

export interface UiSuiteOptions {
  /** The scratch folder's kind (ob-KIND-…) and the screenshots' folder, test-output/SCREENSHOTS. */
  kind: string;
  screenshots: string;
  /** Rows of the workspace's candidates.csv. */
  candidates?: number;
  /** false: the suite installs the embedded engine through the UI itself. */
  lendEngine?: boolean;
  /** Files and settings put in place before code-server starts. */
  prepare?: (scratch: Scratch) => Promise<void> | void;
}

export interface UiSuite {
  readonly scratch: Scratch;
  readonly server: CodeServer;
  readonly bench: Workbench;
  readonly screenshots: string;
  /** Opens the workbench on the scratch workspace. */
  openWorkspace(): Promise<void>;
  /** The status bar item that says the daemon runs. */
  daemonRunning(): Locator;
}

/** Registers the suite's before, afterEach and after hooks; call it first in a describe. */
export function uiSuite(options: UiSuiteOptions): UiSuite {
  const screenshots = join(repoRoot, 'test-output', options.screenshots);
  let scratch: Scratch | undefined;
  let server: CodeServer | undefined;
  let browser: BrowserContext | undefined;
  let bench: Workbench | undefined;
  let failed = false;
  const ready = <T>(value: T | undefined, name: string): T => {
    if (value === undefined) throw new Error(`the UI suite has no ${name}: its setup failed`);
    return value;
  };

  before(async function () {
    this.timeout(600_000);
    scratch = await makeScratch(options.kind, { candidates: options.candidates ?? 0 });
    await options.prepare?.(scratch);
    await installExtension(scratch, VSIX);
    if (options.lendEngine ?? true) lendEngine(scratch);
    server = await startCodeServer(scratch);
    browser = await launchChromium(scratch);
    bench = new Workbench(browser.pages()[0] ?? (await browser.newPage()), screenshots);
  });

  afterEach(async function () {
    failed ||= this.currentTest?.state === 'failed';
    await bench?.screenshot(this.currentTest?.title ?? 'step');
  });

  after(async () => {
    await browser?.close();
    await server?.close();
    if (!scratch) return;
    const keep = failed || !bench;
    const log = join(scratch.dataDir, 'daemon.log');
    if (keep && existsSync(log)) {
      mkdirSync(screenshots, { recursive: true });
      copyFileSync(log, join(screenshots, 'daemon.log'));
    }
    await disposeScratch(scratch, { keep });
  });

  return {
    get scratch() {
      return ready(scratch, 'scratch');
    },
    get server() {
      return ready(server, 'code-server');
    },
    get bench() {
      return ready(bench, 'workbench');
    },
    screenshots,
    openWorkspace: () =>
      ready(bench, 'workbench').open(workbenchUrl(ready(server, 'code-server'), ready(scratch, 'scratch').workspace)),
    daemonRunning: () => {
      const { page } = ready(bench, 'workbench');
      return page.locator('.statusbar-item', { hasText: 'Ollama Batch', has: page.locator('.codicon-server-process') });
    },
  };
}
