// Figure 6, what the extension's features cost where they run:
//   a. a Batches tree refresh: 1,000 batches re-listed into the tree's model and made into items
//      (what getChildren and getTreeItem do); baseline: the same listing through JSON
//      stringify + parse, what receiving it over JSON-RPC costs anyway;
//   b. diagnostics of a 50,000-line batch file through the daemon's language server (in process,
//      over two streams, a bare JSON-RPC client playing VS Code): from didOpen to the published
//      diagnostics; baseline: JSON.parse of every line, the floor of any validator;
//   c. typing in that file: each edit re-validates it, in slices with other messages answered in
//      between; the longest stretch the server was busy at once (event-loop delay, the most a
//      keystroke or hover waits) against the whole re-validation (what an unsliced pass would block).
//   d. the results panel's table over the recruiter's scored CSV (170,000 rows, written by the
//      built CLI's `analyze --source`): opening it (one pass recording where each row starts)
//      against streaming the file's bytes; the windows of 100 rows the panel asks for as it scrolls,
//      at random places (p99, against a frame at 60 Hz), against reading as many bytes at the same
//      places; the first sort by score (its column read from the file, then sorted) against
//      streaming the file.
// Each is the median of several rounds, after a warm-up round.
import { execFileSync } from 'node:child_process';
import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { CsvRows } from '../../client/model/csv-rows.js';
import { BatchList } from '../../client/model/batch-list.js';
import { batchDescription, batchLabel, contextValue, statusIcon } from '../../client/model/format.js';
import { makeBatch } from '../client/batches.js';
import { batchLines, tempDir } from '../support/batch-files.js';
import { CLI } from '../support/daemon-process.js';
import { Editor } from '../support/lsp-editor.js';
import { removeScratchDir, scratchDir } from './children.js';
import { writeCandidatesCsv } from '../fixtures/recruiting/candidates.js';
import { writeResults } from './csv.js';
import { percentile } from './percentile.js';

export interface ExtensionResult {
  tree: { batches: number; refreshMs: number; jsonRoundTripMs: number };
  diagnostics: {
    lines: number;
    publishedMs: number;
    parseOnlyMs: number;
    longestBusyMs: number;
    revalidationMs: number;
  };
  table: {
    rows: number;
    openMs: number;
    streamMs: number;
    windowP99Ms: number;
    readWindowP99Ms: number;
    firstSortMs: number;
  };
}

/** The median of `rounds` measurements, after one warm-up (the first compiles). */
async function medianOf(rounds: number, measure: () => Promise<number>): Promise<number> {
  await measure();
  const values: number[] = [];
  for (let round = 0; round < rounds; round++) values.push(await measure());
  return percentile(values, 0.5);
}

/** How long `run` takes, in ms. */
async function duration(run: () => unknown): Promise<number> {
  const started = performance.now();
  await run();
  return performance.now() - started;
}

/** Median time of `rounds` calls of `run`, after a warm-up call. */
const timed = (rounds: number, run: () => unknown): Promise<number> => medianOf(rounds, () => duration(run));

async function measureTree(count: number, rounds: number): Promise<ExtensionResult['tree']> {
  const batches = Array.from({ length: count }, (_, index) =>
    makeBatch({
      id: `batch_${index}`,
      created_at: 1_700_000_000 + ((index * 7919) % count),
      status: index % 3 === 0 ? 'completed' : 'in_progress',
      metadata: { input_path: `/data/part-${index}.jsonl` },
    }),
  );
  const list = new BatchList();
  let items = 0;
  const refresh = (): void => {
    list.replace(batches);
    for (const id of list.ids()) {
      const batch = list.get(id)!;
      items += [batchLabel(batch), batchDescription(batch, list.pace(id)), statusIcon(batch), contextValue(batch)]
        .length;
    }
  };
  const roundTrip = (): void => {
    items += (JSON.parse(JSON.stringify(batches)) as unknown[]).length;
  };
  const refreshMs = await timed(rounds, refresh);
  const jsonRoundTripMs = await timed(rounds, roundTrip);
  if (items === 0) throw new Error('the tree made no items');
  return { batches: count, refreshMs, jsonRoundTripMs };
}

