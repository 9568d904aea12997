// `npm run demo`: the main job end to end on an embedded default, through the real CLI and
// daemon: a CSV of 40 candidate profiles → `convert` (a rubric as the byte-identical system
// prompt, a template, a JSON schema for the answers) → `run` → `analyze`, joined back to the CSV
// and sorted by score. On Ollama when one answers at OLLAMA_HOST (or 127.0.0.1:11434), else on the
// embedded llama-cpp engine with a generated tiny model (random weights: the answers are real
// inference but mean nothing).
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { OllamaEngine, ollamaBaseUrl } from '../../server/engines/ollama.js';
import { CLI } from '../support/daemon-process.js';
import { tinyModelPath } from '../support/models.js';

const RUBRIC = `You are a senior technical recruiter screening candidates for a Staff Backend Engineer role.
Score the candidate from 0 to 100: backend depth (30), systems and reliability (20), Go/Rust/PostgreSQL/Kafka (15),
seniority and scope (20), evidence quality (15). Judge only what the profile says.
Answer with a single JSON object: {"score": integer, "decision": "advance" | "maybe" | "reject", "reason": one sentence}.`;

const SCHEMA = {
  type: 'object',
  properties: {
    score: { type: 'integer', minimum: 0, maximum: 100 },
    decision: { type: 'string', enum: ['advance', 'maybe', 'reject'] },
    reason: { type: 'string', maxLength: 160 },
  },
  required: ['score', 'decision', 'reason'],
  additionalProperties: false,
};

const TEMPLATE = `Candidate {{candidate_id}}
Current title: {{current_title}}
Years of experience: {{years_experience}}
Skills: {{skills}}
Work history: {{work_history}}`;

const TITLES = ['Backend Engineer', 'Site Reliability Engineer', 'Data Engineer', 'Frontend Developer', 'Engineering Manager'];
const SKILLS = ['Go', 'Rust', 'PostgreSQL', 'Kafka', 'Redis', 'Kubernetes', 'Python', 'TypeScript', 'React', 'Java'];
const WORK = ['led a payments service handling 2k req/s', 'migrated batch jobs to streaming', 'ran a multi-region Kubernetes cluster', 'built the checkout UI', 'mentored a team of 6 engineers'];

/** A seeded CSV of candidate profiles, with the quoting a real export has. */
function candidatesCsv(count: number): string {
  let seed = 7;
  const next = (n: number): number => (seed = (seed * 1103515245 + 12345) % 2147483648) % n;
  const quote = (value: string): string => (/[",\n]/.test(value) ? `"${value.replace(/"/g, '""')}"` : value);
  const rows = Array.from({ length: count }, (_, index) =>
    [`C${String(index + 1).padStart(4, '0')}`, TITLES[next(5)]!, String(1 + next(15)), [SKILLS[next(10)], SKILLS[next(10)], SKILLS[next(10)]].join(', '), `${WORK[next(5)]}; ${WORK[next(5)]}`].map(quote).join(','),
  );
  return ['candidate_id,current_title,years_experience,skills,work_history', ...rows].join('\n') + '\n';
}

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
const files = { rubric: join(workDir, 'rubric.md'), template: join(workDir, 'template.txt'), schema: join(workDir, 'schema.json') };
writeFileSync(csv, candidatesCsv(40));
writeFileSync(files.rubric, RUBRIC);
writeFileSync(files.template, TEMPLATE);
writeFileSync(files.schema, JSON.stringify(SCHEMA, null, 2));

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
step('convert candidates.csv ...', ['convert', csv, '-o', input, '--data-dir', dataDir, '--system-prompt', files.rubric, '--template', files.template, '--schema', files.schema, '--id-column', 'candidate_id', '--model', engine.model, '--max-tokens', '200', '--temperature', '0']);
// The demo's daemon is its own: any free HTTP port, so a daemon already serving the default one (the extension's) is no obstacle.
const run = spawnSync(process.execPath, [CLI, 'run', input, '--data-dir', dataDir, '--port', '0', '--json', ...engine.args], { stdio: ['inherit', 'pipe', 'inherit'] });
spawnSync(process.execPath, [CLI, 'stop', '--data-dir', dataDir], { stdio: 'ignore' });
if (run.status !== 0) {
  console.error(`the batch did not complete (exit ${run.status}); see ${join(dataDir, 'daemon.log')}`);
  process.exit(1);
}
const { output_path: outputPath, error_path: errorPath } = JSON.parse(run.stdout.toString()) as { output_path: string; error_path: string };
console.log(`\n$ ollama-batch run candidates.jsonl: done`);
const scored = join(workDir, 'candidates.scored.csv');
step('analyze output.jsonl --input candidates.jsonl --source candidates.csv ...', ['analyze', outputPath, '--errors', errorPath, '--input', input, '--source', csv, '--csv', scored, '--sort-by', 'score']);
console.log(`\nscored CSV: ${scored}\nresults (OpenAI's batch output format): ${outputPath}\nerrors: ${errorPath}\ndaemon data and log: ${dataDir}`);
