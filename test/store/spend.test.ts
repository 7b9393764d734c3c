// The spend totals: after inserts (duplicates included), retention and an upgrade from an older file, every
// grouping and filter equals the sum over the stored spans, whether the rollups or the spans answer it, and
// percentiles are within the histograms' precision.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';

import { endpointOfSpan, SPAN_NAMES } from '../../src/record/route.js';
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
    if (rand(3) === 0) attributes['llmtap.time_to_first_token_ms'] = 50 + rand(2000) / 7;
    if (rand(4) === 0) attributes['tag.tags'] = [['eval'], ['prod', 'eval'], ['beta']][rand(3)]!;
    const startNs = BASE + BigInt(rand(72)) * HOUR + BigInt(rand(3_600_000)) * 1_000_000n;
    return sampleSpan({
      spanId: (i + 1).toString(16).padStart(16, '0'),
      name: [...Object.values(SPAN_NAMES).flat(), 'GET /v1/models', 'POST /v1/files'][rand(9)]!,
      startNs,
      endNs: startNs + BigInt(rand(20_000_000)) * 1000n, // up to 20 s
      statusCode: rand(6) === 0 ? 'ERROR' : 'OK',
      project: ['default', 'checkout'][rand(2)]!,
      attributes,
      events: [],
    });
  });
}

/** A span's values for a dimension (several tags, or none). */
const values = (s: Span, by: Dimension): (string | null)[] => {
  if (by === 'project') return [s.project];
  if (by === 'endpoint') return [endpointOfSpan(s.name)];
  if (by === 'tag') return (s.attributes['tag.tags'] as string[] | undefined) ?? [];
  const key = { model: 'llm.model_name', user: 'user.id', session: 'session.id' }[by];
  return [(s.attributes[key] as string | undefined) ?? null];
};

interface Expected {
  requests: number;
  errors: number;
  tokens: number[];
  cost: number;
  durations: number[];
  ttfts: number[];
}

const matches = (s: Span, q: SpendQuery): boolean => {
  const f = q.filter ?? {};
  return (
    (f.model === undefined || values(s, 'model')[0] === f.model) &&
    (f.userId === undefined || values(s, 'user')[0] === f.userId) &&
    (f.sessionId === undefined || values(s, 'session')[0] === f.sessionId) &&
    (f.endpoint === undefined || values(s, 'endpoint')[0] === f.endpoint) &&
    (f.tag === undefined || values(s, 'tag').includes(f.tag)) &&
    (f.status === undefined || s.statusCode === f.status)
  );
};

/** The same report, summed over the spans themselves. */
function expected(stored: Span[], q: SpendQuery): Map<string, Expected> {
  const out = new Map<string, Expected>();
  const size = { minute: 60_000, hour: 3_600_000, day: 86_400_000 };
  for (const s of stored) {
    const ms = Number(s.startNs / 1_000_000n);
    if (ms < q.fromMs || ms >= q.toMs || !matches(s, q)) continue;
    const bucket = q.bucket ? ms - (ms % size[q.bucket]) : null;
    for (const v of q.by ? values(s, q.by) : ['']) {
      const key = `${bucket === null ? '' : new Date(bucket).toISOString()}|${v}`;
      const g = out.get(key) ?? { requests: 0, errors: 0, tokens: [0, 0, 0, 0], cost: 0, durations: [], ttfts: [] };
      add(g, s);
      out.set(key, g);
    }
  }
  return out;
}

function add(g: Expected, s: Span): void {
  const a = s.attributes;
  g.durations.push(Number(s.endNs - s.startNs) / 1e6);
  if (a['llmtap.time_to_first_token_ms'] !== undefined) g.ttfts.push(a['llmtap.time_to_first_token_ms'] as number);
  {
    g.requests++;
    if (s.statusCode === 'ERROR') g.errors++;
    [
      'llm.token_count.prompt',
      'llm.token_count.completion',
      'llm.token_count.prompt_details.cache_read',
      'llm.token_count.completion_details.reasoning',
    ].forEach((k, i) => (g.tokens[i]! += (a[k] as number | undefined) ?? 0));
    g.cost += (a['llm.cost.total'] as number | undefined) ?? 0;
  }
}

