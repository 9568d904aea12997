// The results panel's script (bundled into media/webview/results.js): the report's counts,
// histograms and decisions, the top and bottom rows, and the virtualised table of every row.
// Only the rows in view (and a few either side) are in the DOM, drawn into a fixed pool of row
// elements; their cells come in pages that the panel reads from the scored CSV on request.
import { formatCount, formatShare } from './numbers.js';
import type {
  FromResultsWebview,
  ReportView,
  ResultsState,
  RowDetail,
  TableView,
  ToResultsWebview,
  TopRowView,
} from './messages.js';
import { pagesOf, visibleWindow } from './virtual-window.js';

declare function acquireVsCodeApi(): {
  postMessage(message: FromResultsWebview): void;
  setState(state: ResultsState): void;
};

const vscode = acquireVsCodeApi();
const ROW_HEIGHT = 24;
const OVERSCAN = 12;
const PAGE_SIZE = 100;
const KEPT_PAGES = 40;
const FILTER_DELAY_MS = 300;

function element<T extends HTMLElement = HTMLElement>(id: string): T {
  const found = document.getElementById(id);
  if (!found) throw new Error(`the results page has no #${id}`);
  return found as T;
}

function make<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  className?: string,
  text?: string,
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

// ---- the report

function drawSummary(report: ReportView): void {
  const summary = element('summary');
  // Schema-valid of all results first: the answers that can be trusted.
  const items: Array<[string, string]> = [
    [report.valid.label, `${formatCount(report.valid.count)} of ${formatCount(report.valid.total)}`],
    ['Lines', formatCount(report.lines)],
    ['Succeeded', formatCount(report.succeeded)],
    ['Failed', formatCount(report.failed)],
    ['Invalid answers', formatCount(report.invalid)],
    [
      'Unparseable answers',
      `${formatCount(report.unparseable)}${report.repaired > 0 ? ` (${formatCount(report.repaired)} repaired)` : ''}`,
    ],
    ['Prompt / completion tokens', `${formatCount(report.tokens.prompt)} / ${formatCount(report.tokens.completion)}`],
    ['Cached share', report.tokens.prompt > 0 ? formatShare(report.tokens.cached / report.tokens.prompt) : '–'],
    [
      'Latency p50 / p95 / p99',
      report.latency
        ? `${[report.latency.p50, report.latency.p95, report.latency.p99].map((ms) => formatCount(Math.round(ms))).join(' / ')} ms`
        : '–',
    ],
  ];
  summary.replaceChildren(
    ...items.map(([label, value]) => {
      const item = make('div');
      item.append(make('dt', undefined, label), make('dd', undefined, value));
      return item;
    }),
  );
  if (report.invalidReasons.length > 0) {
    const item = make('div', 'wide');
    item.append(
      make('dt', undefined, 'Why invalid'),
      make(
        'dd',
        'small',
        report.invalidReasons.map(({ reason, count }) => `${reason} ${formatCount(count)}`).join(' · '),
      ),
    );
    summary.append(item);
  }
  if (report.failuresByCode.length > 0) {
    const item = make('div', 'wide');
    item.append(
      make('dt', undefined, 'Failures by code'),
      make('dd', 'small', report.failuresByCode.map(({ code, count }) => `${code} ${formatCount(count)}`).join(' · ')),
    );
    summary.append(item);
  }
}

/** Horizontal bars, the longest full width: histogram bins and decision counts alike. */
function bars(title: string, rows: Array<{ label: string; count: number }>, note: string): HTMLElement {
  const section = make('section', 'distribution');
  section.append(make('h2', undefined, title));
  const most = Math.max(1, ...rows.map((row) => row.count));
  const list = make('div', 'bars');
  for (const row of rows) {
    const bar = make('div', 'bar');
    bar.style.setProperty('--share', String(row.count / most));
    bar.append(
      make('span', 'bar-label', row.label),
      make('span', 'bar-fill'),
      make('span', 'bar-count', formatCount(row.count)),
    );
    list.append(bar);
  }
  section.append(list, make('p', 'muted', note));
  return section;
}

