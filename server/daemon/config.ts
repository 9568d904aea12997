// The daemon's configuration: the settings table's values (server/config), remembered in the data
// dir's config.json, with what the daemon itself needs of them checked.
import { readFileSync } from 'node:fs';
import { effectiveSettings, readConfigFile, type EffectiveSettings } from '../config/effective.js';
import { SETTINGS, SETTING_KEYS, SettingError, shownValue, type Settings } from '../config/settings.js';
import type { DaemonInfo } from '../protocol/methods.js';

type WithDefault = 'engine' | 'ollamaUrl' | 'openaiUrl' | 'host' | 'port' | 'maxUploadMb';

export type DaemonConfig = Settings &
  Required<Pick<Settings, WithDefault>> & {
    dataDir: string;
    /** Where each value came from, for `ollama-batch config` and the daemon's status. */
    sources: EffectiveSettings['sources'];
  };

/** The daemon's configuration from config.json, the environment and `flags`; throws a SettingError naming what is wrong. */
export function loadConfig(dataDir: string, flags: Settings, env: NodeJS.ProcessEnv = process.env): DaemonConfig {
  const { values, sources } = effectiveSettings(readConfigFile(dataDir), flags, env);
  // The single-engine settings make the one endpoint only where no `endpoints` list is given.
  if (!values.endpoints?.length && values.engine === 'llama-cpp' && !values.modelPath) {
    throw new SettingError(
      `the llama-cpp engine needs a GGUF file: ${SETTINGS.modelPath.flag} FILE (or: ollama-batch config set modelPath FILE)`,
    );
  }
  const apiKey = values.apiKey ?? (values.apiKeyFile && keyInFile(values.apiKeyFile));
  return {
    ...(values as Settings & Required<Pick<Settings, WithDefault>>),
    ...(apiKey && { apiKey }),
    dataDir,
    sources,
  };
}

/** The configuration as status shows it: every value with its source, secrets masked. */
export function shownConfig(config: DaemonConfig): DaemonInfo['config'] {
  const shown: DaemonInfo['config'] = {};
  for (const key of SETTING_KEYS) {
    const source = config.sources[key];
    if (source !== undefined) shown[key] = { value: shownValue(key, config[key]), source };
  }
  return shown;
}

/** The API key on the first line of `path`. */
function keyInFile(path: string): string {
  let key: string;
  try {
    key = readFileSync(path, 'utf8').split(/\r?\n/)[0]!.trim();
  } catch (error) {
    throw new SettingError(`cannot read the API key file: ${(error as Error).message}`, { cause: error });
  }
  if (key === '') throw new SettingError(`the API key file ${path} is empty; its first line is the key`);
  return key;
}