/** The nearest-rank percentile. */
function exact(xs: number[], q: number): number | null {
  if (xs.length === 0) return null;
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.max(1, Math.ceil(q * sorted.length)) - 1]!;
}

/** Within the histograms' precision: 9% (below 1 ms, one bucket). */
function expectClose(got: number | null, want: number | null, what: string): void {
  if (want === null) return expect(got, what).toBeNull();
  if (want < 1) return expect(got, what).toBe(0.5);
  expect(Math.abs(got! / want - 1), `${what}: ${got} for ${want}`).toBeLessThanOrEqual(0.0906);
}

/** `prunedBefore`: retention cut through that hour, whose first time may then be one it took out (within the hour). */
async function expectReportToMatch(db: Database.Database, stored: Span[], q: SpendQuery, source?: 'rollups' | 'spans', prunedBefore?: bigint): Promise<void> {
  const report = await spend(db, q);
  if (source) expect(report.source).toBe(source);
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
    expectClose(g.latency_ms.p50, exact(w.durations, 0.5), `${key} p50`);
    expectClose(g.latency_ms.p95, exact(w.durations, 0.95), `${key} p95`);
    expectClose(g.ttft_ms.p95, exact(w.ttfts, 0.95), `${key} ttft p95`);
  }
  const all = stored.filter((s) => Number(s.startNs / 1_000_000n) >= q.fromMs && Number(s.startNs / 1_000_000n) < q.toMs && matches(s, q));
  expect(report.total.requests).toBe(all.length);
  expectClose(
    report.total.latency_ms.p95,
    exact(
      all.map((s) => Number(s.endNs - s.startNs) / 1e6),
      0.95,
    ),
    'total p95',
  );
  if (all.length === 0) return;
  const first = new Date(Number(all.reduce((m, s) => (s.startNs < m ? s.startNs : m), all[0]!.startNs) / 1_000_000n)).toISOString();
  if (prunedBefore === undefined || report.source === 'spans') return expect(report.total.first_time).toBe(first);
  expect(report.total.first_time! <= first).toBe(true);
  expect(Date.parse(report.total.first_time!)).toBeGreaterThanOrEqual(Number(((prunedBefore / HOUR) * HOUR) / 1_000_000n));
}

const H = 3_600_000;
const FIRST = Number(BASE / 1_000_000n);
const QUERIES: SpendQuery[] = [
  { fromMs: 0, toMs: 4e12 },
  { by: 'user', bucket: 'day', fromMs: 0, toMs: 4e12 },
  { by: 'model', fromMs: FIRST + 5 * H, toMs: FIRST + 50 * H },
  { by: 'session', bucket: 'hour', fromMs: 0, toMs: 4e12 },
  { by: 'project', bucket: 'day', fromMs: 0, toMs: 4e12 },
  { by: 'endpoint', fromMs: 0, toMs: 4e12 },
  { by: 'tag', bucket: 'hour', fromMs: 0, toMs: 4e12 },
  { filter: { model: 'gpt-4.1' }, bucket: 'hour', fromMs: 0, toMs: 4e12 },
  { filter: { tag: 'eval' }, bucket: 'day', fromMs: 0, toMs: 4e12 },
  { filter: { sessionId: 'session-2' }, by: 'session', fromMs: 0, toMs: 4e12 },
];

/** Questions only the spans answer. */
const SCANS: SpendQuery[] = [
  { filter: { model: 'gpt-4.1' }, by: 'user', fromMs: 0, toMs: 4e12 },
  { filter: { tag: 'eval' }, by: 'tag', fromMs: 0, toMs: 4e12 },
  { filter: { status: 'ERROR' }, by: 'model', bucket: 'day', fromMs: 0, toMs: 4e12 },
  { filter: { endpoint: 'chat', tag: 'eval' }, fromMs: 0, toMs: 4e12 },
  { filter: { userId: 'user-1' }, by: 'tag', fromMs: 0, toMs: 4e12 },
  { bucket: 'minute', fromMs: FIRST + 3 * H, toMs: FIRST + 5 * H },
];

