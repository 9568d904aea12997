// Bad input gets a clear error naming the file, the line and the field.
import assert from 'node:assert/strict';
import { validateBatchFile } from '../../server/batches/validate.js';
import { REQUEST_FIELDS } from '../../server/engines/request-fields.js';
import { ENGINE_NAMES, type EngineName } from '../../server/protocol/methods.js';
import { batchLines, requestLine, writeTempFile } from '../support/batch-files.js';

const line = (index: number, change: (request: Record<string, any>) => void = () => undefined): string => {
  const request = requestLine(index, { model: 'tiny' }) as Record<string, any>;
  change(request);
  return JSON.stringify(request);
};

async function errorsOf(content: string | Buffer, name = 'batch.jsonl', ...engines: EngineName[]) {
  return validateBatchFile(writeTempFile(name, content), { engines });
}

/** A value that asks for something, for every field of the request-field table. */
const ASKING: Record<string, unknown> = {
  model: 'tiny',
  messages: [{ role: 'user', content: 'Hi' }],
  temperature: 0.5,
  top_p: 0.9,
  seed: 3,
  stop: ['\n'],
  max_tokens: 5,
  max_completion_tokens: 5,
  response_format: { type: 'json_object' },
  n: 2,
  logprobs: true,
  top_logprobs: 2,
  reasoning_effort: 'low',
  frequency_penalty: 0.5,
  presence_penalty: 0.5,
  top_k: 20,
  min_p: 0.05,
  repetition_penalty: 1.1,
  logit_bias: { '42': -100 },
  stream: true,
  stream_options: { include_usage: true },
  tools: [{ type: 'function', function: { name: 'f' } }],
  tool_choice: 'auto',
  parallel_tool_calls: true,
  functions: [{ name: 'f' }],
  function_call: 'auto',
  modalities: ['text', 'audio'],
  audio: { voice: 'alloy', format: 'wav' },
  prediction: { type: 'content', content: 'x' },
  web_search_options: {},
  verbosity: 'low',
  user: 'u1',
  safety_identifier: 's1',
  metadata: { run: '1' },
  store: true,
  service_tier: 'auto',
  prompt_cache_key: 'k',
  prompt_cache_retention: '24h',
};

