// What `run`'s flags ask for: daemon settings are remembered in config.json (a daemon it starts
// runs with them; a running one applies them at its restart, which `run` says), batch settings
// go with the batch it submits.
import { rememberedOf, writeConfigFile } from '../config/effective.js';
import { BATCH_SETTING_KEYS, keysOf, SettingError, type BatchSettings, type Settings } from '../config/settings.js';
import { loadConfig } from '../daemon/config.js';
import type { DaemonInfo } from '../protocol/methods.js';
import { CliError } from './daemon-connection.js';

const pick = (settings: Settings, keys: readonly string[]): Settings =>
  Object.fromEntries(Object.entries(settings).filter(([key]) => keys.includes(key)));

/** The daemon part of `settings` checked and written to config.json; the batch part returned. */
export function rememberRunSettings(dataDir: string, settings: Settings): { daemon: Settings; batch: BatchSettings } {
  const daemon = pick(settings, keysOf('daemon'));
  if (Object.keys(daemon).length > 0) {
    try {
      loadConfig(dataDir, daemon);
      writeConfigFile(dataDir, rememberedOf(daemon));
    } catch (error) {
      if (error instanceof SettingError) throw new CliError(error.message);
      throw error;
    }
  }
  return { daemon, batch: pick(settings, BATCH_SETTING_KEYS) };
}

/** The daemon settings asked for that the running daemon does not run with, as "key: running → asked". */
export function settingsToApply(asked: Settings, running: DaemonInfo['config']): string[] {
  return Object.entries(asked)
    .filter(([key, value]) => JSON.stringify(running[key]?.value) !== JSON.stringify(value))
    .map(([key, value]) => `${key}: ${JSON.stringify(running[key]?.value ?? null)} → ${JSON.stringify(value)}`);
}
