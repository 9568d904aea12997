// The extension as a user meets it: the packed .vsix installed into code-server (a real VS Code),
// driven through its UI in Chromium on a workspace with the recruiter's sample data, the daemon
// on the llama-cpp engine with the tiny model. Steps run in order and share the window; each
// leaves a screenshot in test-output/e2e/. Command titles and view names come from package.json.
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { BROKEN_BATCH } from '../broken-batch.js';
import { SAMPLE_LINES } from '../scratch.js';
import { commandTitle, engineFolder, manifest } from './installed.js';
import { uiSuite } from './ui-suite.js';

const CANDIDATES = 30;

/** The palette's commands while the daemon runs: no `when`, or one on the running daemon alone. */
function paletteCommands(): string[] {
  const when = new Map((manifest.contributes.menus?.commandPalette ?? []).map((entry) => [entry.command, entry.when]));
  return manifest.contributes.commands
    .map(({ command }) => command)
    .filter((command) => [undefined, 'ollamaBatch.daemonState == running'].includes(when.get(command)));
}

/** The palette's "Container: Focus on Name View", which VS Code adds for each view. */
function focusViewTitle(id: string): string {
  const { container, view } = viewOf(id);
  const title = Object.values(manifest.contributes.viewsContainers ?? {})
    .flat()
    .find((contributed) => contributed.id === container)?.title;
  if (!title) throw new Error(`package.json contributes no view container ${container}`);
  return `${title}: Focus on ${view.name} View`;
}

function viewOf(id: string): { container: string; view: { id: string; name: string } } {
  for (const [container, views] of Object.entries(manifest.contributes.views ?? {})) {
    const view = views.find((contributed) => contributed.id === id);
    if (view) return { container, view };
  }
  throw new Error(`package.json contributes no view ${id}`);
}

