// `ollama-batch validate FILE`: the daemon's own rules, run here without a daemon.
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { validateBatchFile } from '../batches/validate.js';
import { CliError } from './daemon-connection.js';

/** Returns the exit code: 0 when the file is a valid batch. */
export async function validate(file: string, flags: { json?: boolean }): Promise<number> {
  const path = resolve(file);
  if (!existsSync(path)) throw new CliError(`no such file: ${file}`);
  const report = await validateBatchFile(path, { displayName: file });
  if (flags.json) {
    console.log(JSON.stringify({ file: path, valid: report.errorCount === 0, ...report }, null, 2));
  } else if (report.errorCount === 0) {
    console.log(`${file}: valid, ${report.requests} requests for model ${report.model}`);
  } else {
    for (const error of report.errors)
      console.log(`${error.message} [${error.code}${error.param ? `, ${error.param}` : ''}]`);
    console.log(`${file}: ${report.errorCount} error${report.errorCount === 1 ? '' : 's'} in ${report.requests} lines`);
  }
  return report.errorCount === 0 ? 0 : 1;
}