const number = (value: number): string => (Number.isInteger(value) ? String(value) : value.toPrecision(3));

function drawDistributions(report: ReportView): void {
  element('distributions').replaceChildren(
    ...report.histograms.map((histogram) =>
      bars(
        histogram.field,
        histogram.bins.map((bin) => ({
          label: bin.from === bin.to ? number(bin.from) : `${number(bin.from)} – ${number(bin.to)}`,
          count: bin.count,
        })),
        [
          histogram.stats
            ? `mean ${number(histogram.stats.mean)} · median ${number(histogram.stats.p50)} · p95 ${number(histogram.stats.p95)}`
            : 'no valid number',
          histogram.leftOut,
        ]
          .filter(Boolean)
          .join(' · '),
      ),
    ),
    ...report.enums.map((field) =>
      bars(
        field.field,
        field.counts.map(({ value, count }) => ({ label: value, count })),
        `${field.counts.length} values`,
      ),
    ),
  );
}

function drawExtremes(id: string, rows: TopRowView[], sortBy: string | null): void {
  const table = element<HTMLTableElement>(id);
  const head = make('tr');
  head.append(
    make('th', undefined, 'custom_id'),
    make('th', undefined, sortBy ?? 'value'),
    make('th', undefined, 'reason'),
  );
  table.replaceChildren(head);
  for (const row of rows) {
    const line = make('tr', 'clickable');
    line.append(
      make('td', undefined, row.customId),
      make('td', 'number', row.value),
      make('td', undefined, row.reason ?? ''),
    );
    line.addEventListener('click', () => showDetail(row.customId));
    table.append(line);
  }
}

// ---- the table

let table: TableView | null = null;
const pages = new Map<number, string[][]>();
const requested = new Set<number>();
/** The row elements drawn, reused as the window moves; each remembers the row it shows. */
const pool: Array<{ element: HTMLElement; row: number; loaded: boolean }> = [];
let frame = 0;

const viewport = (): HTMLElement => element('viewport');

function setTable(view: TableView | null): void {
  // A new sort or filter starts at its first row, whatever the scroll was.
  viewport().scrollTop = 0;
  table = view;
  pages.clear();
  requested.clear();
  for (const slot of pool) slot.row = -1;
  element('no-table').hidden = view !== null;
  element('table-tools').hidden = view === null;
  viewport().hidden = view === null;
  // Export writes what is shown: the button says how many rows that is (without a table, the
  // daemon joins every row).
  element('export').textContent = !view
    ? 'Export Scored CSV…'
    : view.rowCount === view.totalRows
      ? `Export ${formatCount(view.rowCount)} Rows…`
      : `Export ${formatCount(view.rowCount)} Shown Rows…`;
  if (!view) return;
  element('row-count').textContent =
    view.rowCount === view.totalRows
      ? `(${formatCount(view.totalRows)})`
      : `(${formatCount(view.rowCount)} of ${formatCount(view.totalRows)})`;
  document.documentElement.style.setProperty('--columns', `repeat(${view.columns.length}, 180px)`);
  drawHeader(view);
  drawFilterColumns(view);
  schedule();
}

function drawHeader(view: TableView): void {
  element('table-header').replaceChildren(
    ...view.columns.map((column, index) => {
      const cell = make('button', index === view.idColumn ? 'cell head-cell frozen' : 'cell head-cell', column);
      cell.type = 'button';
      cell.title = `Sort by ${column}`;
      if (view.sort?.column === index) cell.dataset.sort = view.sort.order;
      cell.addEventListener('click', () => {
        // desc → asc → the CSV's own order
        const sort =
          view.sort?.column !== index
            ? { column: index, order: 'desc' as const }
            : view.sort.order === 'desc'
              ? { column: index, order: 'asc' as const }
              : null;
        vscode.postMessage({ type: 'view', sort, filter: view.filter });
      });
      return cell;
    }),
  );
}

function drawFilterColumns(view: TableView): void {
  const select = element<HTMLSelectElement>('filter-column');
  const names = view.columns.join('\u0000');
  if (select.dataset.columns === names) return;
  select.dataset.columns = names;
  select.replaceChildren(...view.columns.map((column, index) => new Option(column, String(index))));
  // The first answer field (the score), right after the id: a good first guess.
  select.value = String(Math.min(view.columns.length - 1, view.idColumn === null ? 0 : view.idColumn + 1));
}

