// The `ollama-batch` command line. Every command has --help; data commands have --json; the
// exit code is 0 only on success, and failures print one line, never a stack trace.
import { Command, CommanderError } from 'commander';
import { VERSION } from '../common/version.js';
import * as protocol from '../protocol/methods.js';
import { clearFinished, deleteBatch, order, status, stopDaemon } from './batches.js';
import { CliError } from './daemon-connection.js';
import { addDataDirOption, addSettingOptions, dataDirOf } from './options.js';
import { addConfigCommand } from './config-command.js';
import { addAnalyzeCommand } from './analyze-command.js';
import { addConvertCommand } from './convert-command.js';
import { addCascadeCommand } from './cascade-command.js';
import { EXIT_CODES_HELP } from './follow.js';
import { followCommand, run, type RunFlags } from './run.js';
import { serveDetached } from './serve-detached.js';
import { validate } from './validate.js';

const program = new Command('ollama-batch')
  .description('Run OpenAI-format batch jobs (JSONL) on a local LLM server such as Ollama.')
  .version(VERSION)
  .showHelpAfterError()
  .exitOverride();

addSettingOptions(
  addDataDirOption(
    program
      .command('serve')
      .description(
        'run the daemon in the foreground: JSON-RPC on its socket, the OpenAI batch API over HTTP; its flags are remembered in config.json',
      )
      .option('--detach', 'start it in the background instead; return once it is ready'),
  ),
  { secrets: true },
).action(async (flags: Record<string, unknown> & { detach?: boolean }) => {
  const { detach, ...serveFlags } = flags;
  if (detach) return serveDetached(serveFlags);
  // The daemon, loaded only by the command that runs it.
  const { serve } = await import('./serve.js');
  await serve(serveFlags);
});

addSettingOptions(
  addDataDirOption(
    program
      .command('run')
      .argument('<file>', 'batch input JSONL (OpenAI format)')
      .description(
        'submit a batch (starting a daemon if none runs), show its progress, wait; Ctrl-C detaches. Batch settings apply to this batch; daemon settings are remembered in config.json',
      )
      .option('--completion-window <window>', 'how long the batch may take, e.g. 24h, 72h, 7d', '7d')
      .option('--new', 'submit a new batch even when one of the same input is still running (default: follow that one)')
      .option('--json', 'print the finished batch as JSON')
      .addHelpText('after', EXIT_CODES_HELP),
  ),
  { secrets: false },
).action(async (file: string, flags: RunFlags) => {
  process.exitCode = await run(file, flags);
});

addDataDirOption(
  program
    .command('follow')
    .argument('[id]', 'a batch id (default: the latest that has not ended, else the latest)')
    .description("show a batch's progress until it ends, as run does; Ctrl-C detaches")
    .option('--json', 'print the finished batch as JSON')
    .addHelpText('after', EXIT_CODES_HELP),
).action(async (id: string | undefined, flags: { dataDir?: string; json?: boolean }) => {
  process.exitCode = await followCommand(id, flags);
});

addDataDirOption(
  program
    .command('status')
    .argument('[id]', 'a batch id')
    .description("the daemon and its batches, or one batch; without a daemon, the batches from its data dir's db.json")
    .option('--json', 'print JSON'),
).action(async (id: string | undefined, flags: { dataDir?: string; json?: boolean }) => {
  await status(id, { ...flags, dataDir: dataDirOf(flags) });
});

addDataDirOption(
  program.command('list').description('the batches (status without an id)').option('--json', 'print JSON'),
).action(async (flags: { dataDir?: string; json?: boolean }) => {
  await status(undefined, { ...flags, dataDir: dataDirOf(flags) });
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
  program
    .command('resume')
    .argument('<id>', 'a batch the pilot check paused')
    .description(
      'resume a batch the pilot check paused (too many answers broke their schema); the check is not made again',
    )
    .option('--json', 'print JSON'),
).action(async (id: string, flags: { dataDir?: string; json?: boolean }) => {
  await order(protocol.BatchResumeRequest.type, id, { ...flags, dataDir: dataDirOf(flags) });
});

addDataDirOption(
  program
    .command('delete')
    .argument('<id>', 'a batch that has ended')
    .description(
      'delete a batch that has ended, with its metrics and the files no other batch uses (input, output, errors); cancel a running one first',
    )
    .option('--json', 'print JSON'),
).action(async (id: string, flags: { dataDir?: string; json?: boolean }) => {
  await deleteBatch(id, { ...flags, dataDir: dataDirOf(flags) });
});

addDataDirOption(
  program
    .command('clear')
    .description('delete every batch that has ended, as delete does; without --yes, only list them')
    .option('--yes', 'delete them')
    .option('--json', 'print JSON'),
).action(async (flags: { dataDir?: string; json?: boolean; yes?: boolean }) => {
  await clearFinished({ ...flags, dataDir: dataDirOf(flags) });
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

addConfigCommand(program);
addConvertCommand(program);
addCascadeCommand(program);
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
