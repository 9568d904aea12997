// Settings as a client hands them to a daemon it starts (the CLI's `run`, the extension): `serve`
// flags, and secrets in the environment, out of the process list.
import { SETTING_KEYS, holdsSecret, specOf, toText, type Settings } from './settings.js';

/** Settings as `serve` arguments (no secrets, nor values holding one: those go by the environment, see `secretEnv`). */
export function serveArgs(settings: Settings): string[] {
  return SETTING_KEYS.flatMap((key) => {
    const spec = specOf(key);
    const value = settings[key];
    if (value === undefined || holdsSecret(key, value)) return [];
    if (spec.text === 'boolean') return value ? [spec.flag] : [];
    if (spec.text === 'pairs')
      return Object.entries(value as Record<string, string>).flatMap((pair) => [
        spec.flag,
        toText(Object.fromEntries([pair])),
      ]);
    return [spec.flag, toText(value)];
  });
}

/** The secrets among `settings`, and the values holding one, as the environment variables a daemon reads them from. */
export function secretEnv(settings: Settings): Record<string, string> {
  const env: Record<string, string> = {};
  for (const key of SETTING_KEYS) {
    const spec = specOf(key);
    const value = settings[key];
    if (value !== undefined && spec.env && holdsSecret(key, value)) env[spec.env] = toText(value);
  }
  return env;
}
