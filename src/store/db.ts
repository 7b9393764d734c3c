// Opening the SQLite file: WAL, migrations up to this build's schema, and a refusal to touch a file
// written by a newer llmtap. Every failure names the path, LLMTAP_DB_PATH and the reason.
import { accessSync, constants, existsSync, mkdirSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';

import Database from 'better-sqlite3';

import { systemReason } from '../system-error.js';
import { addTexts } from './histogram.js';
import { MIGRATIONS, SCHEMA_VERSION } from './migrations.js';

export type DB = Database.Database;

/** The file, and the variable that named it (with its value when that was a relative path). */
const described = (path: string): string => `${resolve(path)} (LLMTAP_DB_PATH${resolve(path) === path ? '' : `=${path}`})`;

/**
 * `mustExist`: refuse a missing file rather than create an empty one (the CLI's readers: a wrong
 * LLMTAP_DB_PATH must not look like a database with nothing in it). `readonly` implies it.
 */
export function openDatabase(path: string, opts: { readonly?: boolean; mustExist?: boolean } = {}): DB {
  const readonly = opts.readonly ?? false;
  const problem = (reason: string, cause?: unknown): Error => new Error(`cannot open the database at ${described(path)}: ${reason}`, { cause });
  if ((readonly || opts.mustExist) && !existsSync(path)) {
    throw new Error(`no database at ${described(path)}: the server creates it when it starts; set LLMTAP_DB_PATH to the file it uses`);
  }
  if (!readonly) {
    try {
      mkdirSync(dirname(path), { recursive: true });
    } catch (err) {
      throw problem(`cannot create its directory: ${systemReason(err)}`, err);
    }
    // SQLite opens a write-protected file read-only without a word and fails only at the first write.
    const denied = unwritable(path, 'the file') ?? unwritable(dirname(path), `its directory ${dirname(resolve(path))}`);
    if (denied) throw problem(denied);
  }
  let db: DB;
  try {
    db = new Database(path, { readonly, fileMustExist: readonly });
  } catch (err) {
    throw problem(sqliteReason(err), err);
  }
  try {
    if (!readonly) {
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
    // The rollups' upsert adds histograms (rollup.ts).
    db.function('llmtap_histogram_add', { deterministic: true }, addTexts);
    migrate(db, readonly);
    return db;
  } catch (err) {
    db.close();
    throw problem(sqliteReason(err), err);
  }
}

/** Why this process may not write `target` (the file, or its directory, where the WAL goes), if it may not. */
function unwritable(target: string, what: string): string | undefined {
  try {
    accessSync(target, constants.W_OK);
    return undefined;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined; // created on open
    return `${what} is not writable: ${systemReason(err)}`;
  }
}

/** SQLite's message with its code (`database is locked (SQLITE_BUSY)`), or llmtap's own refusal. */
function sqliteReason(err: unknown): string {
  const { message, code } = err as { message?: string; code?: unknown };
  return typeof code === 'string' && code.startsWith('SQLITE_') ? `${message} (${code})` : String(message ?? err);
}

function migrate(db: DB, readonly: boolean): void {
  const hasTable = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'").get();
  const current = hasTable ? ((db.prepare('SELECT max(version) AS v FROM schema_migrations').get() as { v: number | null }).v ?? 0) : 0;
  if (current > SCHEMA_VERSION) {
    throw new Error(
      `its schema version ${current} is newer than this llmtap understands (${SCHEMA_VERSION}); upgrade llmtap or point LLMTAP_DB_PATH at another file`,
    );
  }
  if (current === SCHEMA_VERSION) return;
  if (readonly) throw new Error(`it needs an upgrade (schema ${current} → ${SCHEMA_VERSION}); start the server once`);
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
