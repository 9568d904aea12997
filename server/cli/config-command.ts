// `ollama-batch config`: every setting, its value and where it came from (default, env,
// config.json, flag), and whether the running daemon runs with it; `config set KEY VALUE` and
// `config unset KEY` change what config.json remembers.
import type { Command } from 'commander';
import { configPath, effectiveSettings, readConfigFile, writeConfigFile } from '../config/effective.js';
import {
  SETTING_KEYS,
  SettingError,
  checkSetting,
  fromText,
  settingKeyOf,
  shownValue,
  specOf,
  toText,
  type SettingKey,
} from '../config/settings.js';
import type { DaemonInfo } from '../protocol/methods.js';
import * as protocol from '../protocol/methods.js';
import { connectDaemon } from '../rpc/client.js';
import { CliError } from './daemon-connection.js';
import { absolute, addDataDirOption, dataDirOf } from './options.js';
import { hint } from '../daemon-access/command-hint.js';

const shown = (key: SettingKey, value: unknown): string => (value === undefined ? '-' : toText(shownValue(key, value)));

/** The running daemon's settings, or null when none runs. */
async function runningConfig(dataDir: string): Promise<{ pid: number; config: DaemonInfo['config'] } | null> {
  const connection = await connectDaemon(dataDir);
  if (!connection) return null;
  try {
    const info = await connection.sendRequest(protocol.DaemonStatusRequest.type);
    return { pid: info.pid, config: info.config };
  } finally {
    connection.dispose();
  }
}

async function showConfig(dataDir: string, json: boolean): Promise<void> {
  const { values, sources } = effectiveSettings(checkedFile(dataDir), {});
  const running = await runningConfig(dataDir);
  const rows = SETTING_KEYS.map((key) => {
    const spec = specOf(key);
    const runningValue = running?.config[key]?.value;
    // The daemon shows its values masked: compared as shown.
    const differs =
      running !== null && !spec.secret && JSON.stringify(runningValue) !== JSON.stringify(shownValue(key, values[key]));
    return { key, spec, value: values[key], source: sources[key] ?? 'default', differs, runningValue };
  });
  if (json) {
    const settings = Object.fromEntries(
      rows.map(({ key, spec, value, source, differs, runningValue }) => [
        key,
        {
          value: shownValue(key, value) ?? null,
          source,
          scope: spec.scope,
          flag: spec.flag,
          ...(spec.env && { env: spec.env }),
          ...(differs && { running: runningValue ?? null }),
        },
      ]),
    );
    console.log(
      JSON.stringify({ path: configPath(dataDir), daemon: running && { pid: running.pid }, settings }, null, 2),
    );
    return;
  }
  const width = Math.max(...SETTING_KEYS.map((key) => key.length));
  const valueWidth = Math.min(40, Math.max(...rows.map(({ key, value }) => shown(key, value).length)));
  for (const { key, spec, value, source, differs, runningValue } of rows) {
    const text = value === undefined ? `(${spec.defaultText ?? 'none'})` : shown(key, value);
    const note = differs ? `  * running: ${shown(key, runningValue)}` : '';
    console.log(`${key.padEnd(width)}  ${text.padEnd(valueWidth)}  ${source}${note}`);
  }
  console.log(`\nremembered in ${configPath(dataDir)}; change one with: ${hint(dataDir, 'config set KEY VALUE')}`);
  if (rows.some((row) => row.differs))
    console.log(
      `* the running daemon (pid ${running!.pid}) started with another value; restart it to apply: ${hint(dataDir, 'stop')} && ${hint(dataDir, 'serve --detach')}`,
    );
}

/** config.json as read, its errors as one line each. */
function checkedFile(dataDir: string): ReturnType<typeof readConfigFile> {
  try {
    return readConfigFile(dataDir);
  } catch (error) {
    if (error instanceof SettingError) throw new CliError(error.message);
    throw error;
  }
}

function keyOf(name: string): SettingKey {
  const key = settingKeyOf(name);
  if (!key) throw new CliError(`unknown setting "${name}"; every setting: ollama-batch config`);
  return key;
}

async function change(dataDir: string, key: SettingKey, value: unknown): Promise<void> {
  checkedFile(dataDir);
  writeConfigFile(dataDir, { [key]: value });
  console.log(
    value === undefined
      ? `${key} removed from ${configPath(dataDir)}`
      : `${key} = ${shown(key, value)} in ${configPath(dataDir)}`,
  );
  if (specOf(key).scope === 'batch') console.log('batches submitted from now on run with it');
  const running = await runningConfig(dataDir);
  if (running)
    console.log(
      `the running daemon (pid ${running.pid}) applies it at its restart: ${hint(dataDir, 'stop')} && ${hint(dataDir, 'serve --detach')}`,
    );
}

export function addConfigCommand(program: Command): void {
  const config = addDataDirOption(
    program
      .command('config')
      .description("the daemon's settings: every value, where it came from, and what config.json remembers")
      .option('--json', 'print JSON'),
  ).action(async (flags: { dataDir?: string; json?: boolean }) => {
    await showConfig(dataDirOf(flags), flags.json ?? false);
  });
  addDataDirOption(
    config
      .command('set')
      .argument('<key>', 'a setting, by its name (numCtx) or its flag (num-ctx)')
      .argument('<value>', 'its value; name=target pairs for modelAliases')
      .description('remember one setting in config.json'),
  ).action(async (name: string, value: string, _flags: unknown, command: Command) => {
    // `config set K V --data-dir D`: `config` itself may have taken the flag.
    const flags = command.optsWithGlobals<{ dataDir?: string }>();
    const key = keyOf(name);
    const spec = specOf(key);
    let checked: unknown;
    try {
      checked = checkSetting(key, fromText(key, spec.path ? absolute(value, spec.path) : value), key);
    } catch (error) {
      if (error instanceof SettingError) throw new CliError(error.message);
      throw error;
    }
    await change(dataDirOf(flags), key, checked);
  });
  addDataDirOption(
    config.command('unset').argument('<key>', 'a setting').description('forget one setting: its default applies again'),
  ).action(async (name: string, _flags: unknown, command: Command) => {
    await change(dataDirOf(command.optsWithGlobals<{ dataDir?: string }>()), keyOf(name), undefined);
  });
}
