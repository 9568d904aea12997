// The results panel as a user works in it, in code-server through the UI: a real run of the
// candidates on the tiny model (some lines cut short by max_tokens: answers that are not ok)
// joined to a candidates.csv with a column of awkward numbers (exponents, ±Infinity, negatives,
// text, empty). Sorting orders them as numbers with the rest
// last and scrolls to the top; the id column stays put while the table scrolls right, under a
// header no row shows through; a click shows the row's request, answer and source row in a pane
// in view; Export writes the filtered rows.
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'csv-parse/sync';
import type { FrameLocator, Locator } from 'playwright-core';
import { quote } from '../../../server/common/csv-cells.js';
import { convertCsv } from '../../../server/csv/convert.js';
import { readSampleJob } from '../../fixtures/recruiting/sample-job.js';
import { commandTitle } from './installed.js';
import { uiSuite } from './ui-suite.js';

const CANDIDATES = 40;
/** Every CUT-th line may answer 4 tokens: cut short, unparseable, an answer that is not ok. */
const CUT = 8;
/** The added column's values, row after row, and their order by value, highest first. */
const AWKWARD = ['-17', '-8.92711e+281', '-7', '9e+65', '14', 'Infinity', 'n/a', '-Infinity', '', '1e3'];
const DESCENDING = ['Infinity', '9e+65', '1e3', '14', '-7', '-17', '-8.92711e+281', '-Infinity', 'n/a', ''];
const COLUMN = 'expected_salary';

/** candidates.csv with COLUMN added, its cells as AWKWARD's in turn. */
function addAwkwardColumn(path: string): void {
  const records: string[][] = parse(readFileSync(path), { bom: true });
  const lines = records.map((record, index) =>
    [...record, index === 0 ? COLUMN : AWKWARD[(index - 1) % AWKWARD.length]!]
      .map((cell) => quote(cell, ','))
      .join(','),
  );
  writeFileSync(path, `${lines.join('\r\n')}\r\n`);
}

/** Every CUT-th request of the JSONL at `path` gets max_tokens 4. */
function cutShort(path: string): void {
  const lines = readFileSync(path, 'utf8').trimEnd().split('\n');
  const cut = lines.map((line, index) => {
    if (index % CUT !== CUT - 1) return line;
    const request = JSON.parse(line) as { body: Record<string, unknown> };
    request.body.max_tokens = 4;
    return JSON.stringify(request);
  });
  writeFileSync(path, `${cut.join('\n')}\n`);
}

