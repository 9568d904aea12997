// What the flags of `serve` and `run` ask for: daemon settings are checked and remembered in
// config.json (a daemon started later runs with them; a running one applies them at its restart,
// which `run` says), and `run`'s batch settings go with the batch it submits.
import { rememberedOf, writeConfigFile } from '../config/effective.js';
import { BATCH_SETTING_KEYS, keysOf, SettingError, type BatchSettings, type Settings } from '../config/settings.js';
import { loadConfig, type DaemonConfig } from '../daemon/config.js';
import type { DaemonInfo } from '../protocol/methods.js';
import { CliError } from './daemon-connection.js';

const pick = (settings: Settings, keys: readonly string[]): Settings =>
  Object.fromEntries(Object.entries(settings).filter(([key]) => keys.includes(key)));

/**
 * The configuration `settings` make with config.json, checked, then `settings` remembered in it
 * (secrets stay out of the file): what a daemon is asked for is what it runs with next time too,
 * after a crash, a reboot, or a `serve` with no flags.
 */
export function rememberSettings(dataDir: string, settings: Settings): DaemonConfig {
  try {
    const config = loadConfig(dataDir, settings);
    writeConfigFile(dataDir, rememberedOf(settings));
    return config;
  } catch (error) {
    if (error instanceof SettingError) throw new CliError(error.message);
    throw error;
  }
}

/** The daemon part of `settings` checked and remembered; the batch part returned, for its batch. */
export function rememberRunSettings(dataDir: string, settings: Settings): { daemon: Settings; batch: BatchSettings } {
  const daemon = pick(settings, keysOf('daemon'));
  if (Object.keys(daemon).length > 0) rememberSettings(dataDir, daemon);
  return { daemon, batch: pick(settings, BATCH_SETTING_KEYS) };
}

/** The daemon settings asked for that the running daemon does not run with, as "key: running → asked". */
export function settingsToApply(asked: Settings, running: DaemonInfo['config']): string[] {
  return Object.entries(asked)
    .filter(([key, value]) => JSON.stringify(running[key]?.value) !== JSON.stringify(value))
    .map(([key, value]) => `${key}: ${JSON.stringify(running[key]?.value ?? null)} → ${JSON.stringify(value)}`);
}
