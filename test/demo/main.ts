// `npm run demo`: the main job end to end on an embedded default. Scores 40 candidate profiles
// against a rubric with structured JSON answers through the real daemon and CLI: on Ollama when
// one answers at OLLAMA_HOST (or 127.0.0.1:11434), else on the embedded llama-cpp engine with a
// generated tiny model (random weights: the answers are real inference but mean nothing).
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { OllamaEngine, ollamaBaseUrl } from '../../server/engines/ollama.js';
import type { BatchOutputLine } from '../../server/openai/types.js';
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

const TITLES = ['Backend Engineer', 'Site Reliability Engineer', 'Data Engineer', 'Frontend Developer', 'Engineering Manager'];
const SKILLS = ['Go', 'Rust', 'PostgreSQL', 'Kafka', 'Redis', 'Kubernetes', 'Python', 'TypeScript', 'React', 'Java'];
const WORK = ['led a payments service handling 2k req/s', 'migrated batch jobs to streaming', 'ran a multi-region Kubernetes cluster', 'built the checkout UI', 'mentored a team of 6 engineers'];

function candidates(count: number): string[] {
  let seed = 7;
  const next = (n: number): number => (seed = (seed * 1103515245 + 12345) % 2147483648) % n;
  return Array.from({ length: count }, (_, index) => {
    const skills = [SKILLS[next(10)], SKILLS[next(10)], SKILLS[next(10)]].join(', ');
    return `Candidate C${String(index + 1).padStart(4, '0')}\nCurrent title: ${TITLES[next(5)]}\nYears of experience: ${1 + next(15)}\nSkills: ${skills}\nWork history: ${WORK[next(5)]}; ${WORK[next(5)]}`;
  });
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

const input = join(workDir, 'candidates.jsonl');
writeFileSync(
  input,
  candidates(40)
    .map((profile, index) =>
      JSON.stringify({
        custom_id: `C${String(index + 1).padStart(4, '0')}`,
        method: 'POST',
        url: '/v1/chat/completions',
        body: {
          model: engine.model,
          messages: [
            { role: 'system', content: RUBRIC },
            { role: 'user', content: profile },
          ],
          temperature: 0,
          max_tokens: 200,
          response_format: { type: 'json_schema', json_schema: { name: 'score', schema: SCHEMA, strict: true } },
        },
      }),
    )
    .join('\n') + '\n',
);
console.log(`batch input: ${input} (40 candidates, one rubric as a byte-identical system prompt)`);

const run = spawnSync(process.execPath, [CLI, 'run', input, '--data-dir', dataDir, '--json', ...engine.args], { stdio: ['inherit', 'pipe', 'inherit'] });
spawnSync(process.execPath, [CLI, 'stop', '--data-dir', dataDir], { stdio: 'ignore' });
if (run.status !== 0) {
  console.error(`the batch did not complete (exit ${run.status}); see ${join(dataDir, 'daemon.log')}`);
  process.exit(1);
}
const { batch, output_path: outputPath, error_path: errorPath } = JSON.parse(run.stdout.toString()) as { batch: { id: string; request_counts: { completed: number; failed: number }; usage: { input_tokens: number; input_tokens_details: { cached_tokens: number } } }; output_path: string; error_path: string };
const answers = readFileSync(outputPath, 'utf8')
  .split('\n')
  .filter(Boolean)
  .map((line) => JSON.parse(line) as BatchOutputLine)
  .map((line) => {
    const body = line.response!.body as { choices: Array<{ message: { content: string } }> };
    try {
      return { id: line.custom_id, ...(JSON.parse(body.choices[0]!.message.content) as { score: number; decision: string }) };
    } catch {
      return { id: line.custom_id, score: NaN, decision: 'unparseable' };
    }
  })
  .sort((a, b) => (b.score || -1) - (a.score || -1));
console.log(`\nbatch ${batch.id}: ${batch.request_counts.completed} answered, ${batch.request_counts.failed} failed; ${batch.usage.input_tokens} prompt tokens, ${batch.usage.input_tokens_details.cached_tokens} of them from the KV cache`);
console.log('top 5:');
for (const answer of answers.slice(0, 5)) console.log(`  ${answer.id}  score ${answer.score}  ${answer.decision}`);
console.log(`\nresults: ${outputPath}\nerrors:  ${errorPath}\ndaemon data and log: ${dataDir}`);
