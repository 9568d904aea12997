// Request fields through the real daemon process: a batch asking for what its engine refuses
// fails at validation, naming the field, the engine and the line; one asking for thinking and
// n choices runs on Ollama (the emulator's thinking model, through the daemon's `ollama` client)
// with the thinking counted in each answer's usage and in the batch's.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import type { BatchOutputLine, ChatCompletion } from '../../server/openai/types.js';
import type { Batch } from '../../server/protocol/openai.js';
import { requestLine, tempDir, writeTempFile } from '../support/batch-files.js';
import {
  filePath,
  isFinished,
  startDaemonProcess,
  submit,
  waitForBatch,
  type DaemonProcess,
} from '../support/daemon-process.js';
import { tinyModelPath } from '../support/models.js';
import { startOllamaEmulator, type RunningEmulator } from '../support/ollama-emulator/server.js';

/** A batch file of `count` lines whose bodies have `fields` added. */
function linesWith(count: number, model: string, fields: Record<string, unknown>): string {
  return Array.from({ length: count }, (_, index) => {
    const line = requestLine(index + 1, { model }) as { body: Record<string, unknown> };
    Object.assign(line.body, fields);
    return JSON.stringify(line);
  }).join('\n');
}

async function run(daemon: DaemonProcess, content: string): Promise<Batch> {
  const created = await submit(daemon.connection, writeTempFile('fields.jsonl', content));
  return waitForBatch(daemon.connection, created.id, isFinished);
}

describe('request fields through the daemon', function () {
  this.timeout(300_000);
  let emulator: RunningEmulator | undefined;
  let daemon: DaemonProcess | undefined;

  afterEach(async () => {
    await daemon?.stop();
    await emulator?.close();
    daemon = emulator = undefined;
  });

  it('runs reasoning_effort and n = 2 on Ollama: think sent, two choices a line, reasoning tokens in the batch usage', async () => {
    emulator = await startOllamaEmulator({
      instant: true,
      models: ['thinker'],
      instantContent: '{"score":61}',
      thinking: 'Weighing the rubric. '.repeat(3),
      recordBodies: true,
    });
    daemon = await startDaemonProcess(tempDir(), ['--ollama-url', emulator.url]);
    const batch = await run(daemon, linesWith(5, 'thinker', { reasoning_effort: 'medium', n: 2, max_tokens: 64 }));
    assert.equal(batch.status, 'completed', JSON.stringify(batch.errors));
    // Besides the one-token request that measures the prompt in the model's tokens.
    const answered = emulator.received.filter(
      ({ body }) => (body.options as { num_predict: number }).num_predict !== 1,
    );
    assert.equal(answered.length, 10, 'two requests a line');
    assert.ok(answered.every(({ body }) => body.think === 'medium'));
    const completions = readFileSync(await filePath(daemon.connection, batch.output_file_id!), 'utf8')
      .trim()
      .split('\n')
      .map((text) => (JSON.parse(text) as BatchOutputLine).response!.body as ChatCompletion);
    assert.equal(completions.length, 5);
    let [reasoning, output] = [0, 0];
    for (const completion of completions) {
      assert.deepEqual(
        completion.choices.map((choice) => [choice.index, choice.message.content]),
        [
          [0, '{"score":61}'],
          [1, '{"score":61}'],
        ],
      );
      reasoning += completion.usage.completion_tokens_details!.reasoning_tokens;
      output += completion.usage.completion_tokens;
    }
    assert.ok(reasoning > 0);
    assert.equal(batch.usage.output_tokens_details.reasoning_tokens, reasoning);
    assert.equal(batch.usage.output_tokens, output);
  });

  it('fails a batch asking the llama-cpp engine for a logit bias, naming field, engine and line', async () => {
    daemon = await startDaemonProcess(tempDir(), [
      '--engine',
      'llama-cpp',
      '--model-path',
      await tinyModelPath(),
      '--concurrency',
      '1',
      '--threads',
      '1',
    ]);
    const content = `${linesWith(2, 'tiny', {})}\n${linesWith(1, 'tiny', { logit_bias: { '17': -100 } }).replace('req-1', 'req-3')}`;
    const batch = await run(daemon, content);
    assert.equal(batch.status, 'failed');
    assert.equal(batch.output_file_id, null, 'nothing ran');
    const [error] = batch.errors!.data;
    assert.equal(error!.code, 'unsupported_parameter');
    assert.equal(error!.param, 'body.logit_bias');
    assert.equal(error!.line, 3);
    assert.match(
      error!.message,
      /^fields\.jsonl line 3: body\.logit_bias is not supported by the llama-cpp engine: .+; the openai engine honours it$/,
    );
  });
});
