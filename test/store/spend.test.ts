// The spend totals: after inserts (duplicates included), retention and an upgrade from an older file, every
// grouping equals the sum over the stored spans.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';

import type { Span } from '../../src/record/span.js';
import { openDatabase } from '../../src/store/db.js';
import { MIGRATIONS } from '../../src/store/migrations.js';
import { pruneOlderThan } from '../../src/store/retention.js';
import { spanInserter } from '../../src/store/spans.js';
import { type Dimension, spend, type SpendQuery } from '../../src/store/spend.js';
import { sampleSpan } from '../support/spans.js';

const tempPath = (): string => join(mkdtempSync(join(tmpdir(), 'llmtap-spend-')), 'llmtap.db');

const HOUR = 3_600_000_000_000n;
const BASE = 1_700_000_000_000_000_000n - (1_700_000_000_000_000_000n % (24n * HOUR)); // a UTC midnight

/** Spans over three days, with every dimension sometimes missing, errors, cached and reasoning tokens, costs or none. */
function spans(count: number): Span[] {
  let seed = 7;
  const rand = (n: number): number => (seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) % n;
  return Array.from({ length: count }, (_, i) => {
    const attributes: Span['attributes'] = {};
    const model = ['gpt-4o-mini-2024-07-18', 'gpt-4.1', 'text-embedding-3-small', ''][rand(4)]!;
    if (model) attributes['llm.model_name'] = model;
    if (rand(3) > 0) attributes['user.id'] = `user-${rand(4)}`;
    if (rand(2) > 0) attributes['session.id'] = `session-${rand(6)}`;
    if (rand(5) > 0) {
      attributes['llm.token_count.prompt'] = 10 + rand(500);
      attributes['llm.token_count.completion'] = rand(300);
      attributes['llm.token_count.prompt_details.cache_read'] = rand(10);
      attributes['llm.token_count.completion_details.reasoning'] = rand(7);
      if (rand(4) > 0) attributes['llm.cost.total'] = rand(10_000) / 1e7;
    }
    return sampleSpan({
      spanId: (i + 1).toString(16).padStart(16, '0'),
      startNs: BASE + BigInt(rand(72)) * HOUR + BigInt(rand(3_600_000)) * 1_000_000n,
      statusCode: rand(6) === 0 ? 'ERROR' : 'OK',
      project: ['default', 'checkout'][rand(2)]!,
      attributes,
      events: [],
    });
  });
}

const value = (s: Span, by: Dimension): string | null => {
  const key = { model: 'llm.model_name', user: 'user.id', session: 'session.id', project: '' }[by];
  return by === 'project' ? s.project : ((s.attributes[key] as string | undefined) ?? null);
};

/** The same report, summed over the spans themselves. */
function expected(stored: Span[], q: SpendQuery): Map<string, { requests: number; errors: number; tokens: number[]; cost: number }> {
  const out = new Map<string, { requests: number; errors: number; tokens: number[]; cost: number }>();
  for (const s of stored) {
    const hour = Number(s.startNs / HOUR);
    if (hour < q.fromHour || hour >= q.toHour) continue;
    const bucket = q.bucket === 'day' ? Math.floor(hour / 24) * 24 : q.bucket === 'hour' ? hour : null;
    const key = `${bucket === null ? '' : new Date(bucket * 3_600_000).toISOString()}|${q.by ? value(s, q.by) : ''}`;
    const g = out.get(key) ?? { requests: 0, errors: 0, tokens: [0, 0, 0, 0], cost: 0 };
    const a = s.attributes;
    g.requests++;
    if (s.statusCode === 'ERROR') g.errors++;
    [
      'llm.token_count.prompt',
      'llm.token_count.completion',
      'llm.token_count.prompt_details.cache_read',
      'llm.token_count.completion_details.reasoning',
    ].forEach((k, i) => (g.tokens[i]! += (a[k] as number | undefined) ?? 0));
    g.cost += (a['llm.cost.total'] as number | undefined) ?? 0;
    out.set(key, g);
  }
  return out;
}

