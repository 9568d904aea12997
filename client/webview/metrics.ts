// The metrics panel's script (bundled for the browser into media/webview/metrics.js, uPlot and
// its CSS included). It says `ready`, draws the snapshot (counters and the stored time series),
// then appends the point a second that the panel forwards. Colours are VS Code's theme
// variables, read again when the theme changes.
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import {
  ERROR_CLASSES,
  type BatchView,
  type EndpointView,
  type FromMetricsWebview,
  type MetricsCounters,
  type PoolView,
  type ToMetricsWebview,
} from './messages.js';
import { orDash, paceCells, vramText } from './counters.js';
import { formatCount, formatDuration, formatRate, formatShare } from './numbers.js';
import { SeriesBuffer, latestValue, type SeriesKey } from './series.js';
import { timeFormat, timeTicks } from './time-axis.js';

declare function acquireVsCodeApi(): {
  postMessage(message: FromMetricsWebview): void;
  setState(state: { batchId: string }): void;
};

const vscode = acquireVsCodeApi();
const buffer = new SeriesBuffer();
const CHART_HEIGHT = 180;
/** VS Code's chart colours, with its dark theme's values for a theme that lacks them. */
const PALETTE: Array<[string, string]> = [
  ['--vscode-charts-blue', '#3794ff'],
  ['--vscode-charts-orange', '#d18616'],
  ['--vscode-charts-red', '#f14c4c'],
  ['--vscode-charts-green', '#89d185'],
  ['--vscode-charts-purple', '#b180d7'],
  ['--vscode-charts-yellow', '#cca700'],
];

interface Line {
  key: SeriesKey;
  label: string;
  /** A second scale, drawn on a right-hand axis. */
  right?: boolean;
}

const CHARTS: Array<{ id: string; lines: Line[] }> = [
  { id: 'chart-throughput', lines: [{ key: 'requestsPerSecond', label: 'req/s' }] },
  {
    id: 'chart-latency',
    lines: [
      { key: 'latencyP50', label: 'p50' },
      { key: 'latencyP95', label: 'p95' },
      { key: 'latencyP99', label: 'p99' },
    ],
  },
  {
    id: 'chart-tokens',
    lines: [
      { key: 'promptTokens', label: 'prompt' },
      { key: 'cachedTokens', label: 'cached' },
      { key: 'completionTokens', label: 'completion' },
    ],
  },
  {
    id: 'chart-context',
    lines: [
      { key: 'contextUtilisation', label: 'utilisation %' },
      { key: 'trims', label: 'trims', right: true },
    ],
  },
  { id: 'chart-vram', lines: [{ key: 'vramUsedMiB', label: 'MiB' }] },
  { id: 'chart-errors', lines: ERROR_CLASSES.map((name) => ({ key: `error:${name}` as const, label: name })) },
];

function element<T extends HTMLElement = HTMLElement>(id: string): T {
  const found = document.getElementById(id);
  if (!found) throw new Error(`the metrics page has no #${id}`);
  return found as T;
}

const themeColour = (name: string, fallback: string): string =>
  getComputedStyle(document.body).getPropertyValue(name).trim() || fallback;

/** Axis labels: 12k, 3.4M. */
const short = (value: number): string =>
  Math.abs(value) >= 1e6 ? `${value / 1e6}M` : Math.abs(value) >= 1e4 ? `${value / 1e3}k` : String(value);

const measuring = document.createElement('canvas').getContext('2d');
/** A label's width in CSS pixels, in the axes' font. */
function textWidth(text: string, font: string): number {
  if (!measuring) return text.length * 7;
  measuring.font = font;
  return measuring.measureText(text).width;
}

/** The time axis' ticks: as many as fit the plot's width with their labels apart. */
function timeAxisTicks(chart: uPlot, font: string, min: number, max: number): number[] {
  const offsetSeconds = -new Date(min * 1000).getTimezoneOffset() * 60;
  const labelWidth = textWidth(timeFormat(max - min).widest, font);
  return timeTicks(min, max, chart.bbox.width / uPlot.pxRatio, labelWidth, offsetSeconds);
}

/**
 * The time axis' labels as text under the plot rather than on the canvas, so that the page (and
 * a test) can see where each one lies. Drawn again on every redraw of the chart.
 */
function drawTimeLabels(chart: uPlot, font: string): void {
  const wrap = chart.root.querySelector('.u-wrap')!;
  let labels = wrap.querySelector<HTMLElement>('.time-labels');
  if (!labels) {
    labels = document.createElement('div');
    labels.className = 'time-labels';
    wrap.append(labels);
  }
  const { min = 0, max = 0 } = chart.scales.x!;
  const { format } = timeFormat(max - min);
  const left = chart.bbox.left / uPlot.pxRatio;
  // The font the ticks were spaced for.
  labels.style.font = font;
  labels.style.top = `${(chart.bbox.top + chart.bbox.height) / uPlot.pxRatio + 12}px`;
  labels.replaceChildren(
    ...timeAxisTicks(chart, font, min, max).map((tick) => {
      const label = document.createElement('span');
      label.className = 'time-label';
      label.textContent = format(tick);
      label.style.left = `${left + chart.valToPos(tick, 'x')}px`;
      return label;
    }),
  );
}

