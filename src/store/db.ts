// Opening the SQLite file (errors name the path, the variable and the reason): WAL, migrations up to this build's schema, and a refusal to touch a file
// written by a newer llmtap.
import { mkdirSync, statSync } from 'node:fs';
import { dirname } from 'node:path';

import Database from 'better-sqlite3';

import { MIGRATIONS, SCHEMA_VERSION } from './migrations.js';

export type DB = Database.Database;

export function openDatabase(path: string, opts: { readonly?: boolean } = {}): DB {
  if (!opts.readonly && path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
  let db: DB;
  try {
    db = new Database(path, { readonly: opts.readonly ?? false, fileMustExist: opts.readonly ?? false });
  } catch (err) {
    throw new Error(`cannot open the database at ${path} (LLMTAP_DB_PATH): ${(err as Error).message}`, { cause: err });
  }
  try {
    if (!opts.readonly) {
      db.pragma('journal_mode = WAL');
      // WAL + NORMAL: a committed batch survives a crash of the process; only an OS crash can lose
      // the last commits. Commits cost no fsync.
      db.pragma('synchronous = NORMAL');
      // The WAL keeps its largest size otherwise (698 MB after a few huge spans): past a checkpoint it
      // is truncated to this.
      db.pragma('journal_size_limit = 67108864');
    }
    // The writer runs on the event loop: never wait for a lock there, retry later instead.
    db.pragma('busy_timeout = 0');
    migrate(db, path, opts.readonly ?? false);
    return db;
  } catch (err) {
    db.close();
    throw err;
  }
}

function migrate(db: DB, path: string, readonly: boolean): void {
  const hasTable = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'").get();
  const current = hasTable ? ((db.prepare('SELECT max(version) AS v FROM schema_migrations').get() as { v: number | null }).v ?? 0) : 0;
  if (current > SCHEMA_VERSION) {
    throw new Error(
      `the database at ${path} has schema version ${current}, newer than this llmtap understands (${SCHEMA_VERSION}); ` +
        'upgrade llmtap or point LLMTAP_DB_PATH at another file',
    );
  }
  if (current === SCHEMA_VERSION) return;
  if (readonly) throw new Error(`the database at ${path} needs an upgrade (schema ${current} → ${SCHEMA_VERSION}); start the server once`);
  db.transaction(() => {
    db.exec('CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)');
    const record = db.prepare('INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)');
    for (let v = current + 1; v <= SCHEMA_VERSION; v++) {
      const step = MIGRATIONS[v - 1]!;
      if (typeof step === 'string') db.exec(step);
      else step(db);
      record.run(v, new Date().toISOString());
    }
  }).immediate();
}

/** Identity of the file at a path, to notice when it was deleted or replaced under us. */
export function fileIdentity(path: string): string | undefined {
  try {
    const s = statSync(path);
    return `${s.dev}:${s.ino}`;
  } catch {
    return undefined;
  }
}
