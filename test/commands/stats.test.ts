// `llmtap stats`: the spend of the stored calls as a terminal table, or as /api/stats's JSON.
import { describe, expect, it } from 'vitest';

import type { Span } from '../../src/record/span.js';
import { openDatabase } from '../../src/store/db.js';
import { spanInserter } from '../../src/store/spans.js';
import { runCli, tempDbPath } from '../support/llmtap.js';
import { sampleSpan } from '../support/spans.js';

const HOUR = 3_600_000_000_000n;
const now = BigInt(Date.now()) * 1_000_000n;

const call = (i: number, user: string | undefined, model: string, hoursAgo: number, cost?: number): Span =>
  sampleSpan({
    spanId: (i + 1).toString(16).padStart(16, '0'),
    startNs: now - BigInt(hoursAgo) * HOUR,
    statusCode: i === 2 ? 'ERROR' : 'OK',
    attributes: {
      'llm.model_name': model,
      ...(user && { 'user.id': user }),
      'llm.token_count.prompt': 1000,
      'llm.token_count.completion': 200,
      'llm.token_count.prompt_details.cache_read': 100,
      ...(cost !== undefined && { 'llm.cost.total': cost }),
    },
    events: [],
  });

function database(): string {
  const path = tempDbPath();
  const db = openDatabase(path);
  spanInserter(db, { outbox: false })([
    call(0, 'alice', 'gpt-4o', 1, 1.25),
    call(1, 'alice', 'gpt-4o-mini', 2, 0.0042),
    call(2, 'bob', 'gpt-4o', 3, 2),
    call(3, undefined, 'my-llama', 4),
    call(4, 'carol', 'gpt-4o', 24 * 10, 100), // ten days ago
  ]);
  db.close();
  return path;
}

describe('llmtap stats', () => {
  it('prints a table by user, the costliest first, over the last 24 hours by default', async () => {
    const { code, output } = await runCli({ LLMTAP_DB_PATH: database() }, ['stats', '--by', 'user']);
    expect(code).toBe(0);
    const lines = output.trim().split('\n');
    expect(lines[0]).toMatch(/^llmtap stats: \S+Z to \S+Z$/);
    expect(lines[1]!.split(/\s+/)).toEqual(['user', 'requests', 'errors', 'prompt', 'completion', 'cached', 'reasoning', 'cost']);
    expect(lines.slice(2).map((l) => l.split(/\s+/))).toEqual([
      ['bob', '1', '1', '1,000', '200', '100', '0', '$2.00'],
      ['alice', '2', '0', '2,000', '400', '200', '0', '$1.25'],
      ['(none)', '1', '0', '1,000', '200', '100', '0', '$0.00'],
      ['total', '4', '1', '4,000', '800', '400', '0', '$3.25'],
    ]);
  });

  it('--json is the answer of /api/stats; --since takes a duration; --by takes a dimension and a bucket', async () => {
    const path = database();
    const { code, output } = await runCli({ LLMTAP_DB_PATH: path }, ['stats', '--since', '30d', '--by', 'model', '--by', 'day', '--json']);
    expect(code).toBe(0);
    const report = JSON.parse(output) as {
      by: string;
      bucket: string;
      groups: { model: string; cost_usd: number; bucket: string }[];
      total: { requests: number; cost_usd: number };
    };
    expect(report.by).toBe('model');
    expect(report.bucket).toBe('day');
    expect(report.total.requests).toBe(5);
    expect(report.total.cost_usd).toBeCloseTo(103.2542, 10);
    expect(report.groups.find((g) => g.model === 'my-llama')!.cost_usd).toBe(0);
    expect(report.groups.every((g) => g.bucket.endsWith('T00:00:00.000Z'))).toBe(true);
  });

  it('a bad option is a usage error', async () => {
    const path = database();
    for (const args of [
      ['--by', 'color'],
      ['--since', 'last tuesday'],
    ]) {
      const { code, output } = await runCli({ LLMTAP_DB_PATH: path }, ['stats', ...args]);
      expect(code).toBe(2);
      expect(output).toMatch(/llmtap stats: .*(--by must be one of|--since must be an ISO-8601 time)/);
    }
  });
});
