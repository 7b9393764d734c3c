#!/usr/bin/env node
// The `llmtap` command. `llmtap` or `llmtap serve` runs the proxy; `export` and `import` move spans
// in and out of its SQLite file as Phoenix span JSONL; `outbox` shows and retries what waits for export;
// `stats` prints what the stored calls cost.
import { UsageError } from './commands/errors.js';
import { exportCommand } from './commands/export.js';
import { importCommand } from './commands/import.js';
import { outboxCommand } from './commands/outbox.js';
import { statsCommand } from './commands/stats.js';
import { ConfigError, loadConfig } from './config.js';
import { createLogging } from './log.js';
import { start } from './main.js';

const USAGE = `usage: llmtap [serve]
       llmtap export [--since ISO] [--until ISO] [--out FILE]
       llmtap import FILE
       llmtap outbox [status|retry]
       llmtap stats [--by model|user|session|project|hour|day]… [--since 7d] [--json]

  serve   run the proxy (the default); configured by environment variables, see README.md
  export  write the stored spans as Phoenix span JSONL (llmtap export --help)
  import  store the spans of a Phoenix span JSONL file (llmtap import --help)
  outbox  spans waiting for export to Phoenix, parked ones and why; \`retry\` sends parked spans again
  stats   requests, tokens and cost of the stored calls, by model, user, session, project, hour or day
`;

const COMMANDS: Record<string, (args: string[], config: ReturnType<typeof loadConfig>) => Promise<number>> = {
  export: exportCommand,
  import: importCommand,
  outbox: outboxCommand,
  stats: statsCommand,
};

/** Runs export, import, outbox or stats; a bad command line exits 2 with the usage, any other failure 1 with its message. */
async function runCommand(name: string, args: string[]): Promise<void> {
  try {
    process.exitCode = await COMMANDS[name]!(args, loadConfig());
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    const usage = err instanceof UsageError || (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS');
    process.stderr.write(`llmtap ${name}: ${(err as Error).message}\n${usage ? `run "llmtap ${name} --help" for usage\n` : ''}`);
    process.exitCode = usage ? 2 : 1;
  }
}

async function serve(): Promise<void> {
  const config = loadConfig();
  const logging = createLogging(config.logLevel);
  const { log } = logging;
  const running = await start(config, logging);
  let signals = 0;
  const stop = (signal: string): void => {
    if (++signals > 1) return;
    log.info({ signal }, 'signal received');
    running.shutdown().then(
      () => {
        log.flush();
        process.exit(0);
      },
      (err: unknown) => {
        log.error({ err }, 'shutdown failed');
        log.flush();
        process.exit(1);
      },
    );
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