function expectReportToMatch(db: Database.Database, stored: Span[], q: SpendQuery): void {
  const report = spend(db, q);
  const want = expected(stored, q);
  const got = new Map(report.groups.map((g) => [`${g.bucket ?? ''}|${q.by ? g[q.by] : ''}`, g]));
  expect([...got.keys()].sort()).toEqual([...want.keys()].sort());
  for (const [key, w] of want) {
    const g = got.get(key)!;
    expect({ requests: g.requests, errors: g.errors, tokens: [g.tokens.prompt, g.tokens.completion, g.tokens.cached, g.tokens.reasoning] }, key).toEqual({
      requests: w.requests,
      errors: w.errors,
      tokens: w.tokens,
    });
    expect(g.cost_usd, key).toBeCloseTo(w.cost, 12);
  }
  expect(report.total.requests).toBe([...want.values()].reduce((n, w) => n + w.requests, 0));
}

const QUERIES: SpendQuery[] = [
  { fromHour: 0, toHour: 1e9 },
  { by: 'user', bucket: 'day', fromHour: 0, toHour: 1e9 },
  { by: 'model', fromHour: Number(BASE / HOUR) + 5, toHour: Number(BASE / HOUR) + 50 },
  { by: 'session', bucket: 'hour', fromHour: 0, toHour: 1e9 },
  { by: 'project', bucket: 'day', fromHour: 0, toHour: 1e9 },
];

describe('spend totals', () => {
  it('equal the sum over the stored spans, for every grouping, duplicates counted once', () => {
    const db = openDatabase(tempPath());
    const all = spans(600);
    const insert = spanInserter(db, { outbox: false });
    insert(all.slice(0, 250));
    insert(all.slice(200, 600)); // 50 already stored
    for (const q of QUERIES) expectReportToMatch(db, all, q);
    db.close();
  });

  it('retention takes the pruned spans out of them, and leaves no empty row', () => {
    const db = openDatabase(tempPath());
    const all = spans(600);
    spanInserter(db, { outbox: false })(all);
    const cutoff = BASE + 30n * HOUR + 1234n;
    expect(pruneOlderThan(db, cutoff)).toBe(all.filter((s) => s.startNs < cutoff).length);
    const kept = all.filter((s) => s.startNs >= cutoff);
    for (const q of QUERIES) expectReportToMatch(db, kept, q);
    pruneOlderThan(db, BASE + 100n * HOUR);
    expect(db.prepare('SELECT count(*) FROM usage_hourly').pluck().get()).toBe(0);
    db.close();
  });

  it('are built, on upgrade, for the spans an older llmtap stored', () => {
    const path = tempPath();
    const old = new Database(path);
    old.exec('CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)');
    for (const [i, step] of MIGRATIONS.slice(0, 3).entries()) {
      if (typeof step === 'string') old.exec(step);
      else step(old);
      old.prepare('INSERT INTO schema_migrations VALUES (?, ?)').run(i + 1, 'then');
    }
    // What that version stored: no cached or reasoning tokens, no cost.
    const all = spans(300).map((s) => {
      const {
        'llm.cost.total': _c,
        'llm.token_count.prompt_details.cache_read': _r,
        'llm.token_count.completion_details.reasoning': _x,
        ...attributes
      } = s.attributes;
      return { ...s, attributes };
    });
    const insert = old.prepare(
      `INSERT INTO spans (span_id, trace_id, name, kind, start_ns, end_ns, status_code, status_message, project, session_id, user_id, model,
         prompt_tokens, completion_tokens, attributes, events) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, '[]')`,
    );
    for (const s of all) {
      const a = s.attributes;
      insert.run(
        s.spanId,
        s.traceId,
        s.name,
        s.kind,
        s.startNs,
        s.endNs,
        s.statusCode,
        '',
        s.project,
        a['session.id'] ?? null,
        a['user.id'] ?? null,
        a['llm.model_name'] ?? null,
        a['llm.token_count.prompt'] ?? null,
        a['llm.token_count.completion'] ?? null,
        JSON.stringify(a),
      );
    }
    old.close();
    const db = openDatabase(path);
    for (const q of QUERIES) expectReportToMatch(db, all, q);
    // And they stay right from there on.
    const more = spans(700).slice(300);
    spanInserter(db, { outbox: false })(more);
    pruneOlderThan(db, BASE + 20n * HOUR);
    for (const q of QUERIES)
      expectReportToMatch(
        db,
        [...all, ...more].filter((s) => s.startNs >= BASE + 20n * HOUR),
        q,
      );
    db.close();
  });
});
