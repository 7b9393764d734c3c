// The SQLite file: migrations, refusal of a newer schema, retention, a bounded WAL, and a file that
// cannot be written reported at once.
import { mkdirSync, mkdtempSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';

import { openDatabase } from '../../src/store/db.js';
import { MIGRATIONS, SCHEMA_VERSION } from '../../src/store/migrations.js';
import { pruneOlderThan } from '../../src/store/retention.js';
import { spanInserter, spanReader } from '../../src/store/spans.js';
import { eventually } from '../support/eventually.js';
import { rawRequest } from '../support/http.js';
import { runCli, startLlmtap } from '../support/llmtap.js';
import { sampleSpan } from '../support/spans.js';

const tempPath = (): string => join(mkdtempSync(join(tmpdir(), 'llmtap-db-')), 'nested', 'llmtap.db');

describe('database', () => {
  it('creates the file (and its directory) in WAL mode at the current schema version', () => {
    const path = tempPath();
    const db = openDatabase(path);
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(db.prepare('SELECT max(version) AS v FROM schema_migrations').get()).toEqual({ v: SCHEMA_VERSION });
    db.close();
  });

  it('keeps a span exactly: ids, ns times, status, attribute types, events, project', () => {
    const db = openDatabase(tempPath());
    const span = sampleSpan({
      parentSpanId: '00f067aa0ba902b7',
      traceState: 'k=v',
      statusCode: 'ERROR',
      statusMessage: 'RateLimitError: slow down',
      project: 'p2',
    });
    expect(spanInserter(db, { outbox: false })([span])).toEqual([{ seq: 1, span }]);
    expect(spanReader(db)(span.spanId)).toEqual(span);
    expect(spanInserter(db, { outbox: false })([span])).toEqual([]); // idempotent on span id
    db.close();
  });

  it('upgrades a file written by an older llmtap, keeping its spans', () => {
    const path = tempPath();
    // A file as the first release wrote it: schema 1 only, with a span in it.
    mkdirSync(dirname(path), { recursive: true });
    const old = new Database(path);
    old.exec('CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)');
    old.exec(MIGRATIONS[0] as string);
    old.prepare('INSERT INTO schema_migrations VALUES (1, ?)').run('then');
    const before = sampleSpan({ attributes: { 'llm.input_messages.0.message.content': 'written before the upgrade' } });
    old
      .prepare(
        `INSERT INTO spans (span_id, trace_id, name, kind, start_ns, end_ns, status_code, status_message, project, attributes, events)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(
        before.spanId,
        before.traceId,
        before.name,
        before.kind,
        before.startNs,
        before.endNs,
        before.statusCode,
        before.statusMessage,
        before.project,
        JSON.stringify(before.attributes),
        JSON.stringify(before.events.map((e) => ({ name: e.name, time_ns: e.timeNs.toString(), attributes: e.attributes }))),
      );
    old.close();
    const db = openDatabase(path);
    expect(db.prepare('SELECT max(version) AS v FROM schema_migrations').get()).toEqual({ v: SCHEMA_VERSION });
    expect(SCHEMA_VERSION).toBeGreaterThan(1);
    expect(spanReader(db)(before.spanId)).toEqual(before);
    // The full-text index added later covers the spans written before it.
    expect(db.prepare("SELECT rowid FROM spans_text WHERE spans_text MATCH 'upgrade'").all()).toHaveLength(1);
    db.close();
  });

  it('refuses a file written by a newer llmtap, with a clear message, at start-up too', async () => {
    const path = tempPath();
    openDatabase(path).close();
    const raw = new Database(path);
    raw.prepare('INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)').run(SCHEMA_VERSION + 1, 'future');
    raw.close();
    expect(() => openDatabase(path)).toThrow(/newer than this llmtap understands/);
    const r = await runCli({ LLMTAP_DB_PATH: path, LLMTAP_PORT: '0' });
    expect(r.code).not.toBe(0);
    expect(r.output).toContain('newer than this llmtap understands');
    expect(r.output).toContain('LLMTAP_DB_PATH');
  });

  it('retention deletes only spans older than the cutoff', () => {
    const db = openDatabase(tempPath());
    const day = 86_400_000_000_000n;
    const now = 1_800_000_000_000_000_000n;
    const words = { 'llm.output_messages.0.message.content': 'answered by the fake model' };
    spanInserter(db, { outbox: false })([
      sampleSpan({ spanId: '0000000000000001', startNs: now - 40n * day, attributes: words }),
      sampleSpan({ spanId: '0000000000000002', startNs: now - 31n * day, attributes: words }),
      sampleSpan({ spanId: '0000000000000003', startNs: now - 1n * day, attributes: words }),
    ]);
    expect(pruneOlderThan(db, now - 30n * day)).toBe(2);
    expect(db.prepare('SELECT span_id FROM spans').pluck().all()).toEqual(['0000000000000003']);
    // Their full-text entries go with them (a reused rowid must not inherit another span's words).
    expect(db.prepare("SELECT count(*) FROM spans_text WHERE spans_text MATCH 'fake'").pluck().get()).toBe(1);
    db.close();
  });
});

describe('bounded and honest', () => {
  it('the WAL does not keep its largest size: past a checkpoint it is truncated to 64 MiB', () => {
    const path = tempPath();
    const db = openDatabase(path);
    db.exec('CREATE TABLE big (b BLOB)');
    const insert = db.prepare('INSERT INTO big (b) VALUES (?)');
    db.transaction(() => {
      for (let i = 0; i < 80; i++) insert.run(Buffer.alloc(1024 * 1024, i));
    })();
    const wal = (): number => statSync(`${path}-wal`).size;
    expect(wal()).toBeGreaterThan(80 * 1024 * 1024);
    db.pragma('wal_checkpoint(PASSIVE)');
    db.exec('DELETE FROM big');
    expect(wal()).toBeLessThanOrEqual(64 * 1024 * 1024);
    db.close();
  });

  it('a database that cannot be written is reported by /readyz from the start, and again as fine once it can', async () => {
    const path = tempPath();
    openDatabase(path).close();
    const locker = new Database(path);
    locker.exec('BEGIN EXCLUSIVE');
    const llmtap = await startLlmtap({ LLMTAP_DB_PATH: path, LLMTAP_LOG_LEVEL: 'silent', LLMTAP_FLUSH_INTERVAL_MS: '10' });
    try {
      const ready = async (): Promise<{ status: number; storage: string }> => {
        const r = await rawRequest(`${llmtap.url}/readyz`);
        return { status: r.status, storage: (JSON.parse(r.body.toString()) as { checks: { storage: string } }).checks.storage };
      };
      // No span was written, none was asked for: the start itself found out.
      const refused = await ready();
      expect(refused.status).toBe(503);
      expect(refused.storage).toBe(`cannot write to the database at ${path} (LLMTAP_DB_PATH): database is locked`);
      locker.exec('ROLLBACK');
      await eventually(async () => (await ready()).status === 200, 'readyz fine again', 10_000);
    } finally {
      if (locker.inTransaction) locker.exec('ROLLBACK');
      locker.close();
      await llmtap.shutdown();
    }
  });
});