/** A legend's value: the hovered point's, else the latest, so the legend reads without hovering. */
const legendValue =
  (format: (value: number) => string) =>
  (chart: uPlot, value: number | null, seriesIndex: number, index: number | null): string => {
    const shown = index === null ? latestValue(chart.data[seriesIndex]!) : value;
    return shown === null ? '–' : format(shown);
  };

function chartOptions(lines: Line[], width: number): uPlot.Options {
  const foreground = themeColour('--vscode-foreground', '#888');
  const grid = { stroke: themeColour('--vscode-charts-lines', 'rgba(128,128,128,0.25)'), width: 1 };
  const font = `11px ${themeColour('--vscode-font-family', 'sans-serif')}`;
  const axis = { stroke: foreground, grid, ticks: grid, font, values: (_: uPlot, ticks: number[]) => ticks.map(short) };
  const time = (seconds: number): string => new Date(seconds * 1000).toLocaleTimeString();
  return {
    width,
    height: CHART_HEIGHT,
    scales: { x: { time: true } },
    series: [
      { value: legendValue(time) },
      ...lines.map((line, index) => ({
        label: line.label,
        stroke: themeColour(...PALETTE[index % PALETTE.length]!),
        width: 1.5,
        spanGaps: true,
        scale: line.right ? 'right' : 'y',
        value: legendValue((value) => formatCount(Math.round(value * 100) / 100)),
      })),
    ],
    axes: [
      {
        stroke: foreground,
        grid,
        ticks: grid,
        font,
        splits: (chart: uPlot, _: number, min: number, max: number) => timeAxisTicks(chart, font, min, max),
        // Drawn as text by drawTimeLabels.
        values: (_: uPlot, ticks: number[]) => ticks.map(() => ''),
      },
      { ...axis, size: 56 },
      ...(lines.some((line) => line.right)
        ? [{ ...axis, scale: 'right', side: 1, grid: { show: false }, size: 48 }]
        : []),
    ],
    legend: { live: true },
    hooks: { draw: [(chart: uPlot) => drawTimeLabels(chart, font)] },
  };
}

const charts = new Map<string, uPlot>();

/** (Re)creates every chart: at the start and when the theme's colours change. */
function createCharts(): void {
  for (const { id, lines } of CHARTS) {
    charts.get(id)?.destroy();
    const target = element(id);
    charts.set(
      id,
      new uPlot(chartOptions(lines, target.clientWidth || 400), buffer.data(lines.map((line) => line.key)), target),
    );
  }
}

function redrawData(): void {
  for (const { id, lines } of CHARTS) {
    const chart = charts.get(id);
    if (!chart) continue;
    chart.setData(buffer.data(lines.map((line) => line.key)));
    // The legend's latest values.
    chart.setLegend({});
  }
  element('vram-none').hidden = buffer.hasValue('vramUsedMiB');
}

function drawBatch(batch: BatchView): void {
  element('batch-id').textContent = batch.id;
  element('model').textContent = batch.model ?? '';
  const status = element('status');
  status.textContent = batch.status;
  status.dataset.status = batch.status;
  const paused = element('paused');
  paused.hidden = batch.pausedReason === null;
  paused.textContent = batch.pausedReason === null ? '' : `Paused: ${batch.pausedReason}`;
  const progress = element<HTMLProgressElement>('progress');
  progress.max = Math.max(batch.total, 1);
  progress.value = batch.completed + batch.failed;
}

function drawCounters(counters: MetricsCounters, batch: BatchView | null): void {
  const done = counters.done ?? (batch ? batch.completed + batch.failed : null);
  const total = counters.total ?? batch?.total ?? null;
  element('done').textContent =
    done === null ? '–' : `${formatCount(done)}${total === null ? '' : ` / ${formatCount(total)}`}`;
  const pace = paceCells(counters, batch?.over ?? false);
  element('rate-label').textContent = pace.rateLabel;
  element('rate').textContent = pace.rate;
  element('eta-label').textContent = pace.timeLabel;
  element('eta').textContent = pace.time;
  element('tokens').textContent = `${formatCount(counters.promptTokens)} / ${formatCount(counters.completionTokens)}`;
  element('cached').textContent = orDash(counters.cachedShare, formatShare);
  element('errors').textContent = `${formatCount(counters.errors)} (${formatCount(counters.retries)})`;
  element('latency').textContent =
    counters.latencyP50 === null
      ? '–'
      : `${formatCount(Math.round(counters.latencyP50))} / ${formatCount(Math.round(counters.latencyP95 ?? 0))} ms`;
  element('context').textContent = `${orDash(counters.numCtx, formatCount)} · ${formatCount(counters.trims)}`;
  const vram = element('vram');
  vram.textContent = vramText(counters, buffer.hasValue('vramUsedMiB'));
  vram.classList.toggle('warning', counters.vramSpilled);
  vram.title = counters.vramSpilled ? 'Part of the model is in system RAM: requests run slower.' : '';
}

