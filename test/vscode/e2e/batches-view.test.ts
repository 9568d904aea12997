// The Batches view as a user meets it in code-server: a run shows its progress in the status bar
// (under its "Ollama Batch" label), with no notification over the editor
// until it ends; the end says how long it took; the tree names the batch by its file, with the
// id only in the tooltip; a click opens its metrics; Delete Batch from its context menu removes
// it from the tree and the daemon. Screenshots in test-output/e2e-batches/.
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { batchLines } from '../../support/batch-files.js';
import { uiSuite } from './ui-suite.js';

/** Enough lines that the run is seen while it runs. */
const LINES = 1000;
/** As the extension writes counts: "1,000". */
const TOTAL = LINES.toLocaleString('en-US');

describe('Ollama Batch in code-server: the Batches view', function () {
  const ui = uiSuite({
    kind: 'names',
    screenshots: 'e2e-batches',
    prepare: async (scratch) => {
      await writeFile(join(scratch.workspace, 'long.jsonl'), batchLines(LINES, { model: 'tiny', maxTokens: 8 }));
    },
  });

  const treeRow = () => ui.bench.sideBarRows().filter({ hasText: 'long.jsonl' });

  before(async function () {
    this.timeout(600_000);
    await ui.openWorkspace();
    await ui.daemonRunning().waitFor({ timeout: 180_000 });
  });

  it('shows a run in the status bar and on the view, with no notification until it ends', async () => {
    await ui.bench.runCommand('Ollama Batch: Focus on Batches View');
    await ui.bench.openFile('long.jsonl');
    // Through the code lens on its first line, where a user sees Run.
    await ui.bench.page.locator('.codelens-decoration a', { hasText: 'Run batch' }).click({ timeout: 60_000 });
    // Progress under the status bar's own label, lines done of the total.
    await ui.bench.page
      .locator('.statusbar-item', { hasText: new RegExp(`Ollama Batch [\\d,]+ / ${TOTAL}`) })
      .waitFor({ timeout: 120_000 });
    // The view's badge on the activity bar: the percentage done.
    await ui.bench.page
      .locator('.activitybar .action-item[aria-label^="Ollama Batch"] .badge-content')
      .filter({ hasText: /^\d+$/ })
      .waitFor({ timeout: 30_000 });
    await ui.bench.screenshot('running');
    assert.equal(await ui.bench.page.locator('.notifications-toasts .notification-toast:visible').count(), 0);
    // The tree names it by its file, the id nowhere in its row.
    const row = treeRow().first();
    await row.waitFor();
    assert.doesNotMatch((await row.textContent()) ?? '', /batch_/);
    // The end: a toast with the outcome and how long it took.
    await ui.bench
      .notification(new RegExp(`long\\.jsonl completed: ${TOTAL} of ${TOTAL} succeeded, 0 failed, took \\d+ (s|m)`))
      .waitFor({ timeout: 300_000 });
  });

  it('names the batch by its file in the tree, and opens its metrics on a click, the tab named by the file too', async () => {
    const row = treeRow().filter({ hasText: new RegExp(`${TOTAL} ok`) });
    await row.waitFor({ timeout: 30_000 });
    assert.doesNotMatch((await row.textContent()) ?? '', /batch_|completed|_/);
    await row.click();
    const metrics = await ui.bench.webview('Metrics long.jsonl');
    await metrics.locator('#main').waitFor();
  });

  it('deletes the batch from its context menu, after a confirmation', async () => {
    const before = JSON.parse(readFileSync(join(ui.scratch.dataDir, 'db.json'), 'utf8')) as {
      batches: Array<{ batch: { output_file_id: string } }>;
      files: Array<{ id: string; path: string }>;
    };
    assert.equal(before.batches.length, 1);
    const output = before.files.find((file) => file.id === before.batches[0]!.batch.output_file_id)!;
    assert.ok(existsSync(output.path));
    const dialog = ui.bench.page.locator('.monaco-dialog-box', { hasText: 'Delete long.jsonl?' });
    // The menu ignores a click that comes right as it opens: the item is hovered (which focuses
    // it) and chosen with Enter, again if the menu was still opening.
    const item = ui.bench.page.locator('.monaco-menu .action-item', { hasText: 'Delete Batch' });
    await treeRow().first().click({ button: 'right' });
    for (let attempt = 1; ; attempt++) {
      await item.hover();
      await ui.bench.page.keyboard.press('Enter');
      try {
        await dialog.waitFor({ timeout: 5_000 });
        break;
      } catch (error) {
        if (attempt === 3) throw error;
      }
    }
    await ui.bench.screenshot('delete-confirmation');
    await ui.bench.clickDialogButton('Delete');
    await treeRow().first().waitFor({ state: 'detached', timeout: 30_000 });
    assert.equal(existsSync(output.path), false);
  });
});
