// `llmtap outbox [status|retry]`: what waits for export, what was parked and why; `retry` puts parked
// spans back in line (a running server sends them within its export interval, or the next start does).
import type { Config } from '../config.js';
import { openDatabase } from '../store/db.js';
import { Outbox, parkedReasons, unpark } from '../store/outbox.js';
import { UsageError } from './errors.js';

const OUTBOX_USAGE = `usage: llmtap outbox [status|retry]

  status   spans waiting for export to Phoenix, and parked ones (refused by the target) with the reason
  retry    queue the parked spans for export again
`;

export async function outboxCommand(args: string[], config: Config): Promise<number> {
  const [action = 'status', ...rest] = args;
  if (action === '--help' || action === '-h') {
    process.stdout.write(OUTBOX_USAGE);
    return 0;
  }
  if (rest.length > 0 || (action !== 'status' && action !== 'retry')) throw new UsageError(`unknown arguments "${args.join(' ')}"`);
  const db = openDatabase(config.dbPath, { mustExist: true });
  try {
    if (action === 'retry') process.stdout.write(`${unpark(db)} parked spans queued for export again\n`);
    const { pending, parked } = new Outbox(db).counts();
    process.stdout.write(`${pending} spans waiting for export, ${parked} parked\n`);
    for (const { reason, spans } of parkedReasons(db)) process.stdout.write(`  ${spans} parked: ${reason}\n`);
    return 0;
  } finally {
    db.close();
  }
}
