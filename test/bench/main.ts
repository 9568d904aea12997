// npm run bench -- [--quick] [--json FILE] [--only overhead|engine|http|modes|csv|extension|cascade|pool] [--profile DIR]
//   [--concurrency N] [--threads N] [--rounds N] [--node-arg=OPTION ...] [--sizes SMALL,LARGE] [--unpinned]
//   [--cascade-candidates N]
//
// The daemon's benchmarks, each against a baseline measured in the same run, printed as one
// markdown table (and as JSON with --json):
//   1. orchestration overhead: the real daemon (child process, engine ollama) against the Ollama
//      emulator in instant mode (another child process), batches of 10,000 and 100,000 lines;
//      baseline: a direct loop with the `ollama` npm client at the same concurrency (a plain
//      node:http loop is printed below the table as the floor);
//   2. engine efficiency: the tiny GGUF model through the daemon (engine llama-cpp) against
//      LlamaCppEngine driven directly, same slots, threads and prompts, best of alternating rounds;
//   3. the HTTP API (see http.ts): a 200 MB upload with the openai client (MB/s against a plain
//      node:http stream to disk; the daemon's peak RSS against its idle RSS), and 50 clients
//      polling GET /v1/batches/{id} during a batch (poll latency; batch throughput with the polls
//      against quiet windows of the same batch);
//   4. independent against conversation mode on the tiny model (modes.ts);
//   5. CSV convert and analyze at 170,000 rows, the median of at least 3 alternating rounds (csv.ts);
//   6. the extension's own costs: a Batches tree refresh, a 50,000-line file's diagnostics while
//      typing, and the results table over 170,000 rows (extension.ts);
//   7. the cascade (score-only for every candidate, the full answer for the top 10%) against a
//      single full-answer pass on the tiny model, 1,000 candidates (--cascade-candidates N) in
//      --rounds alternating rounds, per candidate: completion tokens and engine seconds (cascade.ts);
//   8. one batch over a pool of Ollama emulators (100 ms per answer, 4 slots each, each in its own
//      process): 2 and 4 endpoints against 1, a full- and a half-speed endpoint against the sum of
//      each alone, and one of two killed (SIGKILL) mid-batch and back 30 s later: every line
//      exactly once, and the wall time against the least the surviving capacity allows (pool.ts).
// --quick shrinks the sizes for a smoke run (500 / 5,000 lines, 60 engine requests, a 50 MB
// upload, 5 s of polling per load instead of 30 s) and checks no target: it shows every part runs.
// --profile DIR runs the daemons under `node --cpu-prof` and prints their hottest functions;
// --node-arg passes a node option to the figure-1 daemons (e.g. --node-arg=--max-old-space-size=64).
// --unpinned leaves the polling figure's processes where the scheduler puts them (by default the
// daemon gets a CPU of its own).
// Exit code: 0 when every target is met (or, with --quick, when every part ran), 1 when one is
// missed, 2 on an error.
import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { killAll } from './children.js';
import { measureEngine, type EngineResult } from './engine.js';
import { measureExtension, type ExtensionResult } from './extension.js';
import { measurePolling, measureUpload, type PollingResult, type UploadResult } from './http.js';
import { measureModes, type ModesResult } from './modes.js';
import { measureCascade, type CascadeResult } from './cascade.js';
import { measureCsv, MIN_CSV_ROUNDS, type CsvResult, type TimedProcess } from './csv.js';
import { measureOverhead, type OverheadResult } from './overhead.js';
import { measurePool, type PoolResult } from './pool.js';
import { machine } from './proc.js';
import { hotFiles, hotFunctions, ownerCosts, profilesIn } from './profile.js';
import { figureTable, type Figure } from './table.js';

const usage =
  'usage: npm run bench -- [--quick] [--json FILE] [--only overhead|engine|http|modes|csv|extension|cascade|pool] [--profile DIR] [--concurrency N] [--threads N] [--rounds N] [--node-arg=OPTION ...] [--sizes SMALL,LARGE] [--unpinned] [--cascade-candidates N]';

const MB = 1024 * 1024;
const TARGETS = {
  cpuMsPerRequest: 0.25,
  requestsPerSecond: 2000,
  peakRssMb: 300,
  rssGrowth: 1.2,
  engineRatio: 0.9,
  uploadRatio: 0.5,
  uploadRssGrowthMb: 100,
  pollP99Ms: 50,
  pollRatio: 0.95,
  /** Cascade engine time ÷ single pass (issue 15). */
  cascadeEngineRatio: 0.35,
  modesTokens: 3,
  modesSpeed: 3,
  csvPerSecond: 50_000,
  csvPeakRssMb: 200,
  treeRefreshMs: 50,
  diagnosticsMs: 2000,
  busyMs: 100,
  tableOpenMs: 2000,
  /** A frame at 60 Hz: a window that comes within it scrolls without a blank. */
  tableWindowMs: 16,
  tableSortMs: 2000,
  /** Pool throughput ÷ one endpoint's (issue 16). */
  poolTwo: 1.9,
  poolFour: 3.7,
  /** A full- and a half-speed endpoint together ÷ the sum of each alone. */
  poolMixed: 0.9,
  /** Wall time with an endpoint killed ÷ the least time the surviving capacity allows. */
  poolKillWall: 1.1,
};
const PARTS = ['overhead', 'engine', 'http', 'modes', 'csv', 'extension', 'cascade', 'pool'] as const;
type Part = (typeof PARTS)[number];
const POLL_CLIENTS = 50;
const POLL_INTERVAL_MS = 100;
/**
 * The polling figure runs twice. Against an engine that takes this long per request with 32 in
 * flight (~300 req/s, still 30× a 12B model on one GPU) the engine bounds the batch, as in real
 * use: the throughput target applies there. Against an instant engine the batch is bound by the
 * daemon's own event loop, which the polls share, so whatever they cost comes out of the batch
 * by construction: a stress figure, printed for scale without a target (its latency target holds).
 */
