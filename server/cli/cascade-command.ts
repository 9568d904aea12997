// `ollama-batch cascade FILE.csv`: score every row cheaply, explain only the shortlist. Converts
// the CSV into both passes' requests (FILE.score.jsonl: the score field alone; FILE.jsonl: the
// full answer), submits pass 1 with the link to the full requests and the shortlist rule in its
// metadata, follows it, then follows pass 2, which the daemon creates from the shortlist when
// pass 1 completes, and has the daemon join both into one scored CSV (results/analyze, as the
// extension asks it). The daemon owns the cascade: Ctrl-C, a daemon restart or a new run of this
// command with the same CSV picks it up where it is.
import { resolve } from 'node:path';
import type { Command } from 'commander';
import type { MessageConnection } from 'vscode-jsonrpc';
import { CLIENT_COMPLETION_WINDOW } from '../batches/window.js';
import { daemonLogPath } from '../daemon-access/local-daemon.js';
import { passTwoIn } from '../cascade/passes.js';
import type { ConvertReport } from '../csv/convert.js';
import { CASCADE_METADATA as KEYS, parseShortlist, shortlistText, type ShortlistRule } from '../protocol/cascade.js';
import * as protocol from '../protocol/methods.js';
import type { AnalysisReport } from '../protocol/jobs.js';
import type { Batch } from '../protocol/openai.js';
import { TERMINAL_STATUSES } from '../protocol/openai.js';
import { readModelStats } from '../store/store.js';
import { addRequestOptions, convertOptionsOf, percentOf, type ConvertFlags } from './convert-command.js';
import { call, CliError } from './daemon-connection.js';
import { EXIT, EXIT_CODES_HELP, followBatch } from './follow.js';
import { count } from './format.js';
import { addDataDirOption, dataDirOf } from './options.js';
import { firstConnection, reconnectWith } from './run.js';

export interface CascadeFlags extends ConvertFlags {
  minScore?: number;
  csv?: string;
  completionWindow?: string;
  new?: boolean;
}

const DEFAULT_TOP_PERCENT = 10;
/** How often the command looks for pass 2 while the daemon makes it (reading pass 1's output). */
const PASS_TWO_POLL_MS = 250;

function ruleOf(flags: CascadeFlags): ShortlistRule {
  if (flags.top !== undefined && flags.minScore !== undefined)
    throw new CliError('--top and --min-score are two shortlist rules: choose one');
  return flags.minScore !== undefined
    ? { kind: 'min', score: flags.minScore }
    : { kind: 'top', percent: flags.top ?? DEFAULT_TOP_PERCENT };
}

const cascadeList = async (connection: MessageConnection): Promise<Batch[]> =>
  (await call(() => connection.sendRequest(protocol.BatchListRequest.type, { limit: 100 }))).data;

/** The latest cascade of this CSV that has not ended (pass 1 or its pass 2 still to run), if any. */
async function unfinishedCascade(connection: MessageConnection, source: string): Promise<Batch | undefined> {
  const batches = await cascadeList(connection);
  return batches.find((batch) => {
    if (batch.metadata?.[KEYS.pass] !== '1' || batch.metadata.source !== source) return false;
    if (!TERMINAL_STATUSES.includes(batch.status)) return true;
    const passTwo = passTwoIn(batches, batch.id);
    return batch.status === 'completed' && (!passTwo || !TERMINAL_STATUSES.includes(passTwo.status));
  });
}

/** Converts, registers both request files and creates pass 1. */
async function submitCascade(
  connection: MessageConnection,
  source: string,
  flags: CascadeFlags,
  rule: ShortlistRule,
): Promise<{ passOne: Batch; converted: ConvertReport }> {
  const [{ convertCsv, ConvertError }, { learnedInputs }] = await Promise.all([
    import('../csv/convert.js'),
    import('../csv/estimate.js'),
  ]);
  const output = resolve(flags.output ?? `${source.replace(/\.csv$/i, '')}.jsonl`);
  if (output === source) throw new CliError(`the output ${output} would overwrite the CSV; name another with -o`);
  const options = convertOptionsOf(source, output, {
    ...flags,
    cascade: true,
    ...(rule.kind === 'top' && { top: rule.percent }),
  });
  let converted: ConvertReport;
  try {
    converted = await convertCsv({ ...learnedInputs(readModelStats(dataDirOf(flags), options.model)), ...options });
  } catch (error) {
    if (error instanceof ConvertError) throw new CliError(error.message);
    throw error;
  }
  const register = (path: string) =>
    call(() => connection.sendRequest(protocol.FileRegisterRequest.type, { path, purpose: 'batch' }));
  const [scoreFile, fullFile] = [await register(converted.cascade!.score_output!), await register(output)];
  const passOne = await call(() =>
    connection.sendRequest(protocol.BatchCreateRequest.type, {
      input_file_id: scoreFile.id,
      endpoint: '/v1/chat/completions',
      completion_window: flags.completionWindow ?? CLIENT_COMPLETION_WINDOW,
      metadata: {
        source,
        [KEYS.pass]: '1',
        [KEYS.fullInputFileId]: fullFile.id,
        [KEYS.shortlist]: shortlistText(rule),
        [KEYS.scoreField]: converted.cascade!.score_field,
      },
    }),
  );
  return { passOne, converted };
}

/** Long enough to read a 170,000-line pass 1 and write the shortlist's requests, many times over. */
const PASS_TWO_WAIT_MS = 5 * 60_000;

