// `llmtap outbox [retry]`: what waits for export, what was parked and why; `retry` puts parked spans
// back in line (a running server sends them within its export interval, or the next start does).
import type { Config } from './config.js';
import { openDatabase } from './store/db.js';
import { Outbox, parkedReasons, unpark } from './store/outbox.js';

export function outboxCommand(config: Config, args: string[], out: NodeJS.WritableStream): number {
  const [action = 'status', ...rest] = args;
  if (rest.length > 0 || (action !== 'status' && action !== 'retry')) {
    out.write('usage: llmtap outbox [status|retry]\n');
    return 2;
  }
  const db = openDatabase(config.dbPath);
  try {
    if (action === 'retry') out.write(`${unpark(db)} parked spans queued for export again\n`);
    const { pending, parked } = new Outbox(db).counts();
    out.write(`${pending} spans waiting for export, ${parked} parked\n`);
    for (const { reason, spans } of parkedReasons(db)) out.write(`  ${spans} parked: ${reason}\n`);
    return 0;
  } finally {
    db.close();
  }
}
