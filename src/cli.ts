#!/usr/bin/env node
// The `llmtap` command. `llmtap` or `llmtap serve` runs the proxy; `export` and `import` move spans
// in and out of its SQLite file as Phoenix span JSONL; `outbox` shows and retries what waits for export;
// `stats` prints what the stored calls cost.
import { constants as osConstants } from 'node:os';

import { UsageError } from './commands/errors.js';
import { exportCommand } from './commands/export.js';
import { importCommand } from './commands/import.js';
import { outboxCommand } from './commands/outbox.js';
import { statsCommand } from './commands/stats.js';
import { ConfigError, loadConfig, unknownVariables } from './config.js';
import { createLogging, logDestination, logFormat } from './log.js';
import { start } from './main.js';
import { VERSION } from './version.js';

const USAGE = `usage: llmtap [serve]
       llmtap export [--since ISO] [--until ISO] [--out FILE]
       llmtap import FILE
       llmtap outbox [status|retry]
       llmtap stats [--by model|user|session|project|hour|day]… [--since 7d] [--json]
       llmtap --version

  serve   run the proxy (the default); configured by environment variables, see README.md
  export  write the stored spans as Phoenix span JSONL (llmtap export --help)
  import  store the spans of a Phoenix span JSONL file (llmtap import --help)
  outbox  spans waiting for export to Phoenix, parked ones and why; \`retry\` sends parked spans again
  stats   requests, tokens and cost of the stored calls, by model, user, session, project, hour or day
`;

/** Each variable of llmtap's families that no setting reads, with the name it was likely meant to be. */
const unknownVariableWarnings = (): { variable: string; nearest: string; message: string }[] =>
  unknownVariables().map(({ variable, nearest }) => ({
    variable,
    nearest,
    message: `${variable} is not a variable llmtap reads, ignored: did you mean ${nearest}?`,
  }));

const COMMANDS: Record<string, (args: string[], config: ReturnType<typeof loadConfig>) => Promise<number>> = {
  export: exportCommand,
  import: importCommand,
  outbox: outboxCommand,
  stats: statsCommand,
};

/** Runs export, import, outbox or stats; a bad command line exits 2 with the usage, any other failure 1 with its message. */
async function runCommand(name: string, args: string[]): Promise<void> {
  // A reader that closes the pipe (`llmtap export | head -1`) has all it wants: stop quietly.
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code !== 'EPIPE') throw err;
    process.exit(0);
  });
  try {
    const config = loadConfig();
    for (const { message } of unknownVariableWarnings()) process.stderr.write(`llmtap ${name}: warning: ${message}\n`);
    process.exitCode = await COMMANDS[name]!(args, config);
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    const usage = err instanceof UsageError || (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS');
    process.stderr.write(`llmtap ${name}: ${(err as Error).message}\n${usage ? `run "llmtap ${name} --help" for usage\n` : ''}`);
    process.exitCode = usage ? 2 : 1;
  }
}

async function serve(): Promise<void> {
  const config = loadConfig();
  const logging = createLogging(config.logLevel, logDestination(logFormat(config.logFormat)));
  const { log } = logging;
  for (const { variable, nearest, message } of unknownVariableWarnings()) log.warn({ variable, nearest }, message);
  const running = await start(config, logging);
  let signals = 0;
  let exitCode = 0;
  const exit = (): void => {
    log.flush();
    process.exit(exitCode);
  };
  const stop = (signal: NodeJS.Signals): void => {
    if (++signals > 1) {
      if (signals > 2) return;
      // Stop at once: the queued spans get a second to be written (the rest of what is in flight is cut).
      log.warn({ signal }, 'second signal: stopping now');
      exitCode = 128 + osConstants.signals[signal];
      setTimeout(exit, 1200);
      running.stopNow().then(exit, exit);
      return;
    }
    log.info({ signal }, 'signal received (a second one stops at once)');
    running.shutdown().then(exit, (err: unknown) => {
      log.error({ err }, 'shutdown failed');
      exitCode ||= 1;
      exit();
    });
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

async function main(argv: string[]): Promise<void> {
  const [command = 'serve', ...rest] = argv;
  if (command === '--help' || command === '-h' || command === 'help') {
    process.stdout.write(USAGE);
    return;
  }
  if (command === '--version' || command === '-v') {
    process.stdout.write(`llmtap ${VERSION}\n`);
    return;
  }
  if (command === 'serve' && rest.length === 0) return serve();
  if (Object.hasOwn(COMMANDS, command)) return runCommand(command, rest);
  process.stderr.write(`llmtap: unknown command "${argv.join(' ')}"\n${USAGE}`);
  process.exitCode = 2;
}

main(process.argv.slice(2)).catch((err: unknown) => {
  if (err instanceof ConfigError) {
    process.stderr.write(`llmtap: ${err.message}\n`);
    process.exit(2);
  }
  process.stderr.write(`llmtap: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
