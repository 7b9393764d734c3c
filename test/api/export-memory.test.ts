// The export streams: ~100 MB of span data exports under a 32 MB V8 heap (holding it all would run
// out of memory), and the process's peak RSS stays near Node's own baseline (~90 MB with SQLite
// loaded), whatever it wrote. bench/read-side.mjs measures 1,000,000 spans by hand; this is the quick
// version for every run.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';

import { describe, expect, it } from 'vitest';

import { openDatabase } from '../../src/store/db.js';
import { spanInserter } from '../../src/store/spans.js';
import { CLI, tempDbPath } from '../support/llmtap.js';
import { sampleSpan } from '../support/spans.js';

const SPANS = 4000;
const PAYLOAD = 24 * 1024; // per span: ~96 MB of JSONL in all

describe('export memory', () => {
  it(`exports ${SPANS} spans of ${PAYLOAD / 1024} KiB under a 32 MB V8 heap with a peak RSS below 150 MB`, async () => {
    const dbPath = tempDbPath();
    const db = openDatabase(dbPath);
    const insert = spanInserter(db, { outbox: false });
    const filler = 'lorem ipsum '.repeat(PAYLOAD / 12);
    for (let i = 0; i < SPANS; i += 500) {
      insert(
        Array.from({ length: 500 }, (_, j) =>
          sampleSpan({
            spanId: (i + j + 1).toString(16).padStart(16, '0'),
            startNs: 1_700_000_000_000_000_000n + BigInt(i + j) * 1_000_000n,
            attributes: { 'input.value': `${i + j} ${filler}` },
          }),
        ),
      );
    }
    db.close();

    const out = join(dirname(dbPath), 'out.jsonl');
    const proc = spawn(process.execPath, ['--max-old-space-size=32', CLI, 'export', '--out', out], {
      env: { PATH: process.env.PATH, LLMTAP_DB_PATH: dbPath },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    proc.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    let peak = 0;
    const timer = setInterval(() => {
      try {
        peak = Math.max(peak, Number(/VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${proc.pid}/status`, 'utf8'))![1]) * 1024);
      } catch {
        // exited between two looks
      }
    }, 20);
    const [code] = (await once(proc, 'exit')) as [number | null];
    clearInterval(timer);
    expect(code, stderr).toBe(0);
    const size = statSync(out).size;
    expect(size).toBeGreaterThan(SPANS * PAYLOAD);
    expect(readFileSync(out, 'utf8').split('\n')).toHaveLength(SPANS + 1);
    expect(peak).toBeGreaterThan(0);
    expect(peak, `peak RSS ${(peak / 1e6).toFixed(0)} MB for ${(size / 1e6).toFixed(0)} MB written`).toBeLessThan(150e6);
  }, 180_000); // memory is what is measured; writing ~100 MB takes minutes on a loaded machine
});