/** "down 3m: connect ECONNREFUSED …", or "up". */
const stateText = (endpoint: EndpointView): string =>
  endpoint.up
    ? 'up'
    : endpoint.down
      ? `down ${formatDuration((Date.now() - endpoint.down.since) / 1000)}: ${endpoint.down.reason}`
      : 'down';

function cell(row: HTMLTableRowElement, text: string, className?: string): HTMLTableCellElement {
  const td = row.insertCell();
  td.textContent = text;
  if (className) td.className = className;
  return td;
}

/** With one endpoint a line; with several a table, a down row marked. Hidden without any (a finished batch). */
function drawPool(pool: PoolView): void {
  const { endpoints, adjustments } = pool;
  element('endpoints').hidden = endpoints.length === 0;
  element('endpoints-title').textContent = endpoints.length === 1 ? 'Engine' : 'Endpoints';
  const line = element('endpoint-line');
  const table = element('endpoint-table');
  line.hidden = endpoints.length !== 1;
  table.hidden = endpoints.length < 2;
  const only = endpoints.length === 1 ? endpoints[0]! : null;
  line.textContent = only
    ? [
        `${only.name} (${only.engine})`,
        stateText(only),
        `${formatCount(only.inFlight)}/${formatCount(only.concurrency)} in flight`,
        `${orDash(only.requestsPerSecond, formatRate)} req/s`,
        `${formatCount(only.answered)} answered`,
        `${formatCount(only.errors)} errors`,
      ].join(' · ')
    : '';
  line.classList.toggle('warning', only?.up === false);
  const rows = element<HTMLTableSectionElement>('endpoint-rows');
  rows.replaceChildren();
  if (endpoints.length > 1)
    for (const endpoint of endpoints) {
      const row = rows.insertRow();
      row.classList.toggle('down', !endpoint.up);
      cell(row, endpoint.name).title = endpoint.engine;
      cell(row, stateText(endpoint), 'state');
      cell(row, `${formatCount(endpoint.inFlight)}/${formatCount(endpoint.concurrency)}`, 'number');
      cell(row, orDash(endpoint.requestsPerSecond, formatRate), 'number');
      cell(row, formatCount(endpoint.answered), 'number');
      cell(row, formatCount(endpoint.errors), 'number');
      cell(row, formatCount(endpoint.hedgesWon), 'number');
    }
  element('adjustments').hidden = adjustments.length === 0;
  element('adjustment-list').replaceChildren(
    ...adjustments.map((adjustment) => {
      const item = document.createElement('li');
      item.textContent = `${new Date(adjustment.at).toLocaleTimeString()} ${adjustment.text}`;
      return item;
    }),
  );
}

let currentBatch: BatchView | null = null;
/** Drawn again when the batch ends: the run's totals replace its pace. */
let currentCounters: MetricsCounters | null = null;

window.addEventListener('message', (event: MessageEvent<ToMetricsWebview>) => {
  const message = event.data;
  switch (message.type) {
    case 'snapshot':
      vscode.setState({ batchId: message.batchId });
      currentBatch = message.batch;
      element('main').hidden = message.batch === null;
      element('placeholder').hidden = message.batch !== null;
      element('placeholder').textContent = message.problem ?? 'Loading…';
      currentCounters = message.counters;
      if (message.batch) drawBatch(message.batch);
      drawPool(message.pool ?? { endpoints: [], adjustments: [] });
      buffer.reset(message.points);
      if (currentCounters) drawCounters(currentCounters, message.batch);
      if (charts.size === 0) createCharts();
      redrawData();
      break;
    case 'batch':
      currentBatch = message.batch;
      drawBatch(message.batch);
      if (currentCounters) drawCounters(currentCounters, currentBatch);
      break;
    case 'metrics':
      currentCounters = message.counters;
      if (buffer.push(message.point)) redrawData();
      drawCounters(message.counters, currentBatch);
      drawPool(message.pool);
      break;
  }
});

new ResizeObserver(() => {
  for (const { id } of CHARTS) charts.get(id)?.setSize({ width: element(id).clientWidth, height: CHART_HEIGHT });
}).observe(document.body);
// VS Code marks the theme on the body's class.
let theme = document.body.className;
new MutationObserver(() => {
  if (document.body.className === theme) return;
  theme = document.body.className;
  if (charts.size > 0) createCharts();
}).observe(document.body, { attributes: true, attributeFilter: ['class'] });

vscode.postMessage({ type: 'ready' });