const ENGINE_LATENCY_MS = 100;

function positive(value: string | undefined, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < 1) throw new Error(`--${name} needs a positive integer, got ${value}`);
  return parsed;
}

const round = (value: number, digits = 2): number => Number(value.toFixed(digits));
const thousands = (count: number): string => (count >= 1000 && count % 1000 === 0 ? `${count / 1000}k` : String(count));

function overheadFigures(small: OverheadResult, large: OverheadResult): Figure[] {
  const figures: Figure[] = [];
  for (const result of [small, large]) {
    const size = thousands(result.lines);
    const { daemon, direct } = result;
    figures.push(
      {
        figure: `orchestration ${size}: throughput (c=${result.concurrency})`,
        target: `≥ ${TARGETS.requestsPerSecond} req/s`,
        measured: round(daemon.requestsPerSecond, 0),
        unit: 'req/s',
        baseline: round(direct.requestsPerSecond, 0),
        baselineLabel: 'direct ollama client',
        ratio: round(daemon.requestsPerSecond / direct.requestsPerSecond),
        ok: daemon.requestsPerSecond >= TARGETS.requestsPerSecond,
      },
      {
        figure: `orchestration ${size}: daemon CPU per request`,
        target: `≤ ${TARGETS.cpuMsPerRequest} ms`,
        measured: round(daemon.cpuMsPerRequest, 3),
        unit: 'ms',
        baseline: round(direct.cpuMsPerRequest, 3),
        baselineLabel: 'direct client CPU',
        ratio: round(daemon.cpuMsPerRequest / direct.cpuMsPerRequest),
        ok: daemon.cpuMsPerRequest <= TARGETS.cpuMsPerRequest,
      },
      {
        figure: `orchestration ${size}: daemon peak RSS`,
        target: `< ${TARGETS.peakRssMb} MB`,
        measured: round(daemon.peakRssBytes / MB, 1),
        unit: 'MB',
        baseline: round(daemon.idleRssBytes / MB, 1),
        baselineLabel: 'daemon idle RSS',
        ratio: round(daemon.peakRssBytes / daemon.idleRssBytes),
        ok: daemon.peakRssBytes < TARGETS.peakRssMb * MB,
      },
    );
  }
  const growth = large.daemon.peakRssBytes / small.daemon.peakRssBytes;
  figures.push({
    figure: `orchestration: peak RSS ${thousands(large.lines)} / ${thousands(small.lines)}`,
    target: `≤ ${TARGETS.rssGrowth}`,
    measured: round(large.daemon.peakRssBytes / MB, 1),
    unit: 'MB',
    baseline: round(small.daemon.peakRssBytes / MB, 1),
    baselineLabel: `peak RSS at ${thousands(small.lines)}`,
    ratio: round(growth),
    ok: growth <= TARGETS.rssGrowth,
  });
  return figures;
}

function engineFigures(result: EngineResult): Figure[] {
  const ratio = result.daemon.requestsPerSecond / result.direct.requestsPerSecond;
  return [
    {
      figure: `engine: tiny model, ${result.requests} req, ${result.slots} slots × ${result.threads} thread, best of ${result.daemon.rounds.length} (daemon/direct)`,
      target: `ratio ≥ ${TARGETS.engineRatio}`,
      measured: round(result.daemon.requestsPerSecond, 1),
      unit: 'req/s',
      baseline: round(result.direct.requestsPerSecond, 1),
      baselineLabel: 'direct LlamaCppEngine',
      ratio: round(ratio),
      ok: ratio >= TARGETS.engineRatio,
    },
  ];
}

const engineLabel = (latencyMs: number): string =>
  latencyMs > 0 ? `engine ${latencyMs} ms/request` : 'instant engine';

function uploadFigures(upload: UploadResult): Figure[] {
  const { daemon, sink } = upload;
  const size = `${Math.round(upload.fileBytes / MB)} MB`;
  const uploadRatio = daemon.megabytesPerSecond / sink.megabytesPerSecond;
  const growth = daemon.peakRssBytes - daemon.idleRssBytes;
  return [
    {
      figure: `http upload: ${size} JSONL, openai files.create (daemon/plain stream)`,
      target: `ratio ≥ ${TARGETS.uploadRatio}`,
      measured: round(daemon.megabytesPerSecond, 0),
      unit: 'MB/s',
      baseline: round(sink.megabytesPerSecond, 0),
      baselineLabel: 'node:http POST piped to disk',
      ratio: round(uploadRatio),
      ok: uploadRatio >= TARGETS.uploadRatio,
    },
    {
      figure: `http upload: daemon peak RSS over ${size} uploads`,
      target: `< idle + ${TARGETS.uploadRssGrowthMb} MB`,
      measured: round(daemon.peakRssBytes / MB, 1),
      unit: 'MB',
      baseline: round(daemon.idleRssBytes / MB, 1),
      baselineLabel: 'daemon idle RSS',
      ratio: round(daemon.peakRssBytes / daemon.idleRssBytes),
      ok: growth < TARGETS.uploadRssGrowthMb * MB,
    },
  ];
}

