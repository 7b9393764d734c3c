// Starts llmtap for a test: in-process (fast, logs captured) or as the real `llmtap` process.
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { afterAll, beforeAll } from 'vitest';

import { loadConfig } from '../../src/config.js';
import { createLogging } from '../../src/log.js';
import { start } from '../../src/main.js';
import { eventually } from './eventually.js';
import { type FakeOpenAI, startFakeOpenAI } from './fake-openai.js';

export const CLI = fileURLToPath(new URL('../../dist/cli.js', import.meta.url));

/** A database path in a fresh temporary directory. */
export const tempDbPath = (): string => join(mkdtempSync(join(tmpdir(), 'llmtap-test-')), 'llmtap.db');

export interface InProcess {
  url: string;
  baseURL: string;
  dbPath: string;
  /** Every log line written, parsed. */
  logs: Record<string, unknown>[];
  shutdown(): Promise<void>;
}

/** The first log line that matches, once written (request lines come from the storage thread). */
export const logLine = (proxy: InProcess, match: (line: Record<string, unknown>) => boolean, what = 'the log line'): Promise<Record<string, unknown>> =>
  eventually(() => proxy.logs.find(match), what);

export async function startLlmtap(env: Record<string, string>): Promise<InProcess> {
  const dbPath = env.LLMTAP_DB_PATH ?? tempDbPath();
  // No background retention: tests import spans of chosen, old times, and its first pass (a second after
  // start) would delete them at a moment that depends on the machine's load. Its rule has tests of its own.
  const config = loadConfig({ LLMTAP_PORT: '0', LLMTAP_DB_PATH: dbPath, LLMTAP_RETENTION_DAYS: '0', ...env });
  const logs: Record<string, unknown>[] = [];
  // A write holds one line, or several: the storage thread's lines of a tick come together.
  const write = (lines: string): void => {
    for (const line of lines.split('\n')) if (line) logs.push(JSON.parse(line) as Record<string, unknown>);
  };
  const logging = createLogging(env.LLMTAP_LOG_LEVEL ?? 'info', { write });
  const running = await start(config, logging);
  return { url: running.url, baseURL: `${running.url}/v1`, dbPath, logs, shutdown: running.shutdown };
}

export interface FakeAndLlmtap {
  fake: FakeOpenAI;
  proxy: InProcess;
}

/**
 * A fake OpenAI and an in-process llmtap in front of it for the tests of one file: started before them,
 * stopped after. `env` is read when they start, so it may use servers an earlier `beforeAll` started.
 */
export function fakeAndLlmtap(env: Record<string, string> | (() => Record<string, string>) = {}): FakeAndLlmtap {
  const running = {} as FakeAndLlmtap;
  beforeAll(async () => {
    running.fake = await startFakeOpenAI();
    running.proxy = await startLlmtap({ LLMTAP_UPSTREAM_URL: running.fake.url, ...(typeof env === 'function' ? env() : env) });
  });
  afterAll(async () => {
    await running.proxy?.shutdown();
    await running.fake?.close();
  });
  return running;
}

export interface Spawned {
  proc: ChildProcess;
  url: string;
  baseURL: string;
  dbPath: string;
  output: () => string;
  exited: Promise<number | null>;
}

/**
 * Runs the built CLI (`npm test` builds first) and waits until it listens. `installDir`: run the copy
 * installed there instead (its dist/cli.js, with that directory as the working directory).
 */
export async function spawnLlmtap(env: Record<string, string>, args: string[] = [], installDir?: string): Promise<Spawned> {
  const dbPath = env.LLMTAP_DB_PATH ?? tempDbPath();
  const proc = spawn(process.execPath, [installDir ? join(installDir, 'dist', 'cli.js') : CLI, ...args], {
    env: { PATH: process.env.PATH, LLMTAP_PORT: '0', LLMTAP_DB_PATH: dbPath, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    cwd: installDir,
  });
  let out = '';
  proc.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = once(proc, 'exit').then(([code]) => code as number | null);
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`llmtap did not start:\n${out}`)), 15_000);
    const check = (): void => {
      const m = /"url":"(http:[^"]+)".*"msg":"llmtap listening"/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    };
    proc.stdout!.on('data', check);
    void exited.then((code) => reject(new Error(`llmtap exited with ${code}:\n${out}`)));
  });
  return { proc, url, baseURL: `${url}/v1`, dbPath, output: () => out, exited };
}

/** Runs the CLI to completion and returns its exit code and output. */
export async function runCli(env: Record<string, string>, args: string[] = []): Promise<{ code: number | null; output: string }> {
  const proc = spawn(process.execPath, [CLI, ...args], {
    env: { PATH: process.env.PATH, LLMTAP_DB_PATH: tempDbPath(), ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  proc.stdout.on('data', (d: Buffer) => (output += d.toString()));
  proc.stderr.on('data', (d: Buffer) => (output += d.toString()));
  const [code] = (await once(proc, 'exit')) as [number | null];
  return { code, output };
}
