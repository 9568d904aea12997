// The `ollama-batch` command line. Every command has --help; data commands have --json; the
// exit code is 0 only on success, and failures print one line, never a stack trace.
import { Command, CommanderError } from 'commander';
import { VERSION } from '../common/version.js';
import * as protocol from '../protocol/methods.js';
import { order, status, stopDaemon } from './batches.js';
import { CliError } from './daemon-connection.js';
import {
  addDataDirOption,
  addEngineOptions,
  addHttpOptions,
  dataDirOf,
  type EngineFlags,
  type HttpFlags,
} from './options.js';
import { addAnalyzeCommand } from './analyze-command.js';
import { addConvertCommand } from './convert-command.js';
import { run, type RunFlags } from './run.js';
import { validate } from './validate.js';

const program = new Command('ollama-batch')
  .description('Run OpenAI-format batch jobs (JSONL) on a local LLM server such as Ollama.')
  .version(VERSION)
  .showHelpAfterError()
  .exitOverride();

addHttpOptions(
  addEngineOptions(
    addDataDirOption(
      program
        .command('serve')
        .description('run the daemon in the foreground: JSON-RPC on its socket, the OpenAI batch API over HTTP'),
    ),
  ),
).action(async (flags: EngineFlags & HttpFlags) => {
  // The daemon, loaded only by the command that runs it.
  const { serve } = await import('./serve.js');
  await serve(flags);
});

addHttpOptions(
  addEngineOptions(
    addDataDirOption(
      program
        .command('run')
        .argument('<file>', 'batch input JSONL (OpenAI format)')
        .description(
          'submit a batch (starting a daemon with these flags if none runs), show its progress, wait; Ctrl-C detaches',
        )
        .option('--completion-window <window>', 'how long the batch may take, e.g. 24h, 72h, 7d', '7d')
        .option('--json', 'print the finished batch as JSON'),
    ),
  ),
).action(async (file: string, flags: RunFlags) => {
  process.exitCode = await run(file, flags);
});

addDataDirOption(
  program
    .command('status')
    .argument('[id]', 'a batch id')
    .description('the daemon and its batches, or one batch')
    .option('--json', 'print JSON'),
).action(async (id: string | undefined, flags: { dataDir?: string; json?: boolean }) => {
  await status(id, { ...flags, dataDir: dataDirOf(flags) });
});

addDataDirOption(
  program
    .command('cancel')
    .argument('<id>', 'a batch id')
    .description('cancel a batch; finished lines are kept')
    .option('--json', 'print JSON'),
).action(async (id: string, flags: { dataDir?: string; json?: boolean }) => {
  await order(protocol.BatchCancelRequest.type, id, { ...flags, dataDir: dataDirOf(flags) });
});

addDataDirOption(
  program
    .command('retry')
    .argument('<id>', "a finished batch's id")
    .description('run the lines of a finished batch that failed again, as a new batch')
    .option('--json', 'print JSON'),
).action(async (id: string, flags: { dataDir?: string; json?: boolean }) => {
  await order(protocol.BatchRetryRequest.type, id, { ...flags, dataDir: dataDirOf(flags) });
});

addDataDirOption(
  program.command('stop').description('stop the daemon; running batches resume at its next start'),
).action(async (flags: { dataDir?: string }) => {
  await stopDaemon({ dataDir: dataDirOf(flags) });
});

program
  .command('validate')
  .argument('<file>', 'batch input JSONL')
  .description("check a batch file with the daemon's rules, line by line")
  .option('--json', 'print the report as JSON')
  .action(async (file: string, flags: { json?: boolean }) => {
    process.exitCode = await validate(file, flags);
  });

addConvertCommand(program);
addAnalyzeCommand(program);

try {
  await program.parseAsync(process.argv);
} catch (error) {
  if (error instanceof CommanderError) {
    process.exitCode = error.exitCode;
  } else {
    console.error(`ollama-batch: ${error instanceof CliError ? error.message : (error as Error).message}`);
    process.exitCode = error instanceof CliError ? error.exitCode : 1;
  }
}