function pollingFigures(polling: PollingResult): Figure[] {
  const figures: Figure[] = [];
  for (const [label, polled] of [
    [`paced, each every ${polling.intervalMs} ms`, polling.paced],
    ['back-to-back', polling.backToBack],
  ] as const) {
    const what = `http polling, ${engineLabel(polling.engineLatencyMs)}: ${polling.clients} clients ${label} (${polled.pollsPerSecond.toFixed(0)} polls/s)`;
    figures.push({
      figure: `${what}: p99 latency`,
      target: `< ${TARGETS.pollP99Ms} ms`,
      measured: round(polled.p99Ms, 1),
      unit: 'ms',
      baseline: round(polled.p50Ms, 1),
      baselineLabel: 'p50',
      ratio: round(polled.p99Ms / polled.p50Ms),
      ok: polled.p99Ms < TARGETS.pollP99Ms,
    });
    const engineBound = polling.engineLatencyMs > 0;
    figures.push({
      figure: `${what}: batch throughput`,
      target: engineBound ? `ratio ≥ ${TARGETS.pollRatio}` : 'none (stress: daemon-bound)',
      measured: round(polled.requestsPerSecond, 0),
      unit: 'req/s',
      baseline: round(polled.quietRequestsPerSecond, 0),
      baselineLabel: 'quiet windows around it',
      ratio: round(polled.ratio),
      ok: engineBound ? polled.ratio >= TARGETS.pollRatio : null,
    });
  }
  return figures;
}

function modesFigures(result: ModesResult): Figure[] {
  const { independent, conversation } = result;
  const tokens = conversation.promptTokens / independent.promptTokens;
  const speed = independent.requestsPerSecond / conversation.requestsPerSecond;
  const what = `modes: ${result.requests} candidates, ${result.context / 1024}K context`;
  return [
    {
      figure: `${what}: prompt tokens sent, independent (conversation/independent)`,
      target: `ratio ≥ ${TARGETS.modesTokens}`,
      measured: independent.promptTokens,
      unit: 'tokens',
      baseline: conversation.promptTokens,
      baselineLabel: 'conversation mode',
      ratio: round(tokens),
      ok: tokens >= TARGETS.modesTokens,
    },
    {
      figure: `${what}: throughput, independent (independent/conversation)`,
      target: `ratio ≥ ${TARGETS.modesSpeed}`,
      measured: round(independent.requestsPerSecond, 2),
      unit: 'req/s',
      baseline: round(conversation.requestsPerSecond, 2),
      baselineLabel: 'conversation mode',
      ratio: round(speed),
      ok: speed >= TARGETS.modesSpeed,
    },
  ];
}

function cascadeFigures(result: CascadeResult): Figure[] {
  const { candidates, single, pass1, pass2 } = result;
  const what = `cascade: ${candidates} candidates in ${result.rounds} alternating rounds, top ${result.topPercent}% explained (${result.shortlisted} rows), tiny model, 1 slot`;
  // The target holds only for the cascade asked for: a shortlist cut short (scores that broke the schema) would flatter it.
  const whole = result.shortlisted === result.expectedShortlist;
  const perCandidate = (value: number): number => value / candidates;
  const tokens = perCandidate(pass1.completionTokens + pass2.completionTokens);
  const seconds = perCandidate(pass1.engineSeconds + pass2.engineSeconds);
  return [
    {
      figure: `${what}: completion tokens per candidate (cascade/single pass)`,
      target: 'for scale',
      measured: round(tokens, 1),
      unit: 'tokens',
      baseline: round(perCandidate(single.completionTokens), 1),
      baselineLabel: 'single pass, full schema',
      ratio: round(tokens / perCandidate(single.completionTokens)),
      ok: null,
    },
    {
      figure: `${what}: engine seconds per candidate (cascade/single pass)`,
      target: `ratio ≤ ${TARGETS.cascadeEngineRatio}`,
      measured: round(seconds, 4),
      unit: 's',
      baseline: round(perCandidate(single.engineSeconds), 4),
      baselineLabel: 'single pass, full schema',
      ratio: round(seconds / perCandidate(single.engineSeconds)),
      ok: whole && seconds / perCandidate(single.engineSeconds) <= TARGETS.cascadeEngineRatio,
    },
  ];
}

