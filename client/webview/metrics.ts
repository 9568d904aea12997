// The metrics panel's script (bundled for the browser into media/webview/metrics.js). It says
// `ready`, then draws the snapshot and every batch update it is sent. Requests per second come
// from the updates of the last 30 seconds while a batch runs, and from its whole run once over.
import type { BatchView, FromWebview, ToWebview } from './messages.js';

declare function acquireVsCodeApi(): { postMessage(message: FromWebview): void };

const RATE_WINDOW_MS = 30_000;

const vscode = acquireVsCodeApi();
let samples: Array<{ at: number; done: number }> = [];
let sampledBatchId: string | null = null;

function element<T extends HTMLElement = HTMLElement>(id: string): T {
  const found = document.getElementById(id);
  if (!found) throw new Error(`metrics.html has no #${id}`);
  return found as T;
}

const format = (value: number): string => value.toLocaleString();

function requestsPerSecond(batch: BatchView): number | null {
  const done = batch.completed + batch.failed;
  if (batch.over) {
    const seconds = batch.startedAt !== null && batch.endedAt !== null ? batch.endedAt - batch.startedAt : 0;
    return seconds > 0 ? done / seconds : null;
  }
  if (batch.status !== 'in_progress') return null;
  if (batch.id !== sampledBatchId) {
    samples = [];
    sampledBatchId = batch.id;
  }
  const now = Date.now();
  samples.push({ at: now, done });
  samples = samples.filter((sample) => now - sample.at <= RATE_WINDOW_MS);
  const first = samples[0]!;
  const seconds = (now - first.at) / 1000;
  return seconds >= 1 ? (done - first.done) / seconds : null;
}

function draw(batch: BatchView | null): void {
  document.body.classList.toggle('empty', batch === null);
  if (!batch) return;
  const done = batch.completed + batch.failed;
  const rate = requestsPerSecond(batch);
  element('batch-id').textContent = batch.id;
  element('model').textContent = batch.model ?? '';
  element('status').textContent = batch.status;
  element('status').dataset.status = batch.status;
  const paused = element('paused');
  paused.hidden = batch.pausedReason === null;
  paused.textContent = batch.pausedReason === null ? '' : `Paused: ${batch.pausedReason}`;
  const progress = element<HTMLProgressElement>('progress');
  progress.max = Math.max(batch.total, 1);
  progress.value = done;
  element('done').textContent = `${format(done)} / ${format(batch.total)}`;
  element('failed').textContent = format(batch.failed);
  element('rate').textContent = rate === null ? '–' : rate.toFixed(rate < 10 ? 2 : 1);
  element('prompt-tokens').textContent = format(batch.promptTokens);
  element('cached-tokens').textContent = format(batch.cachedTokens);
  element('completion-tokens').textContent = format(batch.completionTokens);
}

window.addEventListener('message', (event: MessageEvent<ToWebview>) => {
  const message = event.data;
  switch (message.type) {
    case 'snapshot':
      samples = [];
      sampledBatchId = null;
      draw(message.batch);
      break;
    case 'batch':
      draw(message.batch);
      break;
  }
});

vscode.postMessage({ type: 'ready' });
