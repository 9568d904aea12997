// The daemon's configuration: the settings table's defaults, then the environment, then what
// config.json remembers, then flags; each value checked, and its source kept.
import assert from 'node:assert/strict';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { configPath, effectiveSettings, readConfigFile, writeConfigFile } from '../../server/config/effective.js';
import { SETTINGS, checkSetting, fromText, metadataKey, settingKeyOf } from '../../server/config/settings.js';
import { loadConfig, shownConfig } from '../../server/daemon/config.js';
import { tempDir } from '../support/batch-files.js';

describe('daemon settings', () => {
  it('takes the environment over the defaults, config.json over both, and flags over all, naming each source', () => {
    const dataDir = tempDir();
    writeFileSync(
      configPath(dataDir),
      JSON.stringify({ engine: 'openai', openaiUrl: 'http://gpu-box:8000/v1', concurrency: 8 }),
    );
    const env = { OLLAMA_HOST: '0.0.0.0:12345', OLLAMA_BATCH_ENGINE: 'llama-cpp' };
    const fromFile = loadConfig(dataDir, {}, env);
    assert.equal(fromFile.engine, 'openai', 'config.json over the environment');
    assert.equal(fromFile.sources.engine, 'config.json');
    assert.equal(fromFile.ollamaUrl, 'http://127.0.0.1:12345', 'OLLAMA_HOST read as Ollama reads it');
    assert.equal(fromFile.sources.ollamaUrl, 'env');
    assert.equal(fromFile.port, SETTINGS.port.default);
    assert.equal(fromFile.sources.port, 'default');
    assert.equal(fromFile.dataDir, dataDir);
    const flagged = loadConfig(dataDir, { concurrency: 2 }, env);
    assert.equal(flagged.concurrency, 2, 'a flag wins');
    assert.equal(flagged.sources.concurrency, 'flag');
    assert.equal(flagged.engine, 'openai', 'an unset flag does not override the file');
  });

  it('names the file and the setting when config.json is wrong', () => {
    const dataDir = tempDir();
    writeFileSync(configPath(dataDir), '{ "engine": ');
    assert.throws(() => loadConfig(dataDir, {}), /config\.json: not valid JSON/);
    writeFileSync(configPath(dataDir), JSON.stringify({ engine: 'vllm' }));
    assert.throws(
      () => loadConfig(dataDir, {}),
      /config\.json: engine: expected one of ollama, openai, llama-cpp, got "vllm"/,
    );
    writeFileSync(configPath(dataDir), JSON.stringify({ numCtxx: 4096 }));
    assert.throws(() => loadConfig(dataDir, {}), /unknown setting "numCtxx"/);
    writeFileSync(configPath(dataDir), JSON.stringify({ port: 70000 }));
    assert.throws(() => loadConfig(dataDir, {}), /port: expected from 0 to 65535, got 70000/);
  });

  it('refuses a bad flag or environment value, and a llama-cpp engine without a model', () => {
    assert.throws(() => loadConfig(tempDir(), { engine: 'vllm' as never }), /--engine: expected one of ollama/);
    assert.throws(() => loadConfig(tempDir(), {}, { OLLAMA_BATCH_ENGINE: 'vllm' }), /\$OLLAMA_BATCH_ENGINE: expected/);
    assert.throws(() => loadConfig(tempDir(), { engine: 'llama-cpp' }), /needs a GGUF file: --model-path FILE/);
    assert.throws(() => loadConfig(tempDir(), {}, { OLLAMA_BATCH_API_KEY: '   ' }), /not blank/);
  });

  it('remembers what it is given, keeps the rest, forgets on undefined, and keeps the file private', () => {
    const dataDir = tempDir();
    writeConfigFile(dataDir, { engine: 'llama-cpp', modelPath: '/models/tiny.gguf' });
    writeConfigFile(dataDir, { concurrency: 3 });
    assert.deepEqual(readConfigFile(dataDir), { engine: 'llama-cpp', modelPath: '/models/tiny.gguf', concurrency: 3 });
    writeConfigFile(dataDir, { concurrency: undefined });
    assert.deepEqual(readConfigFile(dataDir), { engine: 'llama-cpp', modelPath: '/models/tiny.gguf' });
    assert.equal(statSync(configPath(dataDir)).mode & 0o777, 0o600);
    assert.match(
      readFileSync(configPath(dataDir), 'utf8'),
      /^\{\n {2}"engine": "llama-cpp"/,
      'written for people to read',
    );
  });

  it('shows secrets masked, with their source', () => {
    const config = loadConfig(tempDir(), {}, { OLLAMA_BATCH_API_KEY: 'hunter2' });
    assert.equal(config.apiKey, 'hunter2');
    assert.deepEqual(shownConfig(config).apiKey, { value: '(set)', source: 'env' });
    assert.ok(!JSON.stringify(shownConfig(config)).includes('hunter2'));
  });

  it('reads the API key from the file apiKeyFile names', () => {
    const dir = tempDir();
    const file = join(dir, 'key');
    writeFileSync(file, 'from-file\nsecond line\n');
    assert.equal(loadConfig(dir, { apiKeyFile: file }).apiKey, 'from-file');
    writeFileSync(file, '\n');
    assert.throws(() => loadConfig(dir, { apiKeyFile: file }), /is empty; its first line is the key/);
  });
});

describe('the settings table', () => {
  it('reads values as text the way flags, the environment and metadata give them', () => {
    assert.equal(checkSetting('numCtx', fromText('numCtx', '8192'), 'x'), 8192);
    assert.equal(checkSetting('trimAllowCut', fromText('trimAllowCut', 'true'), 'x'), true);
    assert.deepEqual(checkSetting('modelAliases', fromText('modelAliases', 'gemma3:12b=tiny,llama3=qwen'), 'x'), {
      'gemma3:12b': 'tiny',
      llama3: 'qwen',
    });
    assert.deepEqual(checkSetting('modelAliases', fromText('modelAliases', '{"a":"b"}'), 'x'), { a: 'b' });
    assert.throws(
      () => checkSetting('numCtx', fromText('numCtx', '8k'), 'metadata.num_ctx'),
      /metadata\.num_ctx: expected a whole number/,
    );
    assert.throws(
      () => checkSetting('vramWarningShare', fromText('vramWarningShare', '1.5'), '--vram-warning-share'),
      /share between 0 and 1/,
    );
    assert.throws(() => checkSetting('modelAliases', fromText('modelAliases', 'no-pair'), 'x'), /name=target/);
  });

  it('names keys by their key or their flag, and batch options by snake_case metadata keys', () => {
    assert.equal(settingKeyOf('numCtx'), 'numCtx');
    assert.equal(settingKeyOf('num-ctx'), 'numCtx');
    assert.equal(settingKeyOf('--port'), 'port');
    assert.equal(settingKeyOf('model-alias'), 'modelAliases');
    assert.equal(settingKeyOf('nonsense'), undefined);
    assert.equal(metadataKey('trimStrategy'), 'trim_strategy');
    assert.equal(metadataKey('numCtx'), 'num_ctx');
  });

  it('gives every setting a flag of its own, a description, and a default or a word on it', () => {
    const flags = new Set<string>();
    for (const [key, spec] of Object.entries(SETTINGS)) {
      assert.ok(spec.flag.startsWith('--') && !flags.has(spec.flag), key);
      flags.add(spec.flag);
      assert.ok(spec.description.length > 20, key);
      assert.ok('default' in spec || 'defaultText' in spec, `${key} says its default`);
      if ('default' in spec) checkSetting(key as keyof typeof SETTINGS, spec.default, `${key}'s default`);
    }
  });

  it('lists every source in order for effectiveSettings', () => {
    const { sources } = effectiveSettings({ numCtx: 4096 }, { mode: 'conversation' }, {});
    assert.equal(sources.numCtx, 'config.json');
    assert.equal(sources.mode, 'flag');
    assert.equal(sources.trimStrategy, 'default');
    assert.equal(sources.threads, undefined, 'no value, no source: the engine decides');
  });
});