function extensionFigures({ tree, diagnostics, table }: ExtensionResult): Figure[] {
  const lines = diagnostics.lines.toLocaleString('en');
  const rows = table.rows.toLocaleString('en');
  const timing = (
    figure: string,
    target: number,
    measured: number,
    baseline: number,
    baselineLabel: string,
  ): Figure => ({
    figure,
    target: `< ${target.toLocaleString('en')} ms`,
    measured: round(measured, 1),
    unit: 'ms',
    baseline: round(baseline, 1),
    baselineLabel,
    ratio: round(measured / baseline),
    ok: measured < target,
  });
  return [
    timing(
      `extension: Batches tree refresh, ${tree.batches.toLocaleString('en')} batches`,
      TARGETS.treeRefreshMs,
      tree.refreshMs,
      tree.jsonRoundTripMs,
      'the listing through JSON and back',
    ),
    timing(
      `extension: diagnostics of a ${lines}-line batch file, open to published`,
      TARGETS.diagnosticsMs,
      diagnostics.publishedMs,
      diagnostics.parseOnlyMs,
      'JSON.parse of every line',
    ),
    timing(
      `extension: typing in that file, the longest the server is busy at once`,
      TARGETS.busyMs,
      diagnostics.longestBusyMs,
      diagnostics.publishedMs,
      'one whole pass, as above',
    ),
    timing(
      `extension: results table, ${rows}-row scored CSV: open (rows indexed)`,
      TARGETS.tableOpenMs,
      table.openMs,
      table.streamMs,
      'streaming the file',
    ),
    timing(
      `extension: results table: a window of 100 rows while scrolling, p99 of 500`,
      TARGETS.tableWindowMs,
      table.windowP99Ms,
      table.readWindowP99Ms,
      'reading its bytes, p99',
    ),
    timing(
      `extension: results table: the first sort by score`,
      TARGETS.tableSortMs,
      table.firstSortMs,
      table.streamMs,
      'streaming the file',
    ),
  ];
}

function poolFigures({ options, single, two, four, halfSpeedAlone, mixed, kill }: PoolResult): Figure[] {
  const nominal = (options.slots * 1000) / options.latencyMs;
  const endpoint = `${options.slots} slots, ${options.latencyMs} ms/answer`;
  const figures: Figure[] = [
    {
      figure: `pool: 1 endpoint (${endpoint}), ${single.lines} lines: throughput (/ its slots' capacity)`,
      target: 'for scale',
      measured: round(single.requestsPerSecond, 1),
      unit: 'req/s',
      baseline: round(nominal, 1),
      baselineLabel: `${options.slots} slots / ${options.latencyMs} ms`,
      ratio: round(single.requestsPerSecond / nominal),
      ok: null,
    },
  ];
  for (const [run, target] of [
    [two, TARGETS.poolTwo],
    [four, TARGETS.poolFour],
  ] as const) {
    const ratio = run.requestsPerSecond / single.requestsPerSecond;
    figures.push({
      figure: `pool: ${run.endpoints} endpoints, ${run.lines} lines: throughput (/ 1 endpoint)`,
      target: `ratio ≥ ${target}`,
      measured: round(run.requestsPerSecond, 1),
      unit: 'req/s',
      baseline: round(single.requestsPerSecond, 1),
      baselineLabel: '1 endpoint',
      ratio: round(ratio),
      ok: ratio >= target,
    });
  }
  const sum = single.requestsPerSecond + halfSpeedAlone.requestsPerSecond;
  figures.push({
    figure: `pool: 1 endpoint at ${options.latencyMs} ms + 1 at ${2 * options.latencyMs} ms/answer, ${mixed.lines} lines: throughput (/ the sum of each alone)`,
    target: `ratio ≥ ${TARGETS.poolMixed}`,
    measured: round(mixed.requestsPerSecond, 1),
    unit: 'req/s',
    baseline: round(sum, 1),
    baselineLabel: `${round(single.requestsPerSecond, 1)} + ${round(halfSpeedAlone.requestsPerSecond, 1)} alone`,
    ratio: round(mixed.requestsPerSecond / sum),
    ok: mixed.requestsPerSecond / sum >= TARGETS.poolMixed,
  });
  const what = `pool: 2 endpoints, one killed (SIGKILL) at ${Math.round(kill.killedAtMs / 1000)} s and back ${Math.round((kill.backAtMs - kill.killedAtMs) / 1000)} s later, ${kill.lines} lines`;
  const amiss = kill.lost + kill.duplicated + kill.failed;
  const wallRatio = kill.wallMs / kill.boundMs;
  figures.push(
    {
      figure: `${what}: lines lost, written twice or failed`,
      target: '0',
      measured: amiss,
      unit: 'lines',
      baseline: kill.lines,
      baselineLabel: 'lines in the batch',
      ratio: round(amiss / kill.lines, 4),
      ok: amiss === 0,
    },
    {
      figure: `${what}: wall time (/ the least the endpoints allow while up)`,
      target: `ratio ≤ ${TARGETS.poolKillWall}`,
      measured: round(kill.wallMs / 1000, 1),
      unit: 's',
      baseline: round(kill.boundMs / 1000, 1),
      baselineLabel: 'each endpoint at its own pace while up',
      ratio: round(wallRatio),
      ok: wallRatio <= TARGETS.poolKillWall,
    },
  );
  return figures;
}

