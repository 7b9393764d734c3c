// scripts/build.mjs --if-changed (`npm start`, `npm test`): builds when anything under src/ changed since
// the last build, and only then — judged by content, not by mtimes. Run on a scratch project of two
// small sources, with this checkout's node_modules, so each build takes a second.
import { execFile } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

import { describe, expect, it } from 'vitest';

import { ROOT } from './support/deploy-files.js';

async function build(dir: string): Promise<{ built: boolean }> {
  const { stderr } = await promisify(execFile)(process.execPath, ['scripts/build.mjs', '--if-changed'], { cwd: dir, timeout: 60_000 });
  return { built: stderr.includes('building dist/') };
}

describe('npm start builds only when the sources changed', () => {
  it('builds a fresh checkout, not again when nothing changed, and again after any change to src/', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'llmtap-build-'));
    for (const file of ['scripts/build.mjs', 'package.json', 'tsconfig.build.json']) cpSync(join(ROOT, file), join(dir, file));
    // The project's settings without its type packages: the same build, in a fraction of the time.
    const tsconfig = JSON.parse(readFileSync(join(ROOT, 'tsconfig.json'), 'utf8')) as { compilerOptions: Record<string, unknown> };
    writeFileSync(
      join(dir, 'tsconfig.json'),
      JSON.stringify({ compilerOptions: { ...tsconfig.compilerOptions, types: [], lib: ['ES2023'] }, include: ['src'] }),
    );
    symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'));
    mkdirSync(join(dir, 'src', 'ui', 'public'), { recursive: true });
    writeFileSync(join(dir, 'src', 'ui', 'public', 'index.html'), '<!doctype html>');
    writeFileSync(join(dir, 'src', 'ui', 'vendor.ts'), 'export const VENDOR: Record<string, string> = {};\n'); // the viewer's files from npm: none here
    writeFileSync(join(dir, 'src', 'cli.ts'), 'export const answer: number = 42;\n');
    writeFileSync(join(dir, 'src', 'extra.ts'), 'export const extra = 1;\n');

    expect(await build(dir)).toEqual({ built: true });
    expect(readFileSync(join(dir, 'dist', 'cli.js'), 'utf8')).toContain('answer = 42');
    expect(existsSync(join(dir, 'dist', 'ui', 'public', 'index.html'))).toBe(true);
    expect(await build(dir)).toEqual({ built: false });

    // A change that keeps the file's size and mtime (as a checkout or a copy with -p may) is seen.
    const cli = join(dir, 'src', 'cli.ts');
    const { atime, mtime } = statSync(cli);
    writeFileSync(cli, 'export const answer: number = 43;\n');
    utimesSync(cli, atime, mtime);
    expect(await build(dir)).toEqual({ built: true });
    expect(readFileSync(join(dir, 'dist', 'cli.js'), 'utf8')).toContain('answer = 43');
    expect(await build(dir)).toEqual({ built: false });

    // A deleted source: rebuilt, and its output gone with it.
    rmSync(join(dir, 'src', 'extra.ts'));
    expect(await build(dir)).toEqual({ built: true });
    expect(existsSync(join(dir, 'dist', 'extra.js'))).toBe(false);
  }, 120_000); // three builds: seconds each, more on a loaded machine
});
