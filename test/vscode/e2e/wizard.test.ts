// Convert's wizard and a broken batch file, as a user meets them in code-server through the UI:
// the wizard counts its steps and goes Back with the answer kept, offers the workspace's rubric,
// template and schema without a dialog, preselects the id column by its real figures, asks for
// max_tokens, shows the first request before writing and estimates against the model's limit;
// a file written ticks the walkthrough's Convert step; Run (its code lens, or the command) on a
// file with errors offers Show Problems and submits nothing.
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { BROKEN_BATCH } from '../broken-batch.js';
import { commandTitle, walkthroughTitle } from './installed.js';
import { uiSuite } from './ui-suite.js';

const CANDIDATES = 30;
const STEPS = 6;

describe('Ollama Batch in code-server: the Convert wizard and a broken file', function () {
  const ui = uiSuite({
    kind: 'wizard',
    screenshots: 'e2e-wizard',
    candidates: CANDIDATES,
    prepare: async (scratch) => {
      await writeFile(join(scratch.workspace, 'broken.jsonl'), BROKEN_BATCH);
    },
  });

  const quickInput = () => ui.bench.page.locator('.quick-input-widget');
  /** The open step's title: "Ollama Batch: Convert CSV to Batch (n/m)". */
  const stepTitle = (step: number) =>
    quickInput().locator('.quick-input-title', { hasText: `Convert CSV to Batch (${step}/${STEPS})` });
  /** The highlighted row of the open quick pick. */
  const activeRow = () => quickInput().locator('.monaco-list-row.focused');

  it('starts with the daemon running', async () => {
    await ui.openWorkspace();
    await ui.daemonRunning().waitFor({ timeout: 180_000 });
  });

  it('counts its steps, offers the workspace files first, and preselects candidate_id by its figures', async () => {
    await ui.bench.openFile('candidates.csv');
    await ui.bench.runCommand(commandTitle('ollamaBatch.convertCsv'));
    await stepTitle(1).waitFor({ timeout: 60_000 });
    // The first step has no way back.
    assert.equal(await quickInput().locator('.codicon-quick-input-back:visible').count(), 0);
    await ui.bench.quickPickRow('rubric.md').click();
    await stepTitle(2).waitFor();
    await ui.bench.quickPickRow('template.txt').click();
    await stepTitle(3).waitFor();
    await activeRow().filter({ hasText: 'candidate_id' }).waitFor();
    await ui.bench
      .quickPickRow('candidate_id')
      .filter({ hasText: `unique, none empty in ${CANDIDATES} rows` })
      .waitFor();
    await ui.bench.screenshot('custom_id step');
  });

  it('goes Back to the step before with its answer kept', async () => {
    // Not the preselected column: Back must bring back this one.
    await ui.bench.quickPickRow('email').click();
    await stepTitle(4).waitFor();
    await quickInput().locator('.codicon-quick-input-back').click();
    await stepTitle(3).waitFor();
    await activeRow().filter({ hasText: 'email' }).waitFor();
    await ui.bench.screenshot('back to custom_id');
    await ui.bench.quickPickRow('candidate_id').click();
    await stepTitle(4).waitFor();
    await ui.bench.quickPickRow('tiny').click();
    await stepTitle(5).waitFor();
    await ui.bench.quickPickRow('score-schema.json').click();
    await stepTitle(6).waitFor();
    await quickInput()
      .locator('.quick-input-message', { hasText: /max_tokens/ })
      .waitFor();
    await ui.bench.page.keyboard.type('200');
    await ui.bench.page.keyboard.press('Enter');
  });

  it('shows the first request and an estimate against the model’s limit before writing', async () => {
    const preview = ui.bench.page.locator('.tabs-container .tab', { hasText: 'First request of candidates.jsonl.md' });
    await preview.waitFor({ timeout: 120_000 });
    const dialog = ui.bench.page.locator('.monaco-dialog-box');
    // The embedded engine's context for the tiny model: 4,096, of which 4,095 usable, below the 8,192 assumed.
    await dialog.filter({ hasText: 'Every line fits num_ctx 4,095 (the model’s limit).' }).waitFor();
    await ui.bench.screenshot('before writing');
    await ui.bench.clickDialogButton(`Write ${CANDIDATES} Lines`);
    await ui.bench.notification(`wrote ${CANDIDATES} lines to candidates.jsonl`).waitFor({ timeout: 60_000 });
    await preview.waitFor({ state: 'detached' });
    const first = JSON.parse(readFileSync(join(ui.scratch.workspace, 'candidates.jsonl'), 'utf8').split('\n')[0]!);
    assert.equal(first.custom_id, 'C000001');
    assert.equal(first.body.max_tokens, 200);
    assert.ok(first.body.messages[0].content.length > 0, 'the rubric as the system prompt');
  });

  it("ticks the walkthrough's Convert step once the file is written", async () => {
    await ui.bench.walkthroughTicks(walkthroughTitle(), { convert: true });
  });

  it('offers Show Problems, not a run, for a file with errors, and submits nothing', async () => {
    await ui.bench.openFile('broken.jsonl');
    await ui.bench.runCommand('View: Toggle Problems');
    const problems = ui.bench.page.locator('.markers-panel .monaco-list-row');
    await problems.filter({ hasText: 'duplicate_custom_id' }).waitFor({ timeout: 60_000 });
    // Its code lens's Run. VS Code asks for an editor's lenses a moment after it opens, drops the
    // request if the editor loses the focus first (here to the palette and the Problems panel),
    // and asks again when it has it back: a click into the text, as a user's.
    await ui.bench.page.locator('.editor-group-container.active .monaco-editor .view-lines').click();
    await ui.bench.page.locator('.codelens-decoration a', { hasText: 'Run batch' }).click({ timeout: 60_000 });
    const toast = ui.bench.notification('broken.jsonl has 2 problems (line 2 first): a run would fail.');
    await toast.waitFor({ timeout: 30_000 });
    await toast.getByRole('button', { name: 'Run Anyway' }).waitFor();
    await ui.bench.screenshot('run a broken file');
    await toast.getByRole('button', { name: 'Show Problems' }).click();
    await problems.filter({ hasText: 'invalid_json_line' }).waitFor();
    // Nothing was submitted: the daemon keeps no batch (the Convert above wrote a file, ran none).
    const db = join(ui.scratch.dataDir, 'db.json');
    const batches = existsSync(db) ? (JSON.parse(readFileSync(db, 'utf8')) as { batches: unknown[] }).batches : [];
    assert.deepEqual(batches, []);
  });

  it('runs it only on Run Anyway, and its failure toast is short and offers Show Problems', async () => {
    await ui.bench.runCommand('Notifications: Clear All Notifications');
    await ui.bench.openFile('broken.jsonl');
    await ui.bench.runCommand(commandTitle('ollamaBatch.runBatch'));
    await ui.bench.notification('broken.jsonl has 2 problems').getByRole('button', { name: 'Run Anyway' }).click();
    const failed = ui.bench.notification('Ollama Batch: broken.jsonl failed: 2 problems (line 2 first).');
    await failed.waitFor({ timeout: 120_000 });
    await ui.bench.screenshot('failed toast');
    await failed.getByRole('button', { name: 'Show Problems' }).click();
    await ui.bench.page.locator('.markers-panel .monaco-list-row', { hasText: 'duplicate_custom_id' }).waitFor();
  });
});