/** Medians of alternating rounds (csv.ts): the figure names how many. */
function csvFigures(result: CsvResult): Figure[] {
  const rows = `${Math.round(result.rows / 1000)}k`;
  const of = `median of ${result.rounds.length}`;
  const pace = (figure: string, side: TimedProcess, baseline: TimedProcess, baselineLabel: string): Figure => ({
    figure,
    target: `≥ ${TARGETS.csvPerSecond.toLocaleString('en')}/s`,
    measured: Math.round(side.perSecond),
    unit: '/s',
    baseline: Math.round(baseline.perSecond),
    baselineLabel,
    ratio: round(side.perSecond / baseline.perSecond),
    ok: side.perSecond >= TARGETS.csvPerSecond,
  });
  const peak = (figure: string, side: TimedProcess, baseline: TimedProcess, baselineLabel: string): Figure => ({
    figure,
    target: `< ${TARGETS.csvPeakRssMb} MB`,
    measured: round(side.peakRssBytes / MB, 1),
    unit: 'MB',
    baseline: round(baseline.peakRssBytes / MB, 1),
    baselineLabel,
    ratio: round(side.peakRssBytes / baseline.peakRssBytes),
    ok: side.peakRssBytes < TARGETS.csvPeakRssMb * MB,
  });
  return [
    pace(
      `csv: convert ${rows} rows (rubric, template, schema, estimate), rows/s, ${of}`,
      result.convert,
      result.parseOnly,
      'csv-parse alone',
    ),
    peak(`csv: convert ${rows} rows, peak RSS, ${of}`, result.convert, result.parseOnly, 'csv-parse alone'),
    pace(
      `csv: analyze ${rows} output lines, lines/s, ${of}`,
      result.analyze,
      result.readOnly,
      'reading + JSON.parse alone',
    ),
    peak(
      `csv: analyze ${rows} output lines, peak RSS, ${of}`,
      result.analyze,
      result.readOnly,
      'reading + JSON.parse alone',
    ),
    peak(
      `csv: analyze ${rows} lines and write the joined, sorted CSV, peak RSS, ${of}`,
      result.analyzeAndJoin,
      result.readOnly,
      'reading + JSON.parse alone',
    ),
  ];
}

