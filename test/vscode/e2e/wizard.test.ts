// Convert's wizard and a broken batch file, as a user meets them in code-server through the UI:
// the wizard counts its steps and goes Back with the answer kept, offers the workspace's rubric,
// template and schema without a dialog, preselects the id column by its real figures, asks for
// max_tokens, shows the first request before writing and estimates against the model's limit;
// Run on a file with errors offers Show Problems and submits nothing.
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { BrowserContext } from 'playwright-core';
import { BROKEN_BATCH } from '../broken-batch.js';
import { installExtension, launchChromium, startCodeServer, workbenchUrl, type CodeServer } from '../code-server.js';
import { disposeScratch, makeScratch, repoRoot, type Scratch } from '../scratch.js';
import { commandTitle, lendEngine, VSIX } from './installed.js';
import { Workbench } from './workbench.js';

const SCREENSHOTS = join(repoRoot, 'test-output', 'e2e-wizard');
const CANDIDATES = 30;
const STEPS = 6;

describe('Ollama Batch in code-server: the Convert wizard and a broken file', function () {
  let scratch: Scratch;
  let server: CodeServer | undefined;
  let browser: BrowserContext | undefined;
  let bench: Workbench;
  let failed = false;

  const quickInput = () => bench.page.locator('.quick-input-widget');
  /** The open step's title: "Ollama Batch: Convert CSV to Batch (n/m)". */
  const stepTitle = (step: number) =>
    quickInput().locator('.quick-input-title', { hasText: `Convert CSV to Batch (${step}/${STEPS})` });
  /** The highlighted row of the open quick pick. */
  const activeRow = () => quickInput().locator('.monaco-list-row.focused');

  before(async function () {
    this.timeout(600_000);
    scratch = await makeScratch('wizard', { candidates: CANDIDATES });
    await writeFile(join(scratch.workspace, 'broken.jsonl'), BROKEN_BATCH);
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

  it('starts with the daemon running', async () => {
    await bench.open(workbenchUrl(server!, scratch.workspace));
    await bench.page
      .locator('.statusbar-item', { hasText: 'Ollama Batch', has: bench.page.locator('.codicon-server-process') })
      .waitFor({ timeout: 180_000 });
  });

  it('counts its steps, offers the workspace files first, and preselects candidate_id by its figures', async () => {
    await bench.openFile('candidates.csv');
    await bench.runCommand(commandTitle('ollamaBatch.convertCsv'));
    await stepTitle(1).waitFor({ timeout: 60_000 });
    // The first step has no way back.
    assert.equal(await quickInput().locator('.codicon-quick-input-back:visible').count(), 0);
    await bench.quickPickRow('rubric.md').click();
    await stepTitle(2).waitFor();
    await bench.quickPickRow('template.txt').click();
    await stepTitle(3).waitFor();
    await activeRow().filter({ hasText: 'candidate_id' }).waitFor();
    await bench
      .quickPickRow('candidate_id')
      .filter({ hasText: `unique, none empty in ${CANDIDATES} rows` })
      .waitFor();
    await bench.screenshot('custom_id step');
  });

  it('goes Back to the step before with its answer kept', async () => {
    // Not the preselected column: Back must bring back this one.
    await bench.quickPickRow('email').click();
    await stepTitle(4).waitFor();
    await quickInput().locator('.codicon-quick-input-back').click();
    await stepTitle(3).waitFor();
    await activeRow().filter({ hasText: 'email' }).waitFor();
    await bench.screenshot('back to custom_id');
    await bench.quickPickRow('candidate_id').click();
    await stepTitle(4).waitFor();
    await bench.quickPickRow('tiny').click();
    await stepTitle(5).waitFor();
    await bench.quickPickRow('score-schema.json').click();
    await stepTitle(6).waitFor();
    await quickInput()
      .locator('.quick-input-message', { hasText: /max_tokens/ })
      .waitFor();
    await bench.page.keyboard.type('200');
    await bench.page.keyboard.press('Enter');
  });

  it('shows the first request and an estimate against the model’s limit before writing', async () => {
    const preview = bench.page.locator('.tabs-container .tab', { hasText: 'First request of candidates.jsonl.md' });
    await preview.waitFor({ timeout: 120_000 });
    const dialog = bench.page.locator('.monaco-dialog-box');
    // The embedded engine's context for the tiny model: 4,096, of which 4,095 usable, below the 8,192 assumed.
    await dialog.filter({ hasText: 'Every line fits num_ctx 4,095 (the model’s limit).' }).waitFor();
    await bench.screenshot('before writing');
    await bench.clickDialogButton(`Write ${CANDIDATES} Lines`);
    await bench.notification(`wrote ${CANDIDATES} lines to candidates.jsonl`).waitFor({ timeout: 60_000 });
    await preview.waitFor({ state: 'detached' });
    const first = JSON.parse(readFileSync(join(scratch.workspace, 'candidates.jsonl'), 'utf8').split('\n')[0]!);
    assert.equal(first.custom_id, 'C000001');
    assert.equal(first.body.max_tokens, 200);
    assert.ok(first.body.messages[0].content.length > 0, 'the rubric as the system prompt');
  });

  it('offers Show Problems, not a run, for a file with errors, and submits nothing', async () => {
    await bench.openFile('broken.jsonl');
    await bench.runCommand('View: Toggle Problems');
    const problems = bench.page.locator('.markers-panel .monaco-list-row');
    await problems.filter({ hasText: 'duplicate_custom_id' }).waitFor({ timeout: 60_000 });
    // Run Batch File on the active editor: the command the code lens and the editor's title button run.
    await bench.runCommand(commandTitle('ollamaBatch.runBatch'));
    const toast = bench.notification('broken.jsonl has 2 problems (line 2 first): a run would fail.');
    await toast.waitFor({ timeout: 30_000 });
    await toast.getByRole('button', { name: 'Run Anyway' }).waitFor();
    await bench.screenshot('run a broken file');
    await toast.getByRole('button', { name: 'Show Problems' }).click();
    await problems.filter({ hasText: 'invalid_json_line' }).waitFor();
    // Nothing was submitted: the daemon keeps no batch (the Convert above wrote a file, ran none).
    const db = join(scratch.dataDir, 'db.json');
    const batches = existsSync(db) ? (JSON.parse(readFileSync(db, 'utf8')) as { batches: unknown[] }).batches : [];
    assert.deepEqual(batches, []);
  });

  it('runs it only on Run Anyway, and its failure toast is short and offers Show Problems', async () => {
    await bench.runCommand('Notifications: Clear All Notifications');
    await bench.openFile('broken.jsonl');
    await bench.runCommand(commandTitle('ollamaBatch.runBatch'));
    await bench.notification('broken.jsonl has 2 problems').getByRole('button', { name: 'Run Anyway' }).click();
    const failed = bench.notification('Ollama Batch: broken.jsonl failed: 2 problems (line 2 first).');
    await failed.waitFor({ timeout: 120_000 });
    await bench.screenshot('failed toast');
    await failed.getByRole('button', { name: 'Show Problems' }).click();
    await bench.page.locator('.markers-panel .monaco-list-row', { hasText: 'duplicate_custom_id' }).waitFor();
  });
});
