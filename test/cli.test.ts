// The `llmtap` command as a user meets it: --version, a closed pipe, a database that is not there, files
// that cannot be read or written, a database it may not write.
import { execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

import { describe, expect, it } from 'vitest';

import { openDatabase } from '../src/store/db.js';
import { spanInserter } from '../src/store/spans.js';
import { ROOT } from './support/deploy-files.js';
import { CLI, runCli, tempDbPath } from './support/llmtap.js';
import { sampleSpan } from './support/spans.js';

const { version } = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };

/** A database holding `n` spans. */
function databaseWith(n: number): string {
  const path = tempDbPath();
  const db = openDatabase(path);
  const spans = Array.from({ length: n }, (_, i) => sampleSpan({ spanId: i.toString(16).padStart(16, '0'), attributes: { 'input.value': 'x'.repeat(500) } }));
  spanInserter(db, { outbox: false })(spans);
  db.close();
  return path;
}

describe('llmtap', () => {
  it('--version prints the version of package.json', async () => {
    const r = await runCli({}, ['--version']);
    expect(r.code).toBe(0);
    expect(r.output).toBe(`llmtap ${version}\n`);
  });

  it('export into a pipe closed early (`llmtap export | head -1`) stops quietly with exit 0', async () => {
    const dbPath = databaseWith(2000); // about 2 MB of JSONL: far more than a pipe holds
    const proc = spawn(process.execPath, [CLI, 'export'], { env: { PATH: process.env.PATH, LLMTAP_DB_PATH: dbPath }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    proc.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const [first] = (await once(proc.stdout, 'data')) as [Buffer];
    expect(first.toString()).toMatch(/^\{"name":/);
    proc.stdout.destroy(); // what `head -1` does once it has its line
    const [code] = (await once(proc, 'exit')) as [number | null];
    expect(stderr).toBe('');
    expect(code).toBe(0);
  });

  it('commands that read a database refuse a missing one with the same message, and create nothing', async () => {
    const dbPath = join(dirname(tempDbPath()), 'not-here', 'llmtap.db');
    const message = `no database at ${dbPath} (LLMTAP_DB_PATH): the server creates it when it starts; set LLMTAP_DB_PATH to the file it uses`;
    for (const command of [['export'], ['outbox'], ['outbox', 'retry']]) {
      const r = await runCli({ LLMTAP_DB_PATH: dbPath }, command);
      expect(r.code, command.join(' ')).toBe(1);
      expect(r.output).toBe(`llmtap ${command[0]}: ${message}\n`);
    }
    expect(existsSync(dirname(dbPath))).toBe(false);
    // A relative path is shown resolved, with the value it was given.
    const relative = await runCli({ LLMTAP_DB_PATH: 'no/such.db' }, ['export']);
    expect(relative.output).toContain(`no database at ${join(process.cwd(), 'no/such.db')} (LLMTAP_DB_PATH=no/such.db)`);
  });

  it('file errors name the file and the reason, and leave no database behind', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'llmtap-cli-'));
    const dbPath = join(dir, 'llmtap.db');
    const missing = await runCli({ LLMTAP_DB_PATH: dbPath }, ['import', join(dir, 'spans.jsonl')]);
    expect(missing.code).toBe(1);
    expect(missing.output).toBe(`llmtap import: cannot read ${join(dir, 'spans.jsonl')}: no such file or directory (ENOENT)\n`);
    const directory = await runCli({ LLMTAP_DB_PATH: dbPath }, ['import', dir]);
    expect(directory.output).toContain(`llmtap import: cannot read ${dir}: illegal operation on a directory (EISDIR)`);
    expect(existsSync(dbPath)).toBe(false);

    const out = join(dir, 'no-such-dir', 'spans.jsonl');
    const unwritable = await runCli({ LLMTAP_DB_PATH: databaseWith(1) }, ['export', '--out', out]);
    expect(unwritable.code).toBe(1);
    expect(unwritable.output).toBe(`llmtap export: cannot write ${out}: no such file or directory (ENOENT)\n`);
  });

  it('a database file llmtap may not write stops the server at start with the path, the variable and the reason', async () => {
    const dbPath = databaseWith(1);
    chmodSync(dbPath, 0o444);
    chmodSync(dirname(dbPath), 0o755);
    // Root writes any file: run as nobody to meet the refusal a user would, from hard links of the built
    // command in a directory nobody may read (the checkout may be private, as `mktemp -d` makes it).
    const root = process.getuid?.() === 0;
    const copy = root ? mkdtempSync(join(tmpdir(), 'llmtap-nobody-')) : undefined;
    if (copy) {
      chmodSync(copy, 0o755);
      for (const entry of ['dist', 'node_modules', 'package.json']) {
        try {
          execFileSync('cp', ['-al', join(ROOT, entry), copy], { stdio: 'ignore' });
        } catch {
          execFileSync('cp', ['-a', join(ROOT, entry), copy]); // another file system: no hard links across it
        }
      }
    }
    const asUser = root ? { uid: 65534, gid: 65534 } : {};
    const proc = spawn(process.execPath, [copy ? join(copy, 'dist', 'cli.js') : CLI], {
      env: { PATH: process.env.PATH, LLMTAP_DB_PATH: dbPath, LLMTAP_PORT: '0' },
      stdio: ['ignore', 'pipe', 'pipe'],
      ...asUser,
    });
    let output = '';
    proc.stdout.on('data', (d: Buffer) => (output += d.toString()));
    proc.stderr.on('data', (d: Buffer) => (output += d.toString()));
    const [code] = (await once(proc, 'exit')) as [number | null];
    if (copy) rmSync(copy, { recursive: true, force: true });
    expect(code).toBe(1);
    expect(output).toBe(`llmtap: cannot open the database at ${dbPath} (LLMTAP_DB_PATH): the file is not writable: permission denied (EACCES)\n`);
  });
});