function printProfiles(dir: string): unknown[] {
  const summaries: unknown[] = [];
  for (const path of profilesIn(dir)) {
    const { totalMs, functions } = hotFunctions(path, 20);
    const files = hotFiles(path, 10);
    const owners = ownerCosts(path, 25);
    console.log(`\nDaemon CPU profile ${path} (${Math.round(totalMs)} ms sampled, idle excluded)`);
    console.log('| self ms | share | function | where |\n|---:|---:|---|---|');
    for (const entry of functions)
      console.log(
        `| ${entry.selfMs.toFixed(0)} | ${(entry.share * 100).toFixed(1)}% | ${entry.name} | ${entry.where} |`,
      );
    console.log('\n| self ms | share | file |\n|---:|---:|---|');
    for (const entry of files)
      console.log(`| ${entry.selfMs.toFixed(0)} | ${(entry.share * 100).toFixed(1)}% | ${entry.file} |`);
    console.log('\n| ms | share | owner (innermost server/ function on the stack) |\n|---:|---:|---|');
    for (const entry of owners)
      console.log(`| ${entry.ms.toFixed(0)} | ${(entry.share * 100).toFixed(1)}% | ${entry.owner} |`);
    summaries.push({ path, totalMs, functions, files, owners });
  }
  return summaries;
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      quick: { type: 'boolean', default: false },
      json: { type: 'string' },
      only: { type: 'string' },
      profile: { type: 'string' },
      concurrency: { type: 'string' },
      threads: { type: 'string' },
      rounds: { type: 'string' },
      'node-arg': { type: 'string', multiple: true },
      sizes: { type: 'string' },
      'cascade-candidates': { type: 'string' },
      unpinned: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
  });
  if (values.help) {
    console.log(usage);
    return 0;
  }
  const only = values.only as Part | undefined;
  if (only !== undefined && !PARTS.includes(only)) throw new Error(`--only ${PARTS.join('|')}, got ${only}`);
  const runs = (name: Part): boolean => only === undefined || only === name;
  const quick = values.quick;
  const concurrency = positive(values.concurrency, 'concurrency', 32);
  const threads = positive(values.threads, 'threads', 1);
  const rounds = positive(values.rounds, 'rounds', quick ? 2 : 3);
  const sizes = values.sizes
    ? values.sizes.split(',').map((size) => positive(size, 'sizes', 0))
    : quick
      ? [500, 5_000]
      : [10_000, 100_000];
  if (sizes.length !== 2) throw new Error('--sizes needs two sizes, e.g. 10000,100000');
  const engineRequests = quick ? 60 : 300;
  const uploadMb = quick ? 50 : 200;
  const pollWindowMs = quick ? 5_000 : 30_000;
  const profileDir = values.profile ? resolve(values.profile) : undefined;

  // Everything ends by itself: a watchdog for the whole run, and children die with us.
  const watchdog = setTimeout(
    () => {
      console.error('benchmark watchdog: the run took too long; stopping');
      killAll();
      process.exit(1);
    },
    (quick ? 10 : 45) * 60_000,
  );
  watchdog.unref();
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      killAll();
      process.exit(130);
    });
  }

  const info = machine();
  const started = performance.now();
  const figures: Figure[] = [];
  const details: {
    overhead?: OverheadResult[];
    engine?: EngineResult;
    upload?: UploadResult;
    polling?: PollingResult[];
    modes?: ModesResult;
    cascade?: CascadeResult;
    csv?: CsvResult;
    extension?: ExtensionResult;
    pool?: PoolResult;
    profiles?: unknown[];
  } = {};
  try {
    if (runs('overhead')) {
      const results: OverheadResult[] = [];
      for (const lines of sizes) {
        console.error(`orchestration: ${lines} lines at concurrency ${concurrency} ...`);
        const options = {
          lines,
          concurrency,
          parallel: Math.max(64, concurrency * 2),
          nodeArgs: values['node-arg'] ?? [],
        };
        const result = await measureOverhead(
          profileDir ? { ...options, profileDir: join(profileDir, String(lines)) } : options,
        );
        console.error(
          `  daemon ${result.daemon.requestsPerSecond.toFixed(0)} req/s, ${result.daemon.cpuMsPerRequest.toFixed(3)} ms CPU/req, ` +
            `peak ${(result.daemon.peakRssBytes / MB).toFixed(1)} MB; direct ${result.direct.requestsPerSecond.toFixed(0)} req/s ` +
            `(${result.direct.cpuMsPerRequest.toFixed(3)} ms CPU/req); node:http ${result.raw.requestsPerSecond.toFixed(0)} req/s (${result.raw.cpuMsPerRequest.toFixed(3)} ms CPU/req)`,
        );
        console.error(
          `  CPU ms/request, daemon run: daemon ${result.daemon.cpuMsPerRequest.toFixed(3)}, emulator ${result.daemon.emulatorCpuMsPerRequest.toFixed(3)}, ` +
            `bench (RPC client) ${result.daemon.benchCpuMsPerRequest.toFixed(3)}; emulator during direct ${result.direct.emulatorCpuMsPerRequest.toFixed(3)}, ` +
            `during node:http ${result.raw.emulatorCpuMsPerRequest.toFixed(3)}`,
        );
        console.error(
          `  daemon RSS over the run [ms, MB]: ${result.daemon.rssOutline.map(([t, mb]) => `${t}:${mb}`).join(' ')}`,
        );
        results.push(result);
      }
      details.overhead = results;
      figures.push(...overheadFigures(results[0]!, results[1]!));
    }
    if (runs('engine')) {
      console.error(
        `engine: ${engineRequests} requests, 2 slots × ${threads} thread(s), ${rounds} alternating rounds ...`,
      );
      const options = { requests: engineRequests, slots: 2, threads, maxTokens: 16, rubricParagraphs: 4, rounds };
      const result = await measureEngine(profileDir ? { ...options, profileDir: join(profileDir, 'engine') } : options);
      console.error(
        `  daemon ${result.daemon.requestsPerSecond.toFixed(2)} req/s, direct ${result.direct.requestsPerSecond.toFixed(2)} req/s, ` +
          `${result.daemon.promptTokensPerRequest.toFixed(0)} prompt tokens/req (${(result.daemon.cachedShare * 100).toFixed(0)}% cached); ` +
          `rounds daemon ${result.daemon.rounds.map((r) => r.requestsPerSecond.toFixed(1)).join(', ')} / direct ${result.direct.rounds.map((r) => r.requestsPerSecond.toFixed(1)).join(', ')}`,
      );
      details.engine = result;
      figures.push(...engineFigures(result));
    }
    if (runs('http')) {
      console.error(`http upload: ${uploadMb} MB with the openai client, ${quick ? 1 : 2} alternating round(s) ...`);
      const uploadOptions = { bytes: uploadMb * MB, rounds: quick ? 1 : 2 };
      const upload = await measureUpload(
        profileDir ? { ...uploadOptions, profileDir: join(profileDir, 'upload') } : uploadOptions,
      );
      console.error(
        `  daemon ${upload.daemon.rounds.map((r) => r.toFixed(0)).join(', ')} MB/s (CPU/MB: daemon ${upload.daemon.cpuMsPerMegabyte.toFixed(1)} ms, openai client ${upload.daemon.clientCpuMsPerMegabyte.toFixed(1)} ms), ` +
          `node:http sink ${upload.sink.rounds.map((r) => r.toFixed(0)).join(', ')} MB/s (CPU/MB: sink ${upload.sink.cpuMsPerMegabyte.toFixed(1)} ms, node:http client ${upload.sink.clientCpuMsPerMegabyte.toFixed(1)} ms), ` +
          `fs.copyFile ${upload.copyMegabytesPerSecond.toFixed(0)} MB/s; daemon RSS idle ${(upload.daemon.idleRssBytes / MB).toFixed(1)} MB, ` +
          `peak ${(upload.daemon.peakRssBytes / MB).toFixed(1)} MB (polled ${(upload.daemon.polledPeakRssBytes / MB).toFixed(1)} MB)`,
      );
      console.error(
        `  daemon RSS over the uploads [ms, MB]: ${upload.daemon.rssOutline.map(([t, mb]) => `${t}:${mb}`).join(' ')}`,
      );
      details.upload = upload;
      const chunks = quick ? 2 : 6;
      figures.push(...uploadFigures(upload));
      for (const engineLatencyMs of [0, ENGINE_LATENCY_MS]) {
        console.error(
          `http polling, ${engineLabel(engineLatencyMs)}: ${POLL_CLIENTS} clients for ${pollWindowMs / 1000} s per load, in ${chunks} windows each, quiet windows between ` +
            `(quiet, paced every ${POLL_INTERVAL_MS} ms, quiet, back-to-back, quiet, ...) ...`,
        );
        const pollingOptions = {
          clients: POLL_CLIENTS,
          windowMs: pollWindowMs,
          chunks,
          intervalMs: POLL_INTERVAL_MS,
          floorMs: engineLatencyMs > 0 ? 0 : quick ? 2_000 : 5_000,
          engineLatencyMs,
          pin: !values.unpinned,
        };
        const polling = await measurePolling(
          profileDir
            ? { ...pollingOptions, profileDir: join(profileDir, `polling-${engineLatencyMs}ms`) }
            : pollingOptions,
        );
        console.error(
          `  ${polling.lines} lines; ${polling.pinned ? `daemon pinned to CPU ${polling.pinned.daemon}, emulator, pollers and bench to ${polling.pinned.others}` : 'not pinned'}; ` +
            `daemon CPU per batch request (quiet) ${polling.daemonCpuMsPerRequest.toFixed(3)} ms`,
        );
        console.error(
          `  windows [mode req/s polls/s, CPU ms/s: daemon (main thread user+sys) emulator poller]: ` +
            polling.windows
              .map(
                (w) =>
                  `${w.mode === 'none' ? 'q' : w.mode === 'paced' ? 'P' : 'B'} ${w.requestsPerSecond.toFixed(0)} ${((w.polls * 1000) / w.wallMs).toFixed(0)}, ` +
                  `${w.daemonCpu.toFixed(0)} (${w.daemonMainUser.toFixed(0)}+${w.daemonMainSystem.toFixed(0)}) ${w.emulatorCpu.toFixed(0)} ${w.pollerCpu.toFixed(0)}`,
              )
              .join(' | '),
        );
        for (const load of [polling.paced, polling.backToBack]) {
          console.error(
            `  ${load.mode}: ${load.pollsPerSecond.toFixed(0)} polls/s, p50 ${load.p50Ms.toFixed(2)} ms, p99 ${load.p99Ms.toFixed(2)} ms, max ${load.maxMs.toFixed(1)} ms; ` +
              `batch ${load.requestsPerSecond.toFixed(0)} req/s vs ${load.quietRequestsPerSecond.toFixed(0)} quiet (${load.ratio.toFixed(3)}` +
              `${load.excludedWindows > 0 ? `; ${load.excludedWindows} of ${load.windowCount} windows left out: the pace changed gear around them` : ''}); ` +
              `displaced ${load.displacedUsPerPoll.toFixed(0)} µs of daemon batch work per poll; poller CPU ${(load.pollerCpuMsPerPoll * 1000).toFixed(0)} µs/poll`,
          );
        }
        const { perPoll } = polling;
        if (perPoll) {
          console.error(
            `  CPU per back-to-back poll, batch cancelled (${perPoll.answerBytes}-byte answer): daemon ${perPoll.daemonUs.toFixed(0)} µs ` +
              `(${perPoll.daemonPollsPerSecond.toFixed(0)} polls/s), bare node:http ${perPoll.floorUs.toFixed(0)} µs (${perPoll.floorPollsPerSecond.toFixed(0)} polls/s)`,
          );
        }
        (details.polling ??= []).push(polling);
        figures.push(...pollingFigures(polling));
      }
    }
    if (runs('modes')) {
      // 100: whole answers to the schema (about 200 tokens, not the 24 of a cut one) make each
      // conversation turn costlier; 100 turns still fill the 32K context and trim it.
      const requests = quick ? 40 : 100;
      console.error(
        `modes: ${requests} candidate lines, independent then conversation, llama-cpp engine with a 32K context, 1 slot ...`,
      );
      const result = await measureModes({ requests, threads });
      for (const side of [result.independent, result.conversation]) {
        console.error(
          `  ${side.mode}: ${side.requestsPerSecond.toFixed(2)} req/s, prompt tokens ${side.promptTokens} sent, ${side.evaluatedTokens} evaluated, ${side.cachedTokens} cached; ` +
            `${side.completionTokens} completion tokens, ${side.validAnswers}/${side.requests} answers valid against the schema; ` +
            `mean latency ${side.meanLatencyMs.toFixed(0)} ms; ${side.trimmedLines} lines trimmed`,
        );
      }
      details.modes = result;
      figures.push(...modesFigures(result));
    }
    if (runs('cascade')) {
      const candidates = positive(values['cascade-candidates'], 'cascade-candidates', quick ? 40 : 1000);
      console.error(
        `cascade: ${candidates} candidates in ${rounds} rounds, single pass and cascade (top 10%) alternating, llama-cpp engine, 1 slot ...`,
      );
      const result = await measureCascade({ candidates, rounds, topPercent: 10, threads });
      for (const [name, pass] of Object.entries({ single: result.single, pass1: result.pass1, pass2: result.pass2 }))
        console.error(
          `  ${name}: ${pass.requests} requests, ${pass.completionTokens} completion tokens, ${pass.engineSeconds.toFixed(1)} engine s`,
        );
      details.cascade = result;
      figures.push(...cascadeFigures(result));
    }
    if (runs('csv')) {
      const rows = quick ? 20_000 : 170_000;
      const csvRounds = Math.max(MIN_CSV_ROUNDS, rounds);
      console.error(
        `csv: ${rows} generated rows, convert then analyze and join, each in its own process, ${csvRounds} alternating rounds (medians) ...`,
      );
      const result = await measureCsv({ rows, rounds: csvRounds });
      const steps = {
        'csv-parse alone': 'parseOnly',
        convert: 'convert',
        'read + parse alone': 'readOnly',
        analyze: 'analyze',
        'analyze + join': 'analyzeAndJoin',
      } as const;
      for (const [name, step] of Object.entries(steps)) {
        const side = result[step];
        const each = result.rounds.map((round) => `${Math.round(round[step].perSecond)}`).join(', ');
        console.error(
          `  ${name}: median ${(side.wallMs / 1000).toFixed(2)} s, ${Math.round(side.perSecond)}/s (rounds ${each}), peak RSS ${(side.peakRssBytes / MB).toFixed(1)} MB`,
        );
      }
      details.csv = result;
      figures.push(...csvFigures(result));
    }
    if (runs('extension')) {
      const lines = quick ? 10_000 : 50_000;
      const rows = quick ? 20_000 : 170_000;
      console.error(
        `extension: a Batches tree refresh of 1,000 batches; diagnostics of ${lines} lines through the language server, then edits of that file; the results table over ${rows} rows ...`,
      );
      const result = await measureExtension({ batches: 1000, lines, rows, rounds: quick ? 3 : 5 });
      console.error(
        `  an edit's diagnostics after ${result.diagnostics.revalidationMs.toFixed(0)} ms (a 200 ms debounce, then a whole pass)`,
      );
      details.extension = result;
      figures.push(...extensionFigures(result));
    }
    if (runs('pool')) {
      const options = {
        lines: quick ? 200 : 1600,
        latencyMs: 100,
        slots: 4,
        downMs: quick ? 5_000 : 30_000,
        killAfterMs: quick ? 2_000 : 5_000,
        afterReturnMs: quick ? 3_000 : 10_000,
      };
      console.error(
        `pool: ${options.lines} lines over 1, 2 and 4 Ollama emulators (${options.latencyMs} ms per answer, ${options.slots} slots each), ` +
          `a full- and a half-speed one, then one of two killed and back ${options.downMs / 1000} s later ...`,
      );
      const result = await measurePool(options, (line) => console.error(line));
      details.pool = result;
      figures.push(...poolFigures(result));
    }
  } finally {
    killAll();
    clearTimeout(watchdog);
  }
  const durationMs = performance.now() - started;
  // Startup and warm-up weigh on figures at a smoke run's sizes: the targets are for the full run.
  if (quick) for (const figure of figures) figure.ok = null;

  console.log(`\nMachine: ${info.cpu}, ${info.cores} cores, ${info.memoryGb} GB, node ${info.node}, ${info.os}`);
  console.log(
    `Mode: ${quick ? 'quick, a smoke run at reduced sizes (targets are checked by the full run only)' : 'full'}; run took ${(durationMs / 1000).toFixed(0)} s\n`,
  );
  console.log(figureTable(figures));
  for (const result of details.overhead ?? []) {
    const { daemon, raw } = result;
    console.log(
      `\nFloor at ${thousands(result.lines)} (plain node:http keep-alive loop, same emulator, same concurrency): ` +
        `${raw.requestsPerSecond.toFixed(0)} req/s, ${raw.cpuMsPerRequest.toFixed(3)} ms CPU/req ` +
        `(daemon/floor: ${(daemon.requestsPerSecond / raw.requestsPerSecond).toFixed(2)} throughput, ${(daemon.cpuMsPerRequest / raw.cpuMsPerRequest).toFixed(2)} CPU).`,
    );
  }
  for (const polling of details.polling ?? []) {
    const { paced, backToBack, perPoll, pinned, daemonCpuMsPerRequest } = polling;
    const bound =
      polling.engineLatencyMs > 0
        ? `the engine takes ${polling.engineLatencyMs} ms per request, so the batch is bound by it and the daemon's event loop has room for the polls`
        : `the batch is bound by the daemon's event loop (${(daemonCpuMsPerRequest * 1000).toFixed(0)} µs daemon CPU per request), so every poll's cost comes out of it`;
    console.log(
      `\nPolling, ${engineLabel(polling.engineLatencyMs)}: ${pinned ? `daemon pinned to CPU ${pinned.daemon}, emulator, pollers and benchmark to CPU ${pinned.others}` : 'not pinned'}; ` +
        `${bound}: each poll displaced ${paced.displacedUsPerPoll.toFixed(0)} µs (paced) / ${backToBack.displacedUsPerPoll.toFixed(0)} µs (back-to-back) of batch work.` +
        (perPoll
          ? ` A back-to-back poll costs the idle daemon ${perPoll.daemonUs.toFixed(0)} µs CPU, a bare node:http server sending the same ${perPoll.answerBytes} bytes ${perPoll.floorUs.toFixed(0)} µs ` +
            `(daemon/floor ${(perPoll.daemonUs / perPoll.floorUs).toFixed(2)}).`
          : ''),
    );
  }
  if (details.engine) {
    const { daemon, direct } = details.engine;
    console.log(
      `\nEngine: ${daemon.promptTokensPerRequest.toFixed(0)} prompt tokens/request (system prompt ${details.engine.systemPromptChars} chars), ` +
        `cached ${(daemon.cachedShare * 100).toFixed(0)}% (daemon) / ${(direct.cachedShare * 100).toFixed(0)}% (direct); ` +
        `CPU ms/request: daemon process ${daemon.cpuMsPerRequest.toFixed(1)}, direct (bench process) ${direct.cpuMsPerRequest.toFixed(1)}.`,
    );
  }
  if (profileDir)
    details.profiles = [
      ...sizes.map(String),
      'engine',
      'upload',
      'polling-0ms',
      `polling-${ENGINE_LATENCY_MS}ms`,
    ].flatMap((name) => printProfiles(join(profileDir, name)));

  if (values.json) {
    const report = {
      machine: info,
      mode: quick ? 'quick' : 'full',
      startedAt: new Date(Date.now() - durationMs).toISOString(),
      durationMs: Math.round(durationMs),
      figures,
      details,
    };
    writeFileSync(values.json, JSON.stringify(report, null, 2) + '\n');
    console.error(`wrote ${values.json}`);
  }
  return figures.every((figure) => figure.ok !== false) ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    killAll();
    console.error(error instanceof Error ? (error.stack ?? error.message) : String(error));
    process.exit(2);
  },
);
