// The extension's settings as the daemon takes them, read through the settings table
// (server/config/settings.ts): daemon settings as `serve` flags (secrets in the environment, out
// of the process list) when the extension starts a daemon, which remembers them in its
// config.json; batch settings as the batch's metadata at Run Batch. Only what the user set is
// passed, so config.json keeps its say over the rest.
import { serveArgs, secretEnv } from '../../server/config/serve-args.js';
import {
  SETTING_KEYS,
  checkSetting,
  keysOf,
  metadataKey,
  specOf,
  toText,
  type SettingKey,
  type SettingScope,
  type Settings,
} from '../../server/config/settings.js';

/** A setting's value as the user set it, by its name under `ollamaBatch.`; undefined when left at its default. */
export type SettingReader = (name: string) => unknown;

/** The `ollamaBatch.` names of the settings the daemon reads at its start: a change needs a restart. */
export const DAEMON_SETTINGS: readonly string[] = keysOf('daemon').flatMap((key) => specOf(key).editorName ?? []);

/** The settings of one scope the user set; blank text and values of the wrong type count as not set. */
function userSettings(read: SettingReader, scope: SettingScope): Settings {
  const settings: Record<string, unknown> = {};
  for (const key of SETTING_KEYS) {
    const { editorName, scope: keyScope } = specOf(key);
    if (editorName === undefined || keyScope !== scope) continue;
    const value = valueOf(key, read(editorName));
    if (value !== undefined) settings[key] = value;
  }
  return settings;
}

function valueOf(key: SettingKey, raw: unknown): unknown {
  if (raw === null || raw === undefined || (typeof raw === 'string' && raw.trim() === '')) return undefined;
  if (typeof raw === 'object' && Object.keys(raw).length === 0) return undefined;
  try {
    return checkSetting(key, typeof raw === 'string' ? raw.trim() : raw, `ollamaBatch.${specOf(key).editorName}`);
  } catch {
    return undefined;
  }
}

export function serveOptions(read: SettingReader): { args: string[]; env: Record<string, string> } {
  const settings = userSettings(read, 'daemon');
  return { args: serveArgs(settings), env: secretEnv(settings) };
}

/** The batch's metadata: the batch settings the user set, and where the input came from. */
export function batchMetadata(read: SettingReader, inputPath: string): Record<string, string> {
  const metadata: Record<string, string> = {};
  // The daemon keeps a copy of the file; the path lets the tree reveal the original. Metadata values hold 512 characters.
  if (inputPath.length <= 512) metadata.input_path = inputPath;
  for (const [key, value] of Object.entries(userSettings(read, 'batch')))
    metadata[metadataKey(key as SettingKey)] = toText(value);
  return metadata;
}
