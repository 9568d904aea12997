// The walkthrough's steps as a user sees them ticked on the Welcome page, in code-server through the
// UI: each on what happened (the daemon's engine answered, Check Engine found one, a batch ran, a metrics
// panel opened), none on a command merely started (Convert CSV to Batch given up at its first pick).
import { SAMPLE_LINES } from '../scratch.js';
import { commandTitle, walkthroughTitle } from './installed.js';
import { uiSuite } from './ui-suite.js';

describe('Ollama Batch in code-server: the walkthrough ticks its steps on real events', function () {
  const ui = uiSuite({ kind: 'walkthrough', screenshots: 'e2e-walkthrough' });

  const ticked = (expected: Record<string, boolean>): Promise<void> =>
    ui.bench.walkthroughTicks(walkthroughTitle(), expected);

  it('ticks the engine set up once the daemon connects with its engine answering, and nothing that has not happened', async () => {
    await ui.openWorkspace();
    await ui.daemonRunning().waitFor({ timeout: 120_000 });
    await ticked({ install: true, engine: false, convert: false, run: false, metrics: false });
  });

  it('does not tick Convert when the wizard is given up', async () => {
    await ui.bench.runCommand(commandTitle('ollamaBatch.convertCsv'));
    // Its first step, the CSV's file dialog, given up; gone before the palette is asked for the
    // walkthrough (under load, an Escape before the dialog was up left it open to take the typing).
    const dialog = ui.bench.page.locator('.quick-input-widget', { hasText: 'Choose the CSV to convert' });
    await dialog.waitFor();
    await ui.bench.page.keyboard.press('Escape');
    await dialog.waitFor({ state: 'hidden' });
    await ticked({ convert: false });
  });

  it('ticks Check Engine once Check Engine found the engine answering', async () => {
    await ui.bench.runCommand(commandTitle('ollamaBatch.checkEngine'));
    await ui.bench.page.locator('.monaco-dialog-box', { hasText: /is up/ }).waitFor({ timeout: 60_000 });
    await ui.bench.clickDialogButton('OK');
    await ticked({ install: true, engine: true });
  });

  it('ticks Run once a batch ran, and Watch the metrics once its panel opened', async () => {
    await ui.bench.openFile('sample.jsonl');
    await ui.bench.runCommand(commandTitle('ollamaBatch.runBatch'));
    await ui.bench
      .notification(`sample.jsonl completed: ${SAMPLE_LINES} of ${SAMPLE_LINES} succeeded`)
      .waitFor({ timeout: 120_000 });
    await ticked({ run: true, metrics: false });
    // Through the step's own button.
    await ui.bench.page.locator('button.getting-started-step[data-step-id$="#metrics"]').click();
    await ui.bench.page.getByRole('button', { name: 'Show Metrics', exact: true }).click();
    await ui.bench.webview(/Metrics/);
    await ticked({ run: true, metrics: true, convert: false });
  });
});
