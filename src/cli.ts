#!/usr/bin/env node
// The `llmtap` command. `llmtap` or `llmtap serve` runs the proxy.
import { ConfigError, loadConfig } from './config.js';
import { createLogger } from './log.js';
import { start } from './main.js';
import { outboxCommand } from './outbox-command.js';

const USAGE = `usage: llmtap [serve]
       llmtap outbox [status|retry]

  serve    run the proxy (the default); configured by environment variables, see README.md
  outbox   spans waiting for export and parked ones with the reason; \`retry\` sends parked spans again
`;

async function serve(): Promise<void> {
  const config = loadConfig();
  const log = createLogger(config.logLevel);
  const running = await start(config, log);
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
  if (command === 'outbox') {
    process.exitCode = outboxCommand(loadConfig(), rest, process.stdout);
    return;
  }
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
