#!/usr/bin/env node
/**
 * The `perfprobe` command: run, watch, serve, compare, info.
 * Usage mistakes print one line and exit 2; runtime failures one line and exit 1.
 */
import { UsageError, suggest } from './args.js';

const COMMANDS = ['run', 'watch', 'serve', 'compare', 'info'] as const;
type Command = (typeof COMMANDS)[number];

export const MAIN_HELP = `Usage: perfprobe <command> [options]

Commands:
  run [options] -- <cmd> [args...]   run a command and report its wall and CPU time, memory and GPU use
  watch [--interval 1s] [--json]     live view of every GPU and of memory in the terminal
  serve [--port 9464] [--host 127.0.0.1] [--token T]
                                     monitor this machine and serve the HTTP API, /metrics and a dashboard
  compare BASE.json CURRENT.json [--threshold 5%]
                                     compare two JSON exports per operation; exit 1 on a regression
  info                               probe backends, NVML driver version, devices, fallbacks

Run 'perfprobe <command> --help' for the options of a command.
`;

async function dispatch(command: Command, rest: string[]): Promise<number> {
  switch (command) {
    case 'run':
      return (await import('./run.js')).runCommand(rest);
    case 'watch':
      return (await import('./watch.js')).watchCommand(rest);
    case 'serve':
      return (await import('./serve.js')).serveCommand(rest);
    case 'compare':
      return (await import('./compare.js')).compareCommand(rest);
    case 'info':
      return (await import('./info.js')).infoCommand(rest);
  }
}

export async function main(argv: string[]): Promise<number> {
  const [first, ...rest] = argv;
  if (first === undefined || first === '-h' || first === '--help' || first === 'help') {
    if (first === 'help' && rest[0] && (COMMANDS as readonly string[]).includes(rest[0])) return dispatch(rest[0] as Command, ['--help']);
    process.stdout.write(MAIN_HELP);
    return first === undefined ? 2 : 0;
  }
  if (first === '--version' || first === '-v') {
    process.stdout.write(`${(require('../../package.json') as { version: string }).version}\n`);
    return 0;
  }
  if (!(COMMANDS as readonly string[]).includes(first)) {
    const hint = suggest(first, first.startsWith('-') ? ['--help', '--version'] : COMMANDS);
    throw new UsageError(
      `perfprobe: unknown ${first.startsWith('-') ? 'option' : 'command'} '${first}'${hint ? ` (did you mean '${hint}'?)` : ''}; see 'perfprobe --help'`,
    );
  }
  return dispatch(first as Command, rest);
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => {
      // Commands that keep serving (serve, watch) resolve only when they are done.
      // Exit once stdout is flushed: a pipe is written asynchronously, and
      // exiting at once cut a large table (compare over 130,000 operations) short.
      process.stdout.write('', () => process.exit(code));
    },
    (err: unknown) => {
      if (err instanceof UsageError) {
        process.stderr.write(`${err.message}\n`);
        process.exit(err.exitCode);
      }
      process.stderr.write(`perfprobe: ${(err as Error)?.stack ?? String(err)}\n`);
      process.exit(1);
    },
  );
}
