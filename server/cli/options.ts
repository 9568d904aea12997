// The flags of `serve` and `run`, made from the settings table (server/config/settings.ts), and
// the data dir every command takes.
import { resolve, sep } from 'node:path';
import { Option, type Command } from 'commander';
import { SETTING_KEYS, checkSetting, fromText, specOf, type SettingKey, type Settings } from '../config/settings.js';
import { resolveDataDir } from '../daemon-access/local-daemon.js';

export function addDataDirOption(command: Command): Command {
  return command.option('--data-dir <dir>', 'daemon data dir (default: $OLLAMA_BATCH_HOME, else the user data dir)');
}

export const positiveInteger = (value: string): number => {
  const number = Number(value);
  if (!Number.isInteger(number) || number < 1) throw new Error(`expected a positive integer, got "${value}"`);
  return number;
};

export const nonNegativeInteger = (value: string): number => {
  const number = Number(value);
  if (!Number.isInteger(number) || number < 0) throw new Error(`expected 0 or a positive integer, got "${value}"`);
  return number;
};

export const dataDirOf = (flags: { dataDir?: string }): string => resolveDataDir(flags.dataDir);

/** The name commander keeps a flag's value under: --num-ctx → numCtx. */
const attributeOf = (key: SettingKey): string =>
  specOf(key)
    .flag.slice(2)
    .replace(/-([a-z])/g, (_, letter: string) => letter.toUpperCase());

/** A path setting's value made absolute from where the command runs (see SettingSpec.path). */
export const absolute = (value: string, kind: 'file' | 'command'): string =>
  kind === 'file' || value.includes(sep) ? resolve(value) : value;

/** The help line: the description without markdown, and the default. */
function helpOf(key: SettingKey): string {
  const spec = specOf(key);
  const plain = (text: string): string => text.replace(/`/g, '');
  const fallback = spec.default !== undefined ? JSON.stringify(spec.default) : spec.defaultText;
  return `${plain(spec.description)}${fallback ? ` (default: ${plain(fallback)})` : ''}`;
}

/**
 * A flag for every setting. `run` takes them all but secrets: a client's arguments show in `ps`
 * to every user for as long as it waits, hours for a batch; it reads keys from the environment.
 */
export function addSettingOptions(command: Command, options: { secrets: boolean }): Command {
  for (const key of SETTING_KEYS) {
    const spec = specOf(key);
    if (spec.secret && !options.secrets) continue;
    const parse = (value: string): unknown =>
      checkSetting(key, fromText(key, spec.path ? absolute(value, spec.path) : value), spec.flag);
    if (spec.text === 'boolean') {
      command.addOption(new Option(spec.flag, helpOf(key)));
    } else if (spec.text === 'pairs') {
      // Given once per pair: --model-alias a=b --model-alias c=d.
      command.addOption(
        new Option(`${spec.flag} <name=target>`, helpOf(key)).argParser((value, previous: unknown) => ({
          ...(previous as Record<string, string> | undefined),
          ...(parse(value) as Record<string, string>),
        })),
      );
    } else {
      const option = new Option(`${spec.flag} <value>`, helpOf(key)).argParser(parse);
      command.addOption(spec.text === 'string' && 'enum' in spec.editor ? option.choices(spec.editor.enum!) : option);
    }
  }
  return command;
}

/** The settings the flags gave (commander's parsed options in, the table's keys out). */
export function settingsOf(flags: Record<string, unknown>): Settings {
  const settings: Record<string, unknown> = {};
  for (const key of SETTING_KEYS) {
    const value = flags[attributeOf(key)];
    if (value !== undefined) settings[key] = value;
  }
  return settings;
}