describe('Ollama Batch in code-server: the results panel', function () {
  const ui = uiSuite({
    kind: 'results',
    screenshots: 'e2e-results',
    candidates: CANDIDATES,
    prepare: async (scratch) => {
      const csv = join(scratch.workspace, 'candidates.csv');
      addAwkwardColumn(csv);
      const { rubric, template, schema } = readSampleJob();
      const jsonl = join(scratch.workspace, 'candidates.jsonl');
      await convertCsv({
        input: csv,
        output: jsonl,
        idColumn: 'candidate_id',
        model: 'tiny',
        systemPrompt: rubric,
        template,
        schema,
        numCtx: 4096,
      });
      cutShort(jsonl);
    },
  });
  let results: FrameLocator;

  const viewport = (): Locator => results.locator('#viewport');
  const headerCell = (name: string): Locator =>
    results.locator('#table-header .head-cell', { hasText: new RegExp(`^${name}$`) });
  /** The table's shown rows, top to bottom, as their cells' text. */
  const shownRows = (): Promise<string[][]> =>
    results
      .locator('#rows')
      .evaluate((rows) =>
        [...rows.querySelectorAll<HTMLElement>('.table-row:not([hidden]):not(.loading)')].map((row) =>
          [...row.children].map((cell) => cell.textContent ?? ''),
        ),
      );
  const columnIndex = async (name: string): Promise<number> =>
    (await results.locator('#table-header .head-cell').allTextContents()).indexOf(name);
  /** Clicks a header until the table is sorted by it in `order`, and waits for the sorted rows. */
  const sortBy = async (name: string, order: 'desc' | 'asc'): Promise<void> => {
    for (let clicks = 0; (await headerCell(name).getAttribute('data-sort')) !== order; clicks++) {
      assert.ok(clicks < 3, `${name} never sorted ${order}`);
      const before = await headerCell(name).getAttribute('data-sort');
      await headerCell(name).click();
      await results
        .locator(`#table-header .head-cell[data-sort="${before === 'desc' ? 'asc' : 'desc'}"]`, {
          hasText: new RegExp(`^${name}$`),
        })
        .waitFor();
    }
    await results.locator('#rows .table-row:not([hidden]):not(.loading)').first().waitFor();
    await results.locator('#busy').waitFor({ state: 'hidden' });
  };

  it(`runs candidates.jsonl (${CANDIDATES} lines) and opens its results joined to candidates.csv`, async () => {
    await ui.openWorkspace();
    await ui.daemonRunning().waitFor({ timeout: 120_000 });
    await ui.bench.openFile('candidates.jsonl');
    await ui.bench.runCommand(commandTitle('ollamaBatch.runBatch'));
    await ui.bench.notification(/candidates\.jsonl completed/).waitFor({ timeout: 300_000 });
    await ui.bench.runCommand(commandTitle('ollamaBatch.analyzeResults'));
    await ui.bench.quickPickRowWith('candidates.jsonl').click();
    results = await ui.bench.webview('Results candidates.jsonl');
    await results.locator('#rows .table-row:not(.loading)').first().waitFor({ timeout: 60_000 });
  });

  it('shows the id column first, then the answer columns, then the CSV columns', async () => {
    const columns = await results.locator('#table-header .head-cell').allTextContents();
    // The expected score's columns (the tiny model's logprobs give one) come right after the score's.
    assert.deepEqual(columns.slice(0, 2), ['candidate_id', 'score'], columns.join(', '));
    assert.ok(columns.indexOf('decision') < columns.indexOf('name'), columns.join(', '));
    assert.ok(columns.indexOf('reason') < columns.indexOf('name'), columns.join(', '));
    assert.ok(columns.indexOf('status') < columns.indexOf('name'), columns.join(', '));
  });

  it('sorts exponents, ±Infinity and negatives as numbers, text and empty cells last, both ways', async () => {
    const column = await columnIndex(COLUMN);
    await sortBy(COLUMN, 'desc');
    const expected = DESCENDING.flatMap((value) => Array<string>(CANDIDATES / AWKWARD.length).fill(value));
    const desc = (await shownRows()).map((row) => row[column]);
    assert.ok(desc.length >= 10, `only ${desc.length} rows drawn`);
    assert.deepEqual(desc, expected.slice(0, desc.length));
    // The cells as the CSV has them: no apostrophe a spreadsheet export would add.
    assert.ok(desc.includes('-Infinity') || desc.length < 16, desc.join(' | '));

    await sortBy(COLUMN, 'asc');
    const ascending = [
      ...DESCENDING.slice(0, 8).reverse(),
      ...DESCENDING.slice(8), // n/a, then the empty cells: last in both orders
    ].flatMap((value) => Array<string>(CANDIDATES / AWKWARD.length).fill(value));
    const asc = (await shownRows()).map((row) => row[column]);
    assert.deepEqual(asc, ascending.slice(0, asc.length));
    assert.equal(asc[0], '-Infinity', 'no leading apostrophe');
  });

  it('sorts the answers by score: valid numbers first, then invalid answers, then failures', async () => {
    const [score, status] = [await columnIndex('score'), await columnIndex('status')];
    await sortBy('score', 'desc');
    const rows = await shownRows();
    const ok = rows.filter((row) => row[status] === 'ok');
    // Every ok row comes before every other one.
    assert.deepEqual(
      rows.slice(0, ok.length).map((row) => row[status]),
      ok.map(() => 'ok'),
      rows.map((row) => `${row[score]} ${row[status]}`).join(' | '),
    );
    const numbers = ok.map((row) => Number(row[score]));
    assert.deepEqual(
      numbers,
      [...numbers].sort((a, b) => b - a),
    );
    const invalid = rows
      .slice(ok.length)
      .filter((row) => row[score] !== '')
      .map((row) => Number(row[score]));
    assert.ok(
      invalid.every((number, index) => index === 0 || invalid[index - 1]! >= number),
      invalid.join(', '),
    );
  });

  it('scrolls back to the top on a sort', async () => {
    await viewport().evaluate((element) => {
      element.scrollTop = element.scrollHeight;
    });
    assert.ok((await viewport().evaluate((element) => element.scrollTop)) > 0, 'the table scrolls');
    await sortBy(COLUMN, 'desc');
    assert.equal(await viewport().evaluate((element) => element.scrollTop), 0);
    assert.equal((await shownRows())[0]![await columnIndex(COLUMN)], 'Infinity');
  });

  it('keeps the id column in view when scrolled right, with no row over the header', async () => {
    /** Where the first drawn row's id cell and second cell, and the header's id cell, are, from the viewport's left. */
    const lefts = (): Promise<number[]> =>
      viewport().evaluate((element) => {
        const row = element.querySelector('#rows .table-row:not([hidden])')!;
        const cells = [row.children[0]!, row.children[1]!, element.querySelector('#table-header .cell.frozen')!];
        const left = element.getBoundingClientRect().left;
        return cells.map((cell) => cell.getBoundingClientRect().left - left);
      });
    // A click on a header scrolls it into view: from the left edge first.
    await viewport().evaluate((element) => {
      element.scrollLeft = 0;
    });
    const [idBefore, secondBefore] = await lefts();
    await viewport().evaluate((element) => {
      // Past the first screen's width, where a header as wide as the viewport alone would end.
      element.scrollLeft = element.clientWidth + 200;
      element.scrollTop = 100;
    });
    await results.locator('#rows .table-row:not([hidden]):not(.loading)').first().waitFor();
    const [idAfter, secondAfter, headerAfter] = await lefts();
    assert.ok(secondAfter! < secondBefore! - 300, `the other columns scrolled left: ${secondBefore} → ${secondAfter}`);
    assert.ok(Math.abs(idAfter! - idBefore!) < 1, `the id column moved: ${idBefore} → ${idAfter}`);
    assert.ok(Math.abs(headerAfter! - idBefore!) < 1, 'its header with it');
    assert.ok(idAfter! < 3, 'at the left edge');
    // The header is opaque across the whole viewport, and whatever is drawn at its points is it.
    const header = await viewport().evaluate((element) => {
      const head = element.querySelector('#table-header')!;
      const [box, view] = [head.getBoundingClientRect(), element.getBoundingClientRect()];
      return {
        covers: box.left <= view.left + 1 && box.right >= view.left + element.clientWidth - 1,
        background: getComputedStyle(head).backgroundColor,
      };
    });
    assert.ok(header.covers, 'the header spans the viewport scrolled right');
    assert.doesNotMatch(header.background, /transparent|rgba\(.*, 0(\.\d+)?\)/);
    const covered = await viewport().evaluate((element) => {
      const header = element.querySelector('#table-header')!.getBoundingClientRect();
      const box = element.getBoundingClientRect();
      const points: boolean[] = [];
      for (let x = box.left + 4; x < box.right - 20; x += 25)
        points.push(document.elementFromPoint(x, header.top + header.height / 2)?.closest('#table-header') !== null);
      return points;
    });
    assert.ok(covered.length > 5 && covered.every(Boolean), JSON.stringify(covered));
  });

  it('shows a clicked row in a pane in view: its request, answer and source row', async () => {
    const row = results.locator('#rows .table-row:not([hidden]):not(.loading)').nth(2);
    const id = (await row.locator('.cell.frozen').textContent())!;
    await row.click();
    const detail = results.locator('#detail');
    await detail.locator('#detail-id', { hasText: id }).waitFor();
    await detail.locator('h3', { hasText: 'Row' }).waitFor();
    const inView = await detail.evaluate((element) => {
      const box = element.getBoundingClientRect();
      return box.width > 200 && box.top >= 0 && box.left >= 0 && box.right <= innerWidth + 1 && box.top < innerHeight;
    });
    assert.ok(inView, 'the detail pane is in the window');
    // The rendered prompt: the template filled with this row's cells.
    await detail.locator('h3', { hasText: 'Request' }).waitFor();
    const text = (await detail.textContent()) ?? '';
    assert.ok(/Answer|Error/.test(text), text);
    const name = (await detail
      .locator('.source-row dt', { hasText: /^name$/ })
      .locator('xpath=following-sibling::dd[1]')
      .textContent())!;
    assert.ok(name.length > 0 && text.includes(name), `the source row's name ${name} in the request`);
    // The table is not under the pane.
    const [pane, table] = [await detail.boundingBox(), await viewport().boundingBox()];
    assert.ok(table!.x + table!.width <= pane!.x + 1, 'the table makes room for the pane');
    // The README's picture: the table sorted, a row's detail beside it.
    await viewport().evaluate((element) => {
      element.scrollLeft = 0;
      element.scrollIntoView({ block: 'end' });
    });
    // Without the run's completion toast over the pane.
    for (const toast of await ui.bench.page.locator('.notifications-toasts .notification-toast').all())
      await toast.getByRole('button', { name: /^Clear Notification/ }).click();
    await ui.bench.page.locator('.notifications-toasts .notification-toast').first().waitFor({ state: 'detached' });
    // Its own folder: ui.test.ts's workbench empties test-output/e2e when it starts.
    await ui.bench.page.screenshot({ path: join(ui.screenshots, 'results-panel.png') });
  });

  it('exports the filtered rows, as shown, and says so', async () => {
    await results.locator('#filter-column').selectOption({ label: COLUMN });
    await results.locator('#filter-text').fill('>= 14');
    const kept = DESCENDING.slice(0, 4);
    const count = (CANDIDATES / AWKWARD.length) * kept.length;
    await results.locator('#row-count', { hasText: `(${count} of ${CANDIDATES})` }).waitFor();
    const button = results.locator('#export', { hasText: `Export ${count} Shown Rows` });
    await button.click();
    // The web workbench's save dialog: a quick input holding the proposed path; Enter saves there.
    const name = 'candidates.scored.filtered.csv';
    // It fills the box once it has listed the folder.
    await ui.bench.page.waitForFunction(
      (file) =>
        document
          .querySelector<HTMLInputElement>('.quick-input-widget .quick-input-box input')
          ?.value.endsWith(`/${file}`),
      name,
    );
    await ui.bench.page.keyboard.press('Enter');
    await ui.bench
      .notification(new RegExp(`wrote ${count} rows to ${name.replaceAll('.', '\\.')}, filtered by ${COLUMN} >= 14`))
      .waitFor();
    const target = join(ui.scratch.workspace, name);
    const records: string[][] = parse(readFileSync(target), { bom: true });
    const header = records[0]!;
    assert.deepEqual(header.slice(0, 2), ['candidate_id', 'score']);
    const rows = records.slice(1);
    assert.equal(rows.length, count);
    const values = rows.map((row) => row[header.indexOf(COLUMN)]);
    assert.deepEqual([...new Set(values)].sort(), [...kept].sort(), values.join(', '));
    // The order shown: sorted by COLUMN, descending.
    assert.deepEqual(
      values,
      kept.flatMap((value) => Array<string>(CANDIDATES / AWKWARD.length).fill(value)),
    );
  });
});