describe('batch file validation', () => {
  it('accepts a valid file, CRLF line ends and blank lines', async () => {
    const report = await errorsOf(`${line(1)}\r\n\r\n${line(2)}\r\n${line(3)}`);
    assert.deepEqual(report.errors, []);
    assert.equal(report.requests, 3);
    assert.equal(report.model, 'tiny');
  });

  it('refuses an empty file', async () => {
    const report = await errorsOf('\n\n');
    assert.equal(report.errors[0]!.code, 'empty_file');
    assert.match(report.errors[0]!.message, /batch\.jsonl/);
  });

  it('names the line of invalid JSON, and keeps going to list the others', async () => {
    const report = await errorsOf([line(1), '{"custom_id": "x", ', line(3), 'not json at all'].join('\n'));
    assert.deepEqual(
      report.errors.map((error) => [error.code, error.line]),
      [
        ['invalid_json_line', 2],
        ['invalid_json_line', 4],
      ],
    );
    assert.match(report.errors[0]!.message, /^batch\.jsonl line 2: not valid JSON/);
  });

  it('finds a duplicate custom_id and names the line it was first on', async () => {
    const report = await errorsOf([line(2), line(1), line(3), line(1)].join('\n'));
    assert.deepEqual(
      report.errors.map((error) => [error.code, error.line, error.param]),
      [['duplicate_custom_id', 4, 'custom_id']],
    );
    assert.match(
      report.errors[0]!.message,
      /^batch\.jsonl line 4: custom_id "req-1" is used more than once: first on line 2$/,
    );
  });

  it('finds a wrong url and a wrong method', async () => {
    const report = await errorsOf(
      [line(1, (r) => (r.url = '/v1/embeddings')), line(2, (r) => (r.method = 'GET'))].join('\n'),
    );
    assert.deepEqual(
      report.errors.map((error) => [error.code, error.line, error.param]),
      [
        ['url_mismatch', 1, 'url'],
        ['invalid_request', 2, 'method'],
      ],
    );
  });

  it('finds a missing model, missing messages and a bad max_tokens', async () => {
    const report = await errorsOf(
      [
        line(1, (r) => delete r.body.model),
        line(2, (r) => (r.body.messages = [])),
        line(3, (r) => (r.body.max_tokens = -5)),
        line(4, (r) => (r.body.messages[1].role = 'robot')),
      ].join('\n'),
    );
    assert.deepEqual(
      report.errors.map((error) => [error.line, error.param]),
      [
        [1, 'body.model'],
        [2, 'body.messages'],
        [3, 'body.max_tokens'],
        [4, 'body.messages[1].role'],
      ],
    );
    assert.match(report.errors[0]!.message, /line 1: body\.model is missing/);
  });

  it('refuses two models in one file, naming where the first one was', async () => {
    const report = await errorsOf([line(1), line(2, (r) => (r.body.model = 'other'))].join('\n'));
    assert.equal(report.errors[0]!.code, 'model_mismatch');
    assert.equal(report.errors[0]!.line, 2);
    assert.match(report.errors[0]!.message, /"other" differs from "tiny" on line 1/);
  });

  it('refuses invalid UTF-8 with the line number', async () => {
    const bad = Buffer.concat([
      Buffer.from(line(1) + '\n'),
      Buffer.from([0x7b, 0xff, 0xfe, 0x7d, 0x0a]),
      Buffer.from(line(3)),
    ]);
    const report = await errorsOf(bad);
    assert.deepEqual(
      report.errors.map((error) => [error.code, error.line]),
      [['invalid_json_line', 2]],
    );
    assert.match(report.errors[0]!.message, /not valid UTF-8/);
  });

  it('refuses a 10 MB line without holding it, and goes on after it', async () => {
    const huge = line(2, (r) => (r.body.messages[1].content = 'x'.repeat(10 * 1024 * 1024)));
    const report = await errorsOf([line(1), huge, line(3)].join('\n'));
    assert.deepEqual(
      report.errors.map((error) => [error.code, error.line]),
      [['line_too_large', 2]],
    );
    assert.match(report.errors[0]!.message, /limit is 8388608 bytes/);
    assert.equal(report.requests, 3);
  });

  it('refuses a file that is not JSONL at all (a CSV)', async () => {
    const report = await errorsOf('candidate_id,name\nC1,Ana\nC2,Bo\n', 'people.csv');
    assert.equal(report.errorCount, 3);
    assert.ok(report.errors.every((error) => error.code === 'invalid_json_line'));
    assert.match(report.errors[0]!.message, /^people\.csv line 1/);
  });

  it('caps the listed errors and says how many more there are', async () => {
    const report = await errorsOf('nope\n'.repeat(250));
    assert.equal(report.errorCount, 250);
    assert.equal(report.errors.length, 101);
    assert.equal(report.errors.at(-1)!.code, 'too_many_errors');
    assert.match(report.errors.at(-1)!.message, /150 more errors/);
  });

  it('asks once whether the engine serves the model, and names the line that first asks for it', async () => {
    const asked: string[] = [];
    const path = writeTempFile('batch.jsonl', `\n${batchLines(1000, { model: 'gemma3:12b' })}`);
    const report = await validateBatchFile(path, {
      modelProblem: async (model) => {
        asked.push(model);
        return 'not here';
      },
    });
    assert.deepEqual(asked, ['gemma3:12b']);
    assert.deepEqual(report.errors, [
      { code: 'model_not_found', param: 'body.model', line: 2, message: 'batch.jsonl line 2: not here' },
    ]);
  });

  it('streams a large file in flat memory', async () => {
    const path = writeTempFile('big.jsonl', batchLines(50_000, { model: 'tiny' }));
    const report = await validateBatchFile(path);
    assert.equal(report.requests, 50_000);
    assert.equal(report.errorCount, 0);
  });

  describe('request fields per engine', () => {
    it('has a value for every field of the table (and nothing more)', () => {
      assert.deepEqual(Object.keys(ASKING).sort(), Object.keys(REQUEST_FIELDS).sort());
    });

    for (const engine of ENGINE_NAMES) {
      it(`accepts on the ${engine} engine exactly what the table says it honours or accepts`, async () => {
        for (const [field, value] of Object.entries(ASKING)) {
          const report = await errorsOf(
            line(1, (r) => {
              r.body[field] = value;
              if (field === 'top_logprobs') r.body.logprobs = true;
            }),
            'fields.jsonl',
            engine,
          );
          const support = REQUEST_FIELDS[field]!.engines[engine];
          if ('refused' in support) {
            const [error] = report.errors;
            assert.equal(
              error?.code,
              'unsupported_parameter',
              `${field} on ${engine}: ${JSON.stringify(report.errors)}`,
            );
            assert.equal(error.param, `body.${field}`);
            assert.equal(error.line, 1);
            assert.ok(
              error.message.startsWith(`fields.jsonl line 1: body.${field} is not supported by `),
              error.message,
            );
            assert.ok(error.message.includes(support.refused), error.message);
          } else {
            assert.deepEqual(report.errors, [], `${field} on ${engine}`);
          }
        }
      });
    }

    it('names the field, the engine, the line, and the engines that honour it', async () => {
      const report = await errorsOf(
        [line(1), line(2, (r) => (r.body.logit_bias = { '17': -100 }))].join('\n'),
        'scores.jsonl',
        'ollama',
      );
      assert.deepEqual(
        report.errors.map((error) => [error.code, error.line, error.param]),
        [['unsupported_parameter', 2, 'body.logit_bias']],
      );
      assert.match(
        report.errors[0]!.message,
        /^scores\.jsonl line 2: body\.logit_bias is not supported by the ollama engine: Ollama has no logit bias; the openai engine honours it$/,
      );
    });

    it('refuses on a pool of engines what any of them refuses, naming that one', async () => {
      const report = await errorsOf(
        [line(1, (r) => (r.body.logprobs = true)), line(2, (r) => (r.body.logit_bias = { '17': -100 }))].join('\n'),
        'pool.jsonl',
        'openai',
        'ollama',
      );
      assert.deepEqual(
        report.errors.map((error) => [error.line, error.param]),
        [[2, 'body.logit_bias']],
        'logprobs: honoured by both; logit_bias: by openai alone',
      );
      assert.match(report.errors[0]!.message, /body\.logit_bias is not supported by the ollama engine/);
    });

    it('refuses without an engine only what no engine honours, and any unknown field', async () => {
      const report = await errorsOf(
        [
          line(1, (r) => (r.body.logprobs = true)),
          line(2, (r) => (r.body.tools = ASKING.tools)),
          line(3, (r) => (r.body.options = { top_k: 5 })),
          line(4, (r) => (r.body.stream = true)),
        ].join('\n'),
      );
      assert.deepEqual(
        report.errors.map((error) => [error.line, error.param]),
        [
          [2, 'body.tools'],
          [3, 'body.options'],
          [4, 'body.stream'],
        ],
      );
      assert.match(report.errors[0]!.message, /body\.tools is not supported by any engine: .*tool/);
      assert.match(report.errors[1]!.message, /body\.options is not a chat completion field/);
    });

    it('accepts what asks for nothing: null, false, n 1, no tools, zero penalties', async () => {
      const asksNothing = {
        n: 1,
        logprobs: false,
        top_logprobs: null,
        stream: false,
        tools: [],
        tool_choice: 'none',
        frequency_penalty: 0,
        presence_penalty: 0,
        repetition_penalty: 1,
        logit_bias: {},
        reasoning_effort: null,
        modalities: ['text'],
      };
      for (const engine of ENGINE_NAMES) {
        const report = await errorsOf(
          line(1, (r) => Object.assign(r.body, asksNothing)),
          'b.jsonl',
          engine,
        );
        assert.deepEqual(report.errors, [], engine);
      }
    });

    it('refuses bad values of the new fields with the field named', async () => {
      const report = await errorsOf(
        [
          line(1, (r) => (r.body.n = 0)),
          line(2, (r) => (r.body.top_logprobs = 3)),
          line(3, (r) => Object.assign(r.body, { logprobs: true, top_logprobs: 21 })),
          line(4, (r) => (r.body.reasoning_effort = 'extreme')),
          line(5, (r) => (r.body.frequency_penalty = 3)),
          line(6, (r) => (r.body.min_p = 'low')),
          line(7, (r) => (r.body.stop = [1])),
          line(8, (r) => (r.body.logprobs = 'yes')),
        ].join('\n'),
        'b.jsonl',
        'ollama',
      );
      assert.deepEqual(
        report.errors.map((error) => [error.code, error.line, error.param]),
        [
          ['invalid_request', 1, 'body.n'],
          ['invalid_request', 2, 'body.top_logprobs'],
          ['invalid_request', 3, 'body.top_logprobs'],
          ['invalid_request', 4, 'body.reasoning_effort'],
          ['invalid_request', 5, 'body.frequency_penalty'],
          ['invalid_request', 6, 'body.min_p'],
          ['invalid_request', 7, 'body.stop'],
          ['invalid_request', 8, 'body.logprobs'],
        ],
      );
      assert.match(report.errors[0]!.message, /line 1: body\.n must be an integer from 1 to 128/);
      assert.match(report.errors[1]!.message, /body\.top_logprobs needs body\.logprobs set to true/);
      assert.match(report.errors[3]!.message, /must be one of none, minimal, low, medium, high/);
    });
  });
});