let filterTimer: ReturnType<typeof setTimeout> | undefined;
function onFilterInput(): void {
  clearTimeout(filterTimer);
  filterTimer = setTimeout(() => {
    if (!table) return;
    const text = element<HTMLInputElement>('filter-text').value;
    const filter =
      text.trim() === '' ? null : { column: Number(element<HTMLSelectElement>('filter-column').value), text };
    vscode.postMessage({ type: 'view', sort: table.sort, filter });
  }, FILTER_DELAY_MS);
}

function schedule(): void {
  if (frame === 0) frame = requestAnimationFrame(draw);
}

/** Draws the rows in view into the pool and asks for the pages that are missing. */
function draw(): void {
  frame = 0;
  if (!table) return;
  const scroller = viewport();
  const headerHeight = element('table-header').offsetHeight;
  const span = visibleWindow({
    scrollTop: scroller.scrollTop,
    viewportHeight: scroller.clientHeight - headerHeight,
    rowHeight: ROW_HEIGHT,
    rowCount: table.rowCount,
    overscan: OVERSCAN,
  });
  element('spacer').style.height = `${span.height}px`;
  const rows = element('rows');
  rows.style.transform = `translateY(${span.offset}px)`;
  const count = span.end - span.first;
  while (pool.length < count) {
    const row = make('div', 'table-row');
    row.setAttribute('role', 'row');
    row.addEventListener('click', () => {
      const shown = pool.find((slot) => slot.element === row);
      const cells = shown && rowCells(shown.row);
      if (cells && table?.idColumn !== null && table?.idColumn !== undefined) {
        showDetail(cells[table.idColumn] ?? '');
        for (const slot of pool) markSelected(slot.element, rowCells(slot.row));
      }
    });
    pool.push({ element: row, row: -1, loaded: false });
    rows.append(row);
  }
  for (const [index, slot] of pool.entries()) {
    slot.element.hidden = index >= count;
    if (index >= count) continue;
    const row = span.first + index;
    const cells = rowCells(row);
    if (slot.row === row && slot.loaded === (cells !== null)) continue;
    slot.row = row;
    slot.loaded = cells !== null;
    fillRow(slot.element, cells, table.columns.length, table.idColumn);
  }
  requestPages(span.first, span.end);
}

function rowCells(row: number): string[] | null {
  return pages.get(Math.floor(row / PAGE_SIZE))?.[row % PAGE_SIZE] ?? null;
}

/** The row whose detail is shown stands out. */
function markSelected(row: HTMLElement, cells: string[] | null): void {
  const id = table?.idColumn ?? null;
  row.classList.toggle('selected', id !== null && cells !== null && cells[id] === element('detail-id').textContent);
}

function fillRow(row: HTMLElement, cells: string[] | null, width: number, frozen: number | null): void {
  row.classList.toggle('loading', cells === null);
  markSelected(row, cells);
  while (row.childElementCount < width) row.append(make('span', 'cell'));
  while (row.childElementCount > width) row.lastElementChild!.remove();
  for (let column = 0; column < width; column++) {
    const cell = row.children[column] as HTMLElement;
    cell.classList.toggle('frozen', column === frozen);
    const text = cells?.[column] ?? '';
    cell.textContent = text;
    cell.title = text.length > 30 ? text : '';
  }
}

function requestPages(first: number, end: number): void {
  if (!table) return;
  const wanted = pagesOf(first, end, PAGE_SIZE);
  for (const page of wanted) {
    if (pages.has(page) || requested.has(page)) continue;
    requested.add(page);
    vscode.postMessage({ type: 'rows', version: table.version, start: page * PAGE_SIZE, count: PAGE_SIZE });
  }
  // Keep the pages near the window; the rest are asked for again if scrolled back to.
  if (pages.size > KEPT_PAGES) {
    const middle = wanted[0] ?? 0;
    const far = [...pages.keys()].sort((a, b) => Math.abs(b - middle) - Math.abs(a - middle));
    for (const page of far.slice(0, pages.size - KEPT_PAGES)) pages.delete(page);
  }
}

