// The walkthrough's steps as a user sees them ticked on the Welcome page, in code-server through the
// UI: each on what happened (an engine answered, Check Engine found one, a batch ran, a metrics
// panel opened), none on a command merely started (Convert CSV to Batch given up at its first pick).
import { join } from 'node:path';
import type { BrowserContext } from 'playwright-core';
import { installExtension, launchChromium, startCodeServer, workbenchUrl, type CodeServer } from '../code-server.js';
import { disposeScratch, makeScratch, repoRoot, SAMPLE_LINES, type Scratch } from '../scratch.js';
import { commandTitle, lendEngine, manifest, VSIX } from './installed.js';
import { Workbench } from './workbench.js';

const SCREENSHOTS = join(repoRoot, 'test-output', 'e2e-walkthrough');

describe('Ollama Batch in code-server: the walkthrough ticks its steps on real events', function () {
  let scratch: Scratch;
  let server: CodeServer | undefined;
  let browser: BrowserContext | undefined;
  let bench: Workbench;
  let failed = false;

  /** Opens the walkthrough (again: it is one editor) and waits for the steps' ticks to read `expected`. */
  async function ticked(expected: Record<string, boolean>): Promise<void> {
    // Its tab first, where open: F1 does not reach the palette from a webview that has the focus.
    const tab = bench.page.locator('.tabs-container .tab', { hasText: 'Welcome' });
    if ((await tab.count()) > 0) await tab.click();
    await bench.runCommand('Welcome: Open Walkthrough...');
    await bench.quickPickRowWith(walkthroughTitle()).click();
    for (const [step, done] of Object.entries(expected))
      await bench.page
        .locator(`button.getting-started-step[data-step-id$="#${step}"][aria-checked="${done}"]`)
        .waitFor({ timeout: 30_000 });
  }

  const walkthroughTitle = (): string =>
    (manifest.contributes as unknown as { walkthroughs: Array<{ title: string }> }).walkthroughs[0]!.title;

  before(async function () {
    this.timeout(600_000);
    scratch = await makeScratch('walkthrough');
    await installExtension(scratch, VSIX);
    lendEngine(scratch);
    server = await startCodeServer(scratch);
    browser = await launchChromium(scratch);
    bench = new Workbench(browser.pages()[0] ?? (await browser.newPage()), SCREENSHOTS);
  });

  afterEach(async function () {
    failed ||= this.currentTest?.state === 'failed';
    await bench?.screenshot(this.currentTest?.title ?? 'step');
  });

  after(async () => {
    await browser?.close();
    await server?.close();
    if (scratch) await disposeScratch(scratch, { keep: failed || !bench });
  });

  it('ticks nothing that has not happened', async () => {
    await bench.open(workbenchUrl(server!, scratch.workspace));
    await bench.page
      .locator('.statusbar-item', { hasText: 'Ollama Batch', has: bench.page.locator('.codicon-server-process') })
      .waitFor({ timeout: 120_000 });
    await ticked({ install: false, engine: false, convert: false, run: false, metrics: false });
  });

  it('does not tick Convert when the wizard is given up', async () => {
    await bench.runCommand(commandTitle('ollamaBatch.convertCsv'));
    // Its first step, the CSV's file dialog, given up; gone before the palette is asked for the
    // walkthrough (under load, an Escape before the dialog was up left it open to take the typing).
    const dialog = bench.page.locator('.quick-input-widget', { hasText: 'Choose the CSV to convert' });
    await dialog.waitFor();
    await bench.page.keyboard.press('Escape');
    await dialog.waitFor({ state: 'hidden' });
    await ticked({ convert: false });
  });

  it('ticks the engine set up and Check Engine once Check Engine found the engine answering', async () => {
    await bench.runCommand(commandTitle('ollamaBatch.checkEngine'));
    await bench.page.locator('.monaco-dialog-box', { hasText: /is up/ }).waitFor({ timeout: 60_000 });
    await bench.clickDialogButton('OK');
    await ticked({ install: true, engine: true });
  });

  it('ticks Run once a batch ran, and Watch the metrics once its panel opened', async () => {
    await bench.openFile('sample.jsonl');
    await bench.runCommand(commandTitle('ollamaBatch.runBatch'));
    await bench
      .notification(`sample.jsonl completed: ${SAMPLE_LINES} of ${SAMPLE_LINES} succeeded`)
      .waitFor({ timeout: 120_000 });
    await ticked({ run: true, metrics: false });
    // Through the step's own button.
    await bench.page.locator('button.getting-started-step[data-step-id$="#metrics"]').click();
    await bench.page.getByRole('button', { name: 'Show Metrics', exact: true }).click();
    await bench.webview(/Metrics/);
    await ticked({ run: true, metrics: true, convert: false });
  });
});
