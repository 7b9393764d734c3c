// The README's quick start on a machine that has Node and the clone, nothing else: a scratch copy of this
// checkout as a clone has it (no node_modules, no dist), PATH holding only node and npm (no system
// Chromium, compiler or git), then `npm ci`, `npm start` answering /healthz, a second start that does not
// rebuild, and the tests' Chromium coming from what `npm ci` installed.
//
// `npm ci` runs for real (about 15 s from npm's cache, which the checkout's own `npm ci` filled): the point
// is that the lockfile alone brings everything, Chromium included. It runs with --ignore-scripts, and
// better-sqlite3's addon is copied from this checkout: its install script would download a prebuilt
// binary from GitHub or compile one for a minute, neither of which says anything about the quick start.
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { cpSync, existsSync, mkdirSync, mkdtempSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, relative, sep } from 'node:path';
import { promisify } from 'node:util';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { ROOT } from './support/deploy-files.js';
import { eventually } from './support/eventually.js';
import { rawRequest } from './support/http.js';

/** What a clone does not have. */
const NOT_IN_A_CLONE = new Set(['.git', 'node_modules', 'dist', 'data', 'coverage']);
const ADDON = join('build', 'Release', 'better_sqlite3.node');

let scratch: string;
let env: NodeJS.ProcessEnv;
const running: ChildProcess[] = [];

/** npm itself: the npm beside this node, else the one running the tests. */
function npmCli(): string {
  const beside = join(dirname(process.execPath), 'npm');
  return existsSync(beside) ? realpathSync(beside) : process.env.npm_execpath!;
}

beforeAll(async () => {
  scratch = mkdtempSync(join(tmpdir(), 'llmtap-quick-start-'));
  const clone = join(scratch, 'llmtap');
  cpSync(ROOT, clone, { recursive: true, filter: (from) => !NOT_IN_A_CLONE.has(relative(ROOT, from).split(sep)[0]!) });
  const bin = join(scratch, 'bin');
  mkdirSync(bin);
  symlinkSync(process.execPath, join(bin, 'node'));
  symlinkSync(npmCli(), join(bin, 'npm'));
  mkdirSync(join(scratch, 'tmp'));
  env = {
    PATH: bin,
    HOME: process.env.HOME,
    TMPDIR: join(scratch, 'tmp'), // a Chromium extracted by an earlier run is not there
    LLMTAP_PORT: '0',
    // npm runs scripts with `sh` from PATH; the system's own shell, by its absolute path, keeps PATH to node.
    npm_config_script_shell: '/bin/sh',
    npm_config_update_notifier: 'false',
  };
  await promisify(execFile)(join(bin, 'npm'), ['ci', '--ignore-scripts', '--prefer-offline', '--no-audit', '--no-fund'], { cwd: clone, env, timeout: 180_000 });
  const betterSqlite = dirname(createRequire(import.meta.url).resolve('better-sqlite3/package.json'));
  cpSync(join(betterSqlite, ADDON), join(clone, 'node_modules', 'better-sqlite3', ADDON));
}, 240_000);

afterAll(async () => {
  for (const proc of running) await stop(proc);
  rmSync(scratch, { recursive: true, force: true });
});

/** `npm start` in the copy, once it listens; its process group, so that stopping it stops llmtap too. */
async function npmStart(): Promise<{ proc: ChildProcess; url: string; output: () => string }> {
  const proc = spawn(join(scratch, 'bin', 'npm'), ['start'], { cwd: join(scratch, 'llmtap'), env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  running.push(proc);
  let out = '';
  proc.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const url = await eventually(() => /"url":"(http:[^"]+)".*"msg":"llmtap listening"/.exec(out)?.[1], 'npm start listening', 120_000);
  return { proc, url, output: () => out };
}

async function stop(proc: ChildProcess): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return;
  const exited = once(proc, 'exit');
  process.kill(-proc.pid!, 'SIGTERM');
  await exited;
}

describe('the quick start, with only Node on the PATH', () => {
  let url: string;

  it('npm start builds, then serves /healthz and the viewer; a second start does not build again', async () => {
    const first = await npmStart();
    expect(first.output()).toContain('building dist/ from src/');
    expect((await rawRequest(`${first.url}/healthz`)).status).toBe(200);
    await stop(first.proc);

    const second = await npmStart();
    expect(second.output()).not.toContain('building dist/');
    expect((await rawRequest(`${second.url}/healthz`)).status).toBe(200);
    expect((await rawRequest(`${second.url}/`)).headers.location).toBe('ui/');
    url = second.url;
  }, 180_000);

  it('the tests’ Chromium is the one npm ci installed (no system Chromium); it shows the viewer', async () => {
    const script = join(scratch, 'llmtap', 'check-chromium.ts');
    writeFileSync(
      script,
      `import { chromium } from 'playwright-core';
import { CHROMIUM_FLAGS, findChromium } from './test/support/chromium.ts';
const found = await findChromium(process.env, []); // no system paths: as on a machine without one
const browser = await chromium.launch({ executablePath: found.executablePath, args: CHROMIUM_FLAGS });
const page = await browser.newPage();
await page.goto(process.argv[2]);
await page.waitForSelector('main[data-loaded="true"]'); // the viewer asked the API (its dashboard of an empty file)
console.log(JSON.stringify({ source: found.source, path: found.executablePath, title: await page.title(), at: page.url() }));
await browser.close();
`,
    );
    const { stdout } = await promisify(execFile)(join(scratch, 'bin', 'node'), ['--import', 'tsx', script, `${url}/`], {
      cwd: join(scratch, 'llmtap'),
      env,
      timeout: 120_000,
    });
    const seen = JSON.parse(stdout) as { source: string; path: string; title: string; at: string };
    expect(seen).toEqual({
      source: '@sparticuz/chromium',
      path: expect.stringContaining(join(scratch, 'tmp', 'llmtap-chromium')) as string,
      title: 'llmtap',
      at: `${url}/ui/`,
    });
  }, 180_000);
});