describe('spend totals', () => {
  it('equal the sum over the stored spans, for every grouping and filter, duplicates counted once', async () => {
    const db = openDatabase(tempPath());
    const all = spans(600);
    const insert = spanInserter(db, { outbox: false });
    insert(all.slice(0, 250));
    insert(all.slice(200, 600)); // 50 already stored
    for (const q of QUERIES) await expectReportToMatch(db, all, q, 'rollups');
    for (const q of SCANS) await expectReportToMatch(db, all, q, 'spans');
    db.close();
  });

  it('rank the groups of a limit over the whole window, and say when more follow', async () => {
    const db = openDatabase(tempPath());
    const all = spans(600);
    spanInserter(db, { outbox: false })(all);
    for (const filter of [undefined, { status: 'ERROR' as const }]) {
      const q: SpendQuery = { by: 'endpoint', fromMs: 0, toMs: 4e12, sort: 'requests', ...(filter && { filter }) };
      const every = (await spend(db, q)).groups;
      const byRequests = [...every].sort((a, b) => b.requests - a.requests || (a.endpoint! < b.endpoint! ? -1 : 1));
      const top = await spend(db, { ...q, limit: 3 });
      expect(top.groups.map((g) => g.endpoint)).toEqual(byRequests.slice(0, 3).map((g) => g.endpoint));
      expect(top.more).toBe(true);
      expect(top.total.requests).toBe(every.reduce((n, g) => n + g.requests, 0));
      const rest = await spend(db, { ...q, limit: 10, offset: 3 });
      expect(rest.groups.map((g) => g.endpoint)).toEqual(byRequests.slice(3, 13).map((g) => g.endpoint));
      expect(rest.more).toBe(false);
      const last = await spend(db, { ...q, sort: 'last', limit: 1 });
      expect(last.groups[0]!.last_time).toBe(
        every
          .map((g) => g.last_time!)
          .sort()
          .at(-1),
      );
    }
    db.close();
  });

  it('retention takes the pruned spans out of them, and leaves no empty row', async () => {
    const db = openDatabase(tempPath());
    const all = spans(600);
    spanInserter(db, { outbox: false })(all);
    // Within an hour after the 30th: that hour keeps some of its spans.
    const later = all.filter((s) => s.startNs >= BASE + 30n * HOUR).sort((a, b) => (a.startNs < b.startNs ? -1 : 1));
    const split = later.findIndex((s, i) => i > 0 && s.startNs / HOUR === later[i - 1]!.startNs / HOUR);
    const cutoff = later[split]!.startNs;
    expect(pruneOlderThan(db, cutoff)).toBe(all.filter((s) => s.startNs < cutoff).length);
    const kept = all.filter((s) => s.startNs >= cutoff);
    for (const q of QUERIES) await expectReportToMatch(db, kept, q, undefined, cutoff);
    // Every row's histogram of durations counts its requests.
    for (const row of db.prepare('SELECT requests, durations FROM usage_hourly').all() as { requests: number; durations: string }[]) {
      expect(row.durations.split(',').reduce((n, pair) => n + Number(pair.split(':')[1]), 0)).toBe(row.requests);
    }
    pruneOlderThan(db, BASE + 100n * HOUR);
    expect(db.prepare('SELECT count(*) FROM usage_hourly').pluck().get()).toBe(0);
    expect(db.prepare('SELECT count(*) FROM span_tags').pluck().get()).toBe(0);
    db.close();
  });

  it('are built, on upgrade, for the spans an older llmtap stored', async () => {
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
         prompt_tokens, completion_tokens, ttft_ms, attributes, events) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, '[]')`,
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
        a['llmtap.time_to_first_token_ms'] ?? null,
        JSON.stringify(a),
      );
    }
    old.close();
    const db = openDatabase(path);
    for (const q of [...QUERIES, ...SCANS]) await expectReportToMatch(db, all, q);
    // And they stay right from there on.
    const more = spans(700).slice(300);
    spanInserter(db, { outbox: false })(more);
    pruneOlderThan(db, BASE + 20n * HOUR);
    for (const q of [...QUERIES, ...SCANS])
      await expectReportToMatch(
        db,
        [...all, ...more].filter((s) => s.startNs >= BASE + 20n * HOUR),
        q,
      );
    db.close();
  });
});
