// Entry point of the `tandem` command (packages/cli/bin/tandem runs it on Node 24): binds runCli to
// the process, installs graceful SIGINT/SIGTERM handling, and exits with the command's code.
import { runCli } from './cli.ts';
import { installShutdown } from './framework/shutdown.ts';

// `tandem status | head`: the reader went away; that is not an error worth a stack trace.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw error;
  });
}

const shutdown = installShutdown((signal) => {
  process.stderr.write(
    `\n${signal} received: stopping at the next safe point (no half-published view); ` +
      `press Ctrl-C again to force.\n`,
  );
});
const code = await runCli(process.argv.slice(2), {
  stdout: process.stdout,
  stderr: process.stderr,
  env: process.env,
  signal: shutdown.signal,
});
shutdown.dispose();
// Let stdout drain before exiting, so `tandem status --json | jq` never sees a truncated document.
process.exitCode = code;
if (process.stdout.writableNeedDrain) process.stdout.once('drain', () => process.exit(code));
else process.exit(code);
