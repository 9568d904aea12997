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
// Each is the median of several rounds, after a warm-up round.
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { BatchList } from '../../client/model/batch-list.js';
import { batchDescription, batchLabel, contextValue, statusIcon } from '../../client/model/format.js';
import { makeBatch } from '../client/batches.js';
import { batchLines, tempDir } from '../support/batch-files.js';
import { Editor } from '../support/lsp-editor.js';

export interface ExtensionResult {
  tree: { batches: number; refreshMs: number; jsonRoundTripMs: number };
  diagnostics: { lines: number; publishedMs: number; parseOnlyMs: number; longestBusyMs: number; revalidationMs: number };
}

const median = (values: number[]): number => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

/** Median time of `rounds` calls of `run`, after one warm-up call (the first compiles). */
async function timed(rounds: number, run: () => unknown): Promise<number> {
  await run();
  const times: number[] = [];
  for (let round = 0; round < rounds; round++) {
    const started = performance.now();
    await run();
    times.push(performance.now() - started);
  }
  return median(times);
}

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
      items += [batchLabel(batch), batchDescription(batch, list.pace(id)), statusIcon(batch), contextValue(batch)].length;
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
      if (diagnostics.length !== round + 1) throw new Error(`${round + 1} broken lines got ${diagnostics.length} diagnostics`);
      longestBusyMs = Math.max(longestBusyMs, busy.max / 1e6 - 1);
    }
    return { lines, publishedMs, parseOnlyMs, longestBusyMs, revalidationMs: median(passes) };
  } finally {
    editor.dispose();
  }
}

export async function measureExtension(options: { batches: number; lines: number; rounds: number }): Promise<ExtensionResult> {
  return { tree: await measureTree(options.batches, options.rounds * 3), diagnostics: await measureDiagnostics(options.lines, options.rounds) };
}