// ---- the detail pane

/** The pane on the right, always in view: the page's content makes room for it. */
function openDetail(open: boolean): void {
  element('detail').hidden = !open;
  document.body.classList.toggle('detail-open', open);
  if (open) return;
  element('detail-id').textContent = '';
  for (const slot of pool) markSelected(slot.element, rowCells(slot.row));
}

function showDetail(customId: string): void {
  if (customId === '') return;
  openDetail(true);
  element('detail-id').textContent = customId;
  element('detail-body').replaceChildren(make('p', 'muted', 'Finding its lines…'));
  vscode.postMessage({ type: 'detail', customId });
}

function drawDetail(detail: RowDetail): void {
  if (element('detail-id').textContent !== detail.customId) return;
  const body = element('detail-body');
  body.replaceChildren();
  if (detail.messages === null) body.append(make('p', 'muted', 'The input has no line with this custom_id.'));
  for (const message of detail.messages ?? []) {
    const block = make('details', 'message');
    // The rubric (system) is the same on every line: closed; the row's own message: open.
    block.open = message.role !== 'system';
    block.append(make('summary', undefined, message.role), make('pre', undefined, message.content));
    body.append(block);
  }
  if (detail.messages !== null) body.prepend(make('h3', undefined, 'Request'));
  if (detail.answer !== null) {
    body.append(make('h3', undefined, 'Answer'), make('pre', 'answer', detail.answer));
  }
  if (detail.error !== null) body.append(make('h3', undefined, 'Error'), make('pre', 'error', detail.error));
  if (detail.answer === null && detail.error === null)
    body.append(make('p', 'muted', 'No result for this custom_id yet.'));
  if (detail.row) {
    const list = make('dl', 'source-row');
    for (const { column, value } of detail.row)
      list.append(make('dt', undefined, column), make('dd', undefined, value));
    body.append(make('h3', undefined, 'Row'), list);
  }
}

// ---- messages

window.addEventListener('message', (event: MessageEvent<ToResultsWebview>) => {
  const message = event.data;
  switch (message.type) {
    case 'report':
      vscode.setState(message.state);
      element('title').textContent = message.report.title;
      drawSummary(message.report);
      drawDistributions(message.report);
      drawExtremes('top', message.report.top, message.report.sortBy);
      drawExtremes('bottom', message.report.bottom, message.report.sortBy);
      drawExtremes('uncertain', message.report.uncertain, message.report.sortBy);
      element('partial-line').hidden = message.report.partial === '';
      element('partial').textContent = message.report.partial;
      element('cascade-line').hidden = message.report.cascade === '';
      element('cascade-line').textContent = message.report.cascade;
      element('expected-note').textContent = message.report.expectedNote;
      element('uncertain-section').hidden = message.report.uncertain.length === 0;
      openDetail(false);
      element<HTMLInputElement>('filter-text').value = '';
      setTable(message.table);
      break;
    case 'table':
      setTable(message.table);
      break;
    case 'rows':
      if (message.version !== table?.version) return;
      pages.set(Math.floor(message.start / PAGE_SIZE), message.rows);
      requested.delete(Math.floor(message.start / PAGE_SIZE));
      schedule();
      break;
    case 'detail':
      drawDetail(message.detail);
      break;
    case 'busy': {
      const busy = element('busy');
      busy.hidden = message.message === null;
      busy.textContent = message.message ?? '';
      break;
    }
  }
});

viewport().addEventListener('scroll', schedule, { passive: true });
new ResizeObserver(schedule).observe(viewport());
element('filter-text').addEventListener('input', onFilterInput);
element('filter-column').addEventListener('change', onFilterInput);
element('export').addEventListener('click', () => vscode.postMessage({ type: 'export' }));
element('refresh').addEventListener('click', () => vscode.postMessage({ type: 'refresh' }));
element('detail-close').addEventListener('click', () => openDetail(false));

vscode.postMessage({ type: 'ready' });
