// The commands the CLI and the daemon tell people to run next. A hint must work when pasted: with a data dir
// other than the default, it names it.
import { resolveDataDir } from './local-daemon.js';

/** A shell word: quoted when it holds anything a shell would read. */
const word = (value: string): string =>
  /^[\w./:=@%+,-]+$/.test(value) ? value : `'${value.replaceAll("'", "'\\''")}'`;

/** `ollama-batch ARGS`, with `--data-dir D` when D is not the default one. */
export function hint(dataDir: string, args: string): string {
  return `ollama-batch ${args}${dataDir === resolveDataDir() ? '' : ` --data-dir ${word(dataDir)}`}`;
}
