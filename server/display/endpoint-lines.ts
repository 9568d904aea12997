// The pool's endpoints as lines for people: the CLI's `status` and the extension's Check Engine
// say the same words (daemon/status carries their statuses).
import type { EndpointStatus } from '../protocol/endpoints.js';
import type { DaemonInfo } from '../protocol/methods.js';
import { gpuLines } from './gpu-lines.js';

const count = (value: number): string => value.toLocaleString('en-US');

/** UTC, as the CLI prints times: the time of day, with the date when it was not today. */
function since(at: number, now: number): string {
  const iso = new Date(at).toISOString();
  const today = iso.slice(0, 10) === new Date(now).toISOString().slice(0, 10);
  return `${today ? iso.slice(11, 19) : `${iso.slice(0, 10)} ${iso.slice(11, 19)}`} UTC`;
}

/** "up", or "down since 12:03:04 UTC: connect ECONNREFUSED 10.0.0.2:11434". */
function endpointState(status: EndpointStatus, now = Date.now()): string {
  if (status.up) return 'up';
  return status.down ? `down since ${since(status.down.since, now)}: ${status.down.reason}` : 'down';
}

const rate = (perSecond: number | null): string => (perSecond === null ? '-' : perSecond.toFixed(1));

/** "3/4 in flight, 2.5 req/s, 1,234 answered, 2 errors". */
function endpointFigures(status: EndpointStatus): string {
  const figures = [
    `${status.inFlight}/${status.concurrency} in flight`,
    ...(status.requestsPerSecond === null ? [] : [`${rate(status.requestsPerSecond)} req/s`]),
    `${count(status.answered)} answered`,
    `${count(status.errors)} error${status.errors === 1 ? '' : 's'}`,
  ];
  if (status.hedged > 0 || status.hedgesWon > 0)
    figures.push(`${count(status.hedgesWon)} of ${count(status.hedged)} hedges won`);
  return figures.join(', ');
}

/** Its models: those the status names, else the default endpoint's (daemon/status's `engine`). */
function modelsOf(info: Pick<DaemonInfo, 'engine'>, status: EndpointStatus, index: number): string[] | undefined {
  return status.models ?? (index === 0 ? info.engine.models : undefined);
}

/** Columns padded to their widest cell, numbers to the right. */
function table(rows: string[][], rightAligned: Set<number>): string[] {
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => row[column]!.length)));
  return rows.map((row) =>
    row
      .map((cell, column) => (rightAligned.has(column) ? cell.padStart(widths[column]!) : cell.padEnd(widths[column]!)))
      .join('  ')
      .trimEnd(),
  );
}

/**
 * `status`'s engine lines: with one endpoint the one line it always had (its figures added once
 * it has worked), with several a line of the pool and a row per endpoint, a down one's reason at
 * its end.
 */
export function engineLines(info: Pick<DaemonInfo, 'engine' | 'endpoints'>, now = Date.now()): string[] {
  const endpoints = info.endpoints ?? [];
  if (endpoints.length <= 1) {
    const { engine } = info;
    const only = endpoints[0];
    const busy = only && (only.inFlight > 0 || only.answered > 0 || only.errors > 0);
    const state = engine.up
      ? `up; models: ${engine.models.join(', ') || 'none'}`
      : only
        ? endpointState(only, now).replace(/^down/, 'not answering')
        : 'not answering';
    return [
      `engine ${engine.name}${engine.url ? ` at ${engine.url}` : ''} (${state})${busy ? `, ${endpointFigures(only)}` : ''}`,
    ];
  }
  const up = endpoints.filter((status) => status.up).length;
  const defaultModels = modelsOf(info, endpoints[0]!, 0);
  const rows = [
    ['ENDPOINT', 'ENGINE', 'URL', 'STATE', 'IN FLIGHT', 'REQ/S', 'ANSWERED', 'ERRORS', 'HEDGES WON', ''],
    ...endpoints.map((status) => [
      status.name,
      status.engine,
      status.url ?? '(in-process)',
      status.up ? 'up' : 'down',
      `${status.inFlight}/${status.concurrency}`,
      rate(status.requestsPerSecond),
      count(status.answered),
      count(status.errors),
      count(status.hedgesWon),
      status.up ? '' : endpointState(status, now).replace(/^down /, ''),
    ]),
  ];
  return [
    `engines: ${endpoints.length} endpoints, ${up} up${defaultModels ? `; models on ${endpoints[0]!.name}: ${defaultModels.join(', ') || 'none'}` : ''}`,
    ...table(rows, new Set([4, 5, 6, 7, 8])).map((line) => `  ${line}`),
  ];
}

/** Check Engine's line for an endpoint: where it is, up or down (and why), its load and its models. */
function checkLine(info: Pick<DaemonInfo, 'engine'>, status: EndpointStatus, index: number, now: number): string {
  const models = modelsOf(info, status, index);
  const where = `${status.engine}${status.url ? ` at ${status.url}` : ' (in-process)'}`;
  const detail = status.up
    ? `up, ${endpointFigures(status)}${models ? `; models: ${models.join(', ') || 'none yet'}` : ''}`
    : endpointState(status, now);
  return `${status.up ? '✓' : '✗'} ${status.name} (${where}): ${detail}`;
}

/**
 * What Check Engine says: with one endpoint, whether the engine answers and its models (or why
 * not); with several, how many are up and a line for each. The GPUs and the daemon follow.
 */
export function engineCheck(info: DaemonInfo, now = Date.now()): { allUp: boolean; message: string; detail: string[] } {
  const { engine } = info;
  const endpoints = info.endpoints ?? [];
  const daemon = [
    ...gpuLines(info.gpu),
    `Daemon ${info.version}, pid ${info.pid}; data in ${info.dataDir}; HTTP API ${info.http}/v1`,
  ];
  if (endpoints.length > 1) {
    const up = endpoints.filter((status) => status.up).length;
    return {
      allUp: up === endpoints.length,
      message: `${up} of ${endpoints.length} endpoints are up.`,
      detail: [...endpoints.map((status, index) => checkLine(info, status, index, now)), ...daemon],
    };
  }
  const where = `${engine.name}${engine.url ? ` at ${engine.url}` : ''}`;
  const down = endpoints[0]?.down;
  return {
    allUp: engine.up,
    message: `engine ${where} ${engine.up ? 'is up' : 'does not answer'}.`,
    detail: [
      engine.up
        ? `Models: ${engine.models.join(', ') || 'none yet (ollama pull MODEL)'}`
        : `The engine does not answer${down ? ` (${down.reason})` : ''}: is it running, and is ollamaBatch.engine / its URL right?`,
      ...daemon,
    ],
  };
}
