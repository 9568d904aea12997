// The settings a daemon runs with and where each came from: the table's default, then the
// environment (OLLAMA_HOST, say, set for every program), then what the data dir's config.json
// remembers, then a flag. Flags are remembered:
// `serve` and `run` write them to config.json, so a daemon restarted after a crash or a reboot,
// or by `serve` with no flags, runs as it was asked to last.
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { isObject } from '../common/is-object.js';
import type { DaemonInfo } from '../protocol/methods.js';
import {
  SETTING_KEYS,
  SettingError,
  checkSetting,
  fromText,
  specOf,
  type SettingKey,
  type Settings,
} from './settings.js';

export type SettingSource = DaemonInfo['config'][string]['source'];

export interface EffectiveSettings {
  values: Settings;
  sources: Partial<Record<SettingKey, SettingSource>>;
}

export const configPath = (dataDir: string): string => join(dataDir, 'config.json');

/** What config.json remembers, each value checked; an unknown key is an error (a typo would be ignored for ever). */
export function readConfigFile(dataDir: string): Settings {
  const path = configPath(dataDir);
  if (!existsSync(path)) return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new SettingError(`${path}: not valid JSON (${(error as Error).message})`, { cause: error });
  }
  if (!isObject(parsed)) throw new SettingError(`${path}: expected an object of settings`);
  const settings: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(parsed)) {
    if (!(SETTING_KEYS as string[]).includes(key))
      throw new SettingError(`${path}: unknown setting "${key}" (see: ollama-batch config)`);
    settings[key] = checkSetting(key as SettingKey, value, `${path}: ${key}`);
  }
  return settings;
}

/** Writes `changes` into config.json, keeping the rest; an undefined value removes its key. Whole or not at all. */
export function writeConfigFile(dataDir: string, changes: Settings): void {
  const next: Record<string, unknown> = { ...readConfigFile(dataDir) };
  for (const [key, value] of Object.entries(changes)) {
    if (value === undefined) delete next[key];
    else next[key] = value;
  }
  const path = configPath(dataDir);
  const temp = `${path}.tmp`;
  // A data dir is its user's alone (see daemon/daemon.ts): made so here too, where a client writes first.
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  writeFileSync(temp, `${JSON.stringify(next, null, 2)}\n`, { mode: 0o600 });
  renameSync(temp, path);
}

/** The settings flags give that are remembered: all but secrets, which stay out of files. */
export function rememberedOf(flags: Settings): Settings {
  return Object.fromEntries(
    Object.entries(flags).filter(([key, value]) => value !== undefined && !specOf(key as SettingKey).secret),
  );
}

/** Every setting's value and source, from the table's defaults, config.json, the environment and flags. */
export function effectiveSettings(
  remembered: Settings,
  flags: Settings,
  env: NodeJS.ProcessEnv = process.env,
): EffectiveSettings {
  const values: Record<string, unknown> = {};
  const sources: EffectiveSettings['sources'] = {};
  const take = (key: SettingKey, value: unknown, source: SettingSource): void => {
    if (value === undefined) return;
    values[key] = value;
    sources[key] = source;
  };
  for (const key of SETTING_KEYS) {
    const spec = specOf(key);
    take(key, spec.default, 'default');
    // Set but blank is an error, not unset: a blank API key would leave the door open while its user thinks it shut.
    const fromEnv = spec.env ? env[spec.env] : undefined;
    if (fromEnv) take(key, checkSetting(key, fromText(key, fromEnv), `$${spec.env}`), 'env');
    take(key, remembered[key], 'config.json');
    if (flags[key] !== undefined) take(key, checkSetting(key, flags[key], spec.flag), 'flag');
  }
  return { values: values, sources };
}
