// Figure 5, the recruiter's CSV at full size: 170,000 generated candidate rows converted to a
// batch JSONL by the built CLI (`convert`, the sample job's rubric, template and schema), and 170,000
// output lines (with 2% error lines) analysed (`analyze`), then analysed and joined back to the
// CSV (`analyze --source`, a sorted 170,000-row CSV written: shown beside the figures).
// Each runs in its own process, timed from start to exit, its peak RSS from getrusage.
// Baselines in the same run: csv-parse alone streaming the same CSV (rows/s), and reading and
// JSON-parsing the same output lines alone (lines/s): what the work costs without our own.
// On a shared machine one run says little: every step runs in each of several rounds (at least
// three), baseline and candidate alternating, and each figure is the median of its rounds.
import { spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import { join } from 'node:path';
import { writeCandidatesCsv } from '../fixtures/recruiting/candidates.js';
import { SAMPLE_JOB } from '../fixtures/recruiting/sample-job.js';
import { CLI } from '../support/daemon-process.js';
import { removeScratchDir, repoRoot, scratchDir } from './children.js';
import { percentile } from './percentile.js';

const PEAK_RSS = join(repoRoot, 'test', 'bench', 'peak-rss.mjs');

export interface TimedProcess {
  wallMs: number;
  peakRssBytes: number;
  perSecond: number;
}

const STEPS = ['parseOnly', 'convert', 'readOnly', 'analyze', 'analyzeAndJoin'] as const;
type CsvStep = (typeof STEPS)[number];

/** At least this many rounds: one run on a shared machine is noise. */
export const MIN_CSV_ROUNDS = 3;

/** Each step's median over the rounds, and every round as it ran. */
export type CsvResult = Record<CsvStep, TimedProcess> & {
  rows: number;
  rounds: Array<Record<CsvStep, TimedProcess>>;
};

/** The median wall time (its pace from it) and the median peak RSS of `runs` of `units` each. */
function median(runs: TimedProcess[], units: number): TimedProcess {
  const wallMs = percentile(
    runs.map((run) => run.wallMs),
    0.5,
  );
  return {
    wallMs,
    peakRssBytes: percentile(
      runs.map((run) => run.peakRssBytes),
      0.5,
    ),
    perSecond: (units * 1000) / wallMs,
  };
}

/** Runs `node [preload] args` to its end; its count per second of `units`. */
async function timed(args: string[], units: number): Promise<TimedProcess> {
  const started = performance.now();
  const child = spawn(process.execPath, ['--import', PEAK_RSS, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const [code] = (await once(child, 'exit')) as [number];
  const wallMs = performance.now() - started;
  if (code !== 0) throw new Error(`node ${args.join(' ')} exited ${code}: ${stderr.slice(-2000)}`);
  const peak = /peak-rss (\d+)/.exec(stderr);
  if (!peak) throw new Error(`no peak RSS from node ${args.join(' ')}`);
  return { wallMs, peakRssBytes: Number(peak[1]), perSecond: (units * 1000) / wallMs };
}

const PARSE_ONLY = `
const { createReadStream } = require('node:fs');
const { parse } = require(${JSON.stringify(join(repoRoot, 'node_modules', 'csv-parse', 'dist', 'cjs', 'index.cjs'))});
let rows = 0;
createReadStream(process.argv[1]).pipe(parse({ bom: true, relax_column_count: true })).on('data', () => rows++).on('end', () => console.log(rows));`;

const READ_ONLY = `
const { createReadStream } = require('node:fs');
const { createInterface } = require('node:readline');
(async () => {
  let lines = 0;
  for (const file of process.argv.slice(1)) for await (const line of createInterface({ input: createReadStream(file), crlfDelay: Infinity })) if (line) { JSON.parse(line); lines++; }
  console.log(lines);
})();`;

/** Output and error lines for every candidate, as the daemon writes them. */
export async function writeResults(rows: number, outputPath: string, errorPath: string): Promise<void> {
  const output = createWriteStream(outputPath);
  const errors = createWriteStream(errorPath);
  let seed = 42;
  const random = (): number => (seed = (seed * 16807) % 2147483647) / 2147483647;
  for (let index = 1; index <= rows; index++) {
    const customId = `C${String(index).padStart(6, '0')}`;
    let line: string;
    let target = output;
    if (random() < 0.02) {
      target = errors;
      line = JSON.stringify({
        id: `batch_req_${index}`,
        custom_id: customId,
        response: {
          status_code: 500,
          request_id: `req_${index}`,
          body: {
            error: {
              message: 'llama runner process has terminated',
              type: 'server_error',
              param: null,
              code: 'server_error',
            },
          },
        },
        error: null,
      });
    } else {
      const score = Math.floor(random() * 101);
      const answer = {
        score,
        decision: score > 70 ? 'advance' : score > 40 ? 'maybe' : 'reject',
        strengths: ['backend depth'],
        concerns: [],
        reason: `Scored ${score} on the rubric.`,
      };
      line = JSON.stringify({
        id: `batch_req_${index}`,
        custom_id: customId,
        response: {
          status_code: 200,
          request_id: `req_${index}`,
          body: {
            id: `chatcmpl-${index}`,
            object: 'chat.completion',
            created: 0,
            model: 'gemma3:12b',
            choices: [
              {
                index: 0,
                message: { role: 'assistant', content: JSON.stringify(answer), refusal: null },
                logprobs: null,
                finish_reason: 'stop',
              },
            ],
            usage: {
              prompt_tokens: 900,
              completion_tokens: 60,
              total_tokens: 960,
              prompt_tokens_details: { cached_tokens: 700 },
            },
            system_fingerprint: null,
          },
        },
        error: null,
        ollama_batch: { latency_ms: 200 + random() * 100, attempts: 1 },
      });
    }
    if (!target.write(`${line}\n`)) await once(target, 'drain');
  }
  output.end();
  errors.end();
  await Promise.all([once(output, 'finish'), once(errors, 'finish')]);
}

export async function measureCsv(options: { rows: number; rounds: number }): Promise<CsvResult> {
  if (options.rounds < MIN_CSV_ROUNDS) throw new Error(`the CSV figures need at least ${MIN_CSV_ROUNDS} rounds`);
  const work = scratchDir();
  try {
    const csv = join(work, 'candidates.csv');
    await writeCandidatesCsv(csv, { rows: options.rows });
    const outputPath = join(work, 'output.jsonl');
    const errorPath = join(work, 'errors.jsonl');
    await writeResults(options.rows, outputPath, errorPath);
    const commands: Record<CsvStep, string[]> = {
      parseOnly: ['-e', PARSE_ONLY, csv],
      convert: [
        CLI,
        'convert',
        csv,
        '-o',
        join(work, 'candidates.jsonl'),
        '--data-dir',
        join(work, 'data'),
        '--system-prompt',
        SAMPLE_JOB.rubric,
        '--template',
        SAMPLE_JOB.template,
        '--schema',
        SAMPLE_JOB.schema,
        '--id-column',
        'candidate_id',
        '--max-tokens',
        '160',
        '--json',
      ],
      readOnly: ['-e', READ_ONLY, outputPath, errorPath],
      analyze: [CLI, 'analyze', outputPath, '--errors', errorPath, '--json'],
      analyzeAndJoin: [
        CLI,
        'analyze',
        outputPath,
        '--errors',
        errorPath,
        '--source',
        csv,
        '--csv',
        join(work, 'scored.csv'),
        '--json',
      ],
    };
    const rounds: Array<Record<CsvStep, TimedProcess>> = [];
    for (let round = 0; round < options.rounds; round++) {
      // Baseline, candidate, baseline, candidate, …: a busy spell on the machine hits both sides.
      const times = {} as Record<CsvStep, TimedProcess>;
      for (const step of STEPS) times[step] = await timed(commands[step], options.rows);
      rounds.push(times);
    }
    const medians = Object.fromEntries(
      STEPS.map((step) => [
        step,
        median(
          rounds.map((round) => round[step]),
          options.rows,
        ),
      ]),
    ) as Record<CsvStep, TimedProcess>;
    return { rows: options.rows, ...medians, rounds };
  } finally {
    removeScratchDir(work);
  }
}
