// Settings as the daemon takes them: serve flags, the API key in the environment, batch metadata.
import assert from 'node:assert/strict';
import { DAEMON_SETTINGS, batchMetadata, serveOptions } from '../../client/model/daemon-settings.js';

const reader = (values: Record<string, unknown>) => (key: string) => values[key];

describe('daemon settings', () => {
  it('passes only the settings the user set, as serve flags', () => {
    assert.deepEqual(serveOptions(reader({})), { args: [], env: {} });
    const { args, env } = serveOptions(
      reader({
        engine: 'openai',
        openaiUrl: ' http://gpu-box:8080/v1 ',
        ollamaUrl: '',
        concurrency: 8,
        httpPort: 0,
        modelPath: '   ',
        apiKey: 'secret',
        numCtx: 4096,
        modelAliases: { 'gemma3:12b': 'tiny' },
      }),
    );
    // In the table's order; batch settings (concurrency, numCtx) go with each batch instead.
    assert.deepEqual(args, [
      '--engine',
      'openai',
      '--openai-url',
      'http://gpu-box:8080/v1',
      '--model-alias',
      'gemma3:12b=tiny',
      '--port',
      '0',
    ]);
    assert.deepEqual(env, { OLLAMA_BATCH_API_KEY: 'secret' });
    assert.ok(!args.includes('secret'), 'the key stays out of the process list');
  });

  it('ignores values of the wrong type', () => {
    assert.deepEqual(
      serveOptions(reader({ concurrency: Number.NaN, engine: true, ollamaUrl: {}, keepAlive: null })).args,
      [],
    );
  });

  it('knows which settings need a daemon restart', () => {
    for (const key of ['engine', 'ollamaUrl', 'modelAliases', 'httpPort', 'apiKey', 'vramWarningShare'])
      assert.ok(DAEMON_SETTINGS.includes(key), key);
    for (const key of ['concurrency', 'numCtx', 'trimStrategy', 'defaultModel', 'dataDir'])
      assert.ok(!DAEMON_SETTINGS.includes(key), key);
  });

  it('puts per-batch settings and the input path into the metadata', () => {
    assert.deepEqual(
      batchMetadata(reader({ concurrency: 2, numCtx: 8192, trimStrategy: 'hybrid' }), '/data/people.jsonl'),
      {
        input_path: '/data/people.jsonl',
        concurrency: '2',
        num_ctx: '8192',
        trim_strategy: 'hybrid',
      },
    );
    assert.deepEqual(
      batchMetadata(reader({}), `/${'x'.repeat(600)}.jsonl`),
      {},
      'a path over the 512-character limit is left out',
    );
  });
});