async function measureDiagnostics(lines: number, rounds: number): Promise<ExtensionResult['diagnostics']> {
  const text = batchLines(lines, { model: 'tiny' });
  const editor = new Editor(tempDir());
  let documents = 0;
  try {
    await editor.start();
    const openAndValidate = async (): Promise<void> => {
      const uri = `file:///bench/big-${++documents}.jsonl`;
      await editor.open(uri, text);
      const { diagnostics } = await editor.diagnostics(uri);
      if (diagnostics.length !== 0) throw new Error(`a valid file got ${diagnostics.length} diagnostics`);
      await editor.close(uri);
      await editor.diagnostics(uri); // cleared: the server has let go of the document
    };
    const publishedMs = await timed(rounds, openAndValidate);
    const parseOnlyMs = await timed(rounds, () => {
      for (const line of text.split('\n')) if (line) JSON.parse(line);
    });

    // Typing: one line edited at a time in an open document; each edit re-validates it all. The
    // server answers other messages between the slices, so the longest it is busy at once is what
    // a keystroke or a hover can wait behind.
    const uri = `file:///bench/typed.jsonl`;
    await editor.open(uri, text);
    await editor.diagnostics(uri);
    const busy = monitorEventLoopDelay({ resolution: 1 });
    const passes: number[] = [];
    let longestBusyMs = 0;
    for (let round = 0; round < rounds; round++) {
      const started = performance.now();
      busy.reset();
      busy.enable();
      await editor.edit(uri, round + 2, { line: 10 + round, text: '{"broken' });
      const { diagnostics } = await editor.diagnostics(uri);
      busy.disable();
      passes.push(performance.now() - started);
      if (diagnostics.length !== round + 1)
        throw new Error(`${round + 1} broken lines got ${diagnostics.length} diagnostics`);
      longestBusyMs = Math.max(longestBusyMs, busy.max / 1e6 - 1);
    }
    return { lines, publishedMs, parseOnlyMs, longestBusyMs, revalidationMs: percentile(passes, 0.5) };
  } finally {
    editor.dispose();
  }
}

const WINDOW_ROWS = 100;
const WINDOWS = 500;

async function measureTable(rows: number, rounds: number): Promise<ExtensionResult['table']> {
  const work = scratchDir();
  try {
    const source = join(work, 'candidates.csv');
    const scored = join(work, 'scored.csv');
    await writeCandidatesCsv(source, { rows });
    await writeResults(rows, join(work, 'output.jsonl'), join(work, 'errors.jsonl'));
    execFileSync(
      process.execPath,
      [
        CLI,
        'analyze',
        join(work, 'output.jsonl'),
        '--errors',
        join(work, 'errors.jsonl'),
        '--source',
        source,
        '--csv',
        scored,
        '--json',
      ],
      { stdio: 'ignore' },
    );

    const openMs = await timed(rounds, async () => (await CsvRows.open(scored)).close());
    // The floor of any pass over the file: its bytes streamed in the same 1 MB chunks, untouched.
    const streamMs = await timed(rounds, async () => {
      for await (const chunk of createReadStream(scored, { highWaterMark: 1024 * 1024 }))
        if ((chunk as Buffer).length === 0) throw new Error('an empty chunk');
    });

    const table = await CsvRows.open(scored);
    const file = await open(scored, 'r');
    try {
      if (table.totalRows !== rows) throw new Error(`the scored CSV has ${table.totalRows} rows, not ${rows}`);
      // Seeded; the baseline reads as many bytes at about the same places.
      let seed = 7;
      const starts = Array.from({ length: WINDOWS }, () => (seed = (seed * 16807) % 2147483647) % (rows - WINDOW_ROWS));
      const { size } = await file.stat();
      const windowBytes = Math.round((size / rows) * WINDOW_ROWS);
      const windowTimes: number[] = [];
      const readTimes: number[] = [];
      for (const start of starts) {
        let started = performance.now();
        const cells = await table.rows(start, WINDOW_ROWS);
        windowTimes.push(performance.now() - started);
        if (cells.length !== WINDOW_ROWS) throw new Error(`a window of ${cells.length} rows`);
        started = performance.now();
        await file.read(Buffer.alloc(windowBytes), 0, windowBytes, Math.round((start / rows) * (size - windowBytes)));
        readTimes.push(performance.now() - started);
      }
      const score = table.columns.indexOf('score');
      if (score === -1) throw new Error(`no score column in ${table.columns.join(', ')}`);
      // A fresh table each round: its first sort reads the column, later ones reuse it.
      const firstSortMs = await medianOf(rounds, async () => {
        const fresh = await CsvRows.open(scored);
        try {
          return await duration(async () => {
            const count = await fresh.setView({ column: score, order: 'desc' }, null);
            if (count !== rows) throw new Error(`the sorted view has ${count} rows`);
          });
        } finally {
          await fresh.close();
        }
      });
      return {
        rows,
        openMs,
        streamMs,
        windowP99Ms: percentile(windowTimes, 0.99),
        readWindowP99Ms: percentile(readTimes, 0.99),
        firstSortMs,
      };
    } finally {
      await table.close();
      await file.close();
    }
  } finally {
    removeScratchDir(work);
  }
}

export async function measureExtension(options: {
  batches: number;
  lines: number;
  rows: number;
  rounds: number;
}): Promise<ExtensionResult> {
  return {
    tree: await measureTree(options.batches, options.rounds * 3),
    diagnostics: await measureDiagnostics(options.lines, options.rounds),
    table: await measureTable(options.rows, options.rounds),
  };
}
