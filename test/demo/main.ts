// `npm run demo`: the main job end to end on an embedded default, through the real CLI and
// daemon, on the sample job of test/fixtures/recruiting: a CSV of 40 candidate profiles →
// `convert` (the rubric as the byte-identical system prompt, the template, the answer schema) →
// `run` → `analyze`, joined back to the CSV and sorted by score. On Ollama when one answers at
// OLLAMA_HOST (or 127.0.0.1:11434), else on the embedded llama-cpp engine with a generated tiny
// model (random weights: the answers are real inference but mean nothing).
import { spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { ollamaBaseUrl } from '../../server/config/defaults.js';
import { OllamaEngine } from '../../server/engines/ollama.js';
import { writeCandidatesCsv } from '../fixtures/recruiting/candidates.js';
import { SAMPLE_JOB } from '../fixtures/recruiting/sample-job.js';
import { CLI } from '../support/daemon-process.js';
import { tinyModelPath } from '../support/models.js';

async function chooseEngine(): Promise<{ args: string[]; model: string; label: string }> {
  const url = ollamaBaseUrl();
  const ollama = new OllamaEngine({ url });
  const up = await ollama.ping();
  const models = up ? await ollama.listModels() : [];
  await ollama.close();
  if (up && models.length > 0) {
    const model = process.env.OLLAMA_BATCH_DEMO_MODEL ?? models[0]!;
    return { args: ['--engine', 'ollama', '--ollama-url', url], model, label: `Ollama at ${url}, model ${model}` };
  }
  const why = up ? `Ollama at ${url} has no models (ollama pull gemma3:12b)` : `no Ollama answered at ${url}`;
  const modelPath = await tinyModelPath();
  return {
    args: ['--engine', 'llama-cpp', '--model-path', modelPath, '--threads', '1'],
    model: 'tiny',
    label: `${why}; using the embedded llama-cpp engine on a generated tiny model (${modelPath}: random weights, so the scores are real inference but mean nothing)`,
  };
}

const workDir = resolve('.tmp', 'demo');
const dataDir = join(workDir, 'data');
mkdirSync(workDir, { recursive: true });
const engine = await chooseEngine();
console.log(`engine: ${engine.label}`);

const csv = join(workDir, 'candidates.csv');
await writeCandidatesCsv(csv, { rows: 40 });

/** Runs one CLI command with its output shown; stops the demo (and the daemon) if it fails. */
function step(title: string, args: string[]): void {
  console.log(`\n$ ollama-batch ${title}`);
  const result = spawnSync(process.execPath, [CLI, ...args], { stdio: 'inherit' });
  if (result.status === 0) return;
  spawnSync(process.execPath, [CLI, 'stop', '--data-dir', dataDir], { stdio: 'ignore' });
  console.error(`\nthat step failed (exit ${result.status}); the daemon's log: ${join(dataDir, 'daemon.log')}`);
  process.exit(1);
}

const input = join(workDir, 'candidates.jsonl');
step('convert candidates.csv ...', [
  'convert',
  csv,
  '-o',
  input,
  '--data-dir',
  dataDir,
  '--system-prompt',
  SAMPLE_JOB.rubric,
  '--template',
  SAMPLE_JOB.template,
  '--schema',
  SAMPLE_JOB.schema,
  '--id-column',
  'candidate_id',
  '--model',
  engine.model,
  '--max-tokens',
  '400',
  '--temperature',
  '0',
]);
// The demo's daemon is its own: any free HTTP port, so a daemon already serving the default one (the extension's) is no obstacle.
const run = spawnSync(
  process.execPath,
  [CLI, 'run', input, '--data-dir', dataDir, '--port', '0', '--json', ...engine.args],
  { stdio: ['inherit', 'pipe', 'inherit'] },
);
spawnSync(process.execPath, [CLI, 'stop', '--data-dir', dataDir], { stdio: 'ignore' });
// 3: the batch completed with some lines failed; the analysis says which and why.
if (run.status !== 0 && run.status !== 3) {
  console.error(`the batch did not complete (exit ${run.status}); see ${join(dataDir, 'daemon.log')}`);
  process.exit(1);
}
const { output_path: outputPath, error_path: errorPath } = JSON.parse(run.stdout.toString()) as {
  output_path: string;
  /** Null when no line failed. */
  error_path: string | null;
};
console.log(`\n$ ollama-batch run candidates.jsonl: done`);
const scored = join(workDir, 'candidates.scored.csv');
step('analyze output.jsonl --input candidates.jsonl --source candidates.csv ...', [
  'analyze',
  outputPath,
  ...(errorPath ? ['--errors', errorPath] : []),
  '--input',
  input,
  '--source',
  csv,
  '--csv',
  scored,
  '--sort-by',
  'score',
]);
console.log(
  `\nscored CSV: ${scored}\nresults (OpenAI's batch output format): ${outputPath}\nerrors: ${errorPath ?? 'none'}\ndaemon data and log: ${dataDir}`,
);