describe('Ollama Batch in code-server, through the UI', function () {
  const ui = uiSuite({
    kind: 'e2e',
    screenshots: 'e2e',
    candidates: CANDIDATES,
    lendEngine: false,
    prepare: async (scratch) => {
      await writeFile(join(scratch.workspace, 'broken.jsonl'), BROKEN_BATCH);
    },
  });

  it('loads the workbench on the sample workspace', async () => {
    await ui.openWorkspace();
  });

  // The .vsix carries no node_modules, and nothing is lent to it: the daemon on the llama-cpp
  // engine cannot start until the extension has installed node-llama-cpp with npm (from npm's
  // cache here) into its global storage, as a user's would.
  it('offers Install Embedded Engine as the daemon cannot load the llama-cpp engine, and installs it', async () => {
    const offer = ui.bench.notification(/needs node-llama-cpp, which is not installed: install it with npm/);
    await offer.waitFor({ timeout: 120_000 });
    await ui.bench.screenshot('engine-missing');
    await offer.getByRole('button', { name: 'Install Embedded Engine' }).click();
    await ui.bench
      .notification(/the embedded engine \(node-llama-cpp [\d.]+\) is installed; the daemon started/)
      .waitFor({ timeout: 300_000 });
    // The pinned version, and nothing of the install left beside it.
    assert.deepEqual(readdirSync(dirname(engineFolder(ui.scratch))), [basename(engineFolder(ui.scratch))]);
    assert.ok(existsSync(join(engineFolder(ui.scratch), 'node_modules', 'node-llama-cpp', 'package.json')));
  });

  it('activates the extension: its status bar item shows the daemon running', async () => {
    await ui.daemonRunning().waitFor({ timeout: 120_000 });
  });

  // VS Code's own figure: the Running Extensions editor shows the time to load the main module
  // plus the synchronous part of activate() (codeLoadingTime + activateCallTime). Printed against
  // its 100 ms target, not asserted: a timing on a shared machine is no test (the README's figures).
  it('shows its activation time in Developer: Show Running Extensions', async () => {
    await ui.bench.runCommand('Developer: Show Running Extensions');
    const editor = ui.bench.page.locator('.runtime-extensions-editor');
    const row = editor
      .locator('.monaco-list-row')
      .filter({ has: ui.bench.page.locator('.name', { hasText: manifest.displayName }) });
    const time = row.locator('.activation-time', { hasText: /\d+ms/ });
    await time.waitFor({ timeout: 30_000 });
    const shown = (await time.textContent()) ?? '';
    const ms = Number(/(\d+)ms/.exec(shown)![1]);
    // The built-in extensions of the same startup, as a baseline: this machine's load moves them all.
    const others: number[] = [];
    for (const other of await editor
      .locator('.monaco-list-row')
      .filter({ hasNot: ui.bench.page.locator('.name', { hasText: manifest.displayName }) })
      .all()) {
      const match = /(\d+)ms/.exec((await other.locator('.activation-time').textContent()) ?? '');
      if (match) others.push(Number(match[1]));
    }
    const median = others.sort((a, b) => a - b)[Math.floor(others.length / 2)];
    console.log(
      `      activation: ${ms} ms, target < 100 ms (VS Code's Running Extensions: "${shown.trim()}"); ` +
        `the ${others.length} other extensions listed, same startup: median ${median} ms (ratio ${median ? (ms / median).toFixed(2) : '?'})`,
    );
    await ui.bench.screenshot('running-extensions');
    // It opens as a modal editor, over everything the next steps click.
    await ui.bench.page.keyboard.press('Escape');
    await editor.waitFor({ state: 'hidden' });
    assert.ok(ms > 0, `no activation time in "${shown}"`);
  });

  it('lists every Ollama Batch command in the palette', async () => {
    await ui.bench.openPalette('Ollama Batch: ');
    try {
      await ui.bench.paletteLists(paletteCommands().map(commandTitle), 'Ollama Batch: ', 30_000);
    } finally {
      await ui.bench.screenshot('palette');
      await ui.bench.page.keyboard.press('Escape');
    }
  });

  it(`runs sample.jsonl (${SAMPLE_LINES} lines) with Run Batch File`, async () => {
    await ui.bench.openFile('sample.jsonl');
    await ui.bench.runCommand(commandTitle('ollamaBatch.runBatch'));
    await ui.bench
      .notification(`sample.jsonl completed: ${SAMPLE_LINES} of ${SAMPLE_LINES} succeeded`)
      .waitFor({ timeout: 120_000 });
  });

  it(`converts candidates.csv (${CANDIDATES} rows) with Convert CSV to Batch`, async () => {
    await ui.bench.openFile('candidates.csv');
    await ui.bench.runCommand(commandTitle('ollamaBatch.convertCsv'));
    // The wizard's steps (test/vscode/e2e/wizard.test.ts walks them closely): the workspace's files offered first.
    await ui.bench.pick(/\(1\/6\)/, 'rubric.md');
    await ui.bench.pick(/\(2\/6\)/, 'template.txt');
    await ui.bench.pick(/\(3\/6\)/, 'candidate_id');
    await ui.bench.pick(/\(4\/6\)/, 'tiny');
    await ui.bench.pick(/\(5\/6\)/, 'score-schema.json');
    await ui.bench.page.locator('.quick-input-widget .quick-input-title', { hasText: '(6/6)' }).waitFor();
    await ui.bench.page.keyboard.press('Enter'); // no max_tokens
    await ui.bench.clickDialogButton(`Write ${CANDIDATES} Lines`);
    await ui.bench.notification(`wrote ${CANDIDATES} lines to candidates.jsonl`).waitFor({ timeout: 60_000 });
    assert.ok(existsSync(join(ui.scratch.workspace, 'candidates.jsonl')));
  });

  it('runs candidates.jsonl; the Batches tree shows it completed', async () => {
    await ui.bench.openFile('candidates.jsonl');
    await ui.bench.runCommand(commandTitle('ollamaBatch.runBatch'));
    await ui.bench.notification(/candidates\.jsonl completed/).waitFor({ timeout: 300_000 });
    await ui.bench.runCommand(focusViewTitle('ollamaBatch.batches'));
    // A completed batch reads "candidates.jsonl  30 ok"; other outcomes name their status first.
    await ui.bench
      .sideBarRows()
      .filter({ hasText: /^\s*candidates\.jsonl\s*[\d,]+ ok/ })
      .waitFor({ timeout: 30_000 });
  });

  it('shows the metrics panel with charts of the run', async () => {
    await ui.bench.runCommand(commandTitle('ollamaBatch.showMetrics'));
    const metrics = await ui.bench.webview(/Metrics/);
    await metrics.locator('#main').waitFor();
    await metrics.locator('#done', { hasText: /\d/ }).waitFor();
    // uPlot draws each chart into a canvas once it has points.
    await metrics.locator('.chart canvas').first().waitFor();
  });

  it('shows the results panel with a histogram and the table of rows', async () => {
    // Over the metrics panel: the palette, as it closes, hands the focus back to the webview, which
    // may take it after the batch pick has opened (vscode#93950). The pick stays open all the same.
    await ui.bench.runCommand(commandTitle('ollamaBatch.analyzeResults'));
    const row = ui.bench.quickPickRowWith('candidates.jsonl');
    await row.waitFor();
    await ui.bench.focusWebview();
    await row.click();
    const results = await ui.bench.webview(/Results/);
    // The schema's fields: the score as a histogram (its note gives the mean, or says no answer
    // held a valid number: the random-weight model may give none in 0–100), the decisions as counts.
    const distribution = (field: string) =>
      results.locator('#distributions section.distribution', {
        has: results.locator('h2', { hasText: new RegExp(`^${field}$`) }),
      });
    await distribution('score')
      .locator('p', { hasText: /^(mean|no valid number)/ })
      .waitFor();
    await distribution('decision').locator('.bar').first().waitFor();
    await results.locator('#rows > *').first().waitFor();
  });

  it('brings the results panel back after a reload of the window', async () => {
    // Through the command, so the workbench saves its editors (and the webview's state) first.
    const reloaded = ui.bench.page.waitForEvent('load', { timeout: 120_000 });
    await ui.bench.runCommand('Developer: Reload Window');
    await reloaded;
    await ui.bench.page.locator('.monaco-workbench').waitFor({ timeout: 120_000 });
    // The serializer analyses the batch again: the report and the table come back.
    const results = await ui.bench.webview(/Results/, 120_000);
    await results.locator('#distributions > *').first().waitFor({ timeout: 120_000 });
    await results.locator('#rows > *').first().waitFor();
  });

  it('lists the diagnostics of broken.jsonl in the Problems panel', async () => {
    await ui.bench.openFile('broken.jsonl');
    await ui.bench.runCommand('View: Toggle Problems');
    const problems = ui.bench.page.locator('.markers-panel .monaco-list-row');
    await problems.filter({ hasText: 'broken.jsonl' }).first().waitFor({ timeout: 60_000 });
    // One row per fault, with the daemon's validation code.
    for (const code of ['invalid_json_line', 'duplicate_custom_id']) await problems.filter({ hasText: code }).waitFor();
  });
});