/** Pass 2 once the daemon has made it from pass 1's shortlist. */
async function awaitPassTwo(
  dataDir: string,
  passOne: Batch,
): Promise<{ connection: MessageConnection; passTwo: Batch }> {
  const deadline = Date.now() + PASS_TWO_WAIT_MS;
  for (;;) {
    if (Date.now() > deadline)
      throw new CliError(
        `the daemon has not made pass 2 of ${passOne.id}; its log (${daemonLogPath(dataDir)}) says why (a request file deleted?)`,
      );
    const { connection } = await firstConnection(dataDir, true);
    const passTwo = passTwoIn(await cascadeList(connection), passOne.id);
    if (passTwo) return { connection, passTwo };
    connection.dispose();
    await new Promise((done) => setTimeout(done, PASS_TWO_POLL_MS));
  }
}

/** Pass 2 failed as empty_file when no row made the shortlist: a cascade with nothing to explain, not a failure. */
const emptyShortlist = (batch: Batch): boolean =>
  batch.status === 'failed' && (batch.errors?.data ?? []).every((error) => error.code === 'empty_file');

/** Returns the exit code (EXIT in follow.ts). */
export async function cascade(file: string, flags: CascadeFlags): Promise<number> {
  const source = resolve(file);
  const rule = ruleOf(flags);
  const dataDir = dataDirOf(flags);
  const json = flags.json ?? false;
  const say = (line: string): void => void (json || console.error(line));
  const follow = async (batch: Batch): Promise<number> => {
    const { connection } = await firstConnection(dataDir, true);
    return followBatch(connection, batch, { dataDir, json, reconnect: reconnectWith(dataDir), printResult: false });
  };

  const { connection } = await firstConnection(dataDir, json);
  let passOne: Batch;
  let converted: ConvertReport | null = null;
  try {
    const running = flags.new ? undefined : await unfinishedCascade(connection, source);
    if (running) {
      passOne = running;
      say(`cascade ${running.id} of ${file} has not ended; following it; use --new to start another`);
    } else {
      ({ passOne, converted } = await submitCascade(connection, source, flags, rule));
      const projection = converted.estimate.projection.cascade!;
      say(
        `cascade of ${count(converted.lines_written)} rows: pass 1 ${passOne.id} scores every row (${converted.cascade!.score_field} only, max_tokens ${converted.cascade!.score_max_tokens}); pass 2 explains the ${shortlistText(rule)}; projected ${projection.ratio.toFixed(2)}× a single pass`,
      );
    }
  } finally {
    connection.dispose();
  }

  say(`pass 1 (score only): ${passOne.id}; Ctrl-C detaches, the cascade goes on`);
  const first = await follow(passOne);
  if (first !== EXIT.completed && first !== EXIT.linesFailed) return first;
  say('pass 1 done; the daemon makes pass 2 from its shortlist');
  const found = await awaitPassTwo(dataDir, passOne);
  let passTwo = found.passTwo;
  found.connection.dispose();
  say(`pass 2 (full answers for the shortlist): ${passTwo.id}`);
  const second = await follow(passTwo);

  const { connection: last } = await firstConnection(dataDir, true);
  let joined: AnalysisReport;
  try {
    passOne = await call(() => last.sendRequest(protocol.BatchGetRequest.type, { id: passOne.id }));
    passTwo = await call(() => last.sendRequest(protocol.BatchGetRequest.type, { id: passTwo.id }));
    if (emptyShortlist(passTwo)) say('no row made the shortlist: the CSV has pass 1 scores only');
    joined = await call(() =>
      last.sendRequest(protocol.ResultsAnalyzeRequest.type, {
        batch_id: passOne.id,
        source,
        csv: resolve(flags.csv ?? `${source.replace(/\.(csv|tsv|txt)$/i, '')}.scored.csv`),
        idColumn: flags.idColumn,
        encoding: flags.encoding,
      }),
    );
  } finally {
    last.dispose();
  }
  if (json) {
    console.log(JSON.stringify({ pass1: passOne, pass2: passTwo, convert: converted, joined }, null, 2));
  } else {
    const { rows, path } = joined.csv!;
    const { shortlisted, explained } = joined.cascade!;
    console.log(
      `${path}: ${count(rows)} rows ranked by pass 1's ${passOne.metadata?.[KEYS.scoreField] ?? 'score'}; ${count(explained)} of ${count(shortlisted)} shortlisted explained by pass 2`,
    );
  }
  return emptyShortlist(passTwo) ? first : Math.max(first, second);
}

export function addCascadeCommand(program: Command): void {
  addRequestOptions(
    addDataDirOption(program.command('cascade'))
      .argument('<file>', 'CSV file, with a header row')
      .description(
        'score every row with the score field alone (pass 1), then the full answer for the shortlist only (pass 2), as two linked batches; join both into one scored CSV',
      )
      .option(
        '-o, --output <file>',
        "pass 2's full requests (default: FILE with .jsonl; pass 1's go to FILE.score.jsonl)",
      ),
  )
    .option('--top <percent>', `shortlist: the top K% of rows by score (default ${DEFAULT_TOP_PERCENT})`, percentOf)
    .option('--min-score <n>', 'shortlist: every row scoring at least this, instead of --top', (value) => {
      const rule = parseShortlist(`>= ${value}`);
      return rule.kind === 'min' ? rule.score : NaN;
    })
    .option('--csv <file>', 'where the joined CSV goes (default: beside the CSV, x.csv gives x.scored.csv)')
    .option('--completion-window <window>', 'how long each pass may take, e.g. 24h, 72h, 7d')
    .option('--new', 'start a new cascade even when one of the same CSV has not ended (default: follow that one)')
    .option('--json', 'print the passes, the conversion and the join as JSON')
    .addHelpText('after', EXIT_CODES_HELP)
    .action(async (file: string, flags: CascadeFlags) => {
      process.exitCode = await cascade(file, flags);
    });
}
