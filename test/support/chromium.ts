// A headless Chromium for the viewer's test, with nothing to install beyond `npm ci`: $CHROME_PATH, else a
// system Chromium, else the one the @sparticuz/chromium devDependency ships (brotli-packed in the package,
// extracted once per version under the system's temporary directory; nothing is downloaded).
import { execFile } from 'node:child_process';
import { accessSync, constants, existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';

const SYSTEM_CHROMIUM = ['/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome', '/usr/bin/google-chrome-stable'];

/** Headless, as root, on a machine whose only network is loopback. */
export const CHROMIUM_FLAGS = [
  '--no-sandbox', // as root the sandbox refuses to start
  '--disable-dev-shm-usage',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-sync',
  '--disable-background-networking',
  '--disable-component-update',
];

export interface FoundChromium {
  executablePath: string;
  source: 'CHROME_PATH' | 'system' | '@sparticuz/chromium';
}

const isExecutable = (path: string): boolean => {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
};

/**
 * The Chromium to drive. `system` lists the system paths to try (the quick-start test passes none, to
 * prove the packaged one works on a machine without any).
 */
export async function findChromium(env: NodeJS.ProcessEnv = process.env, system: readonly string[] = SYSTEM_CHROMIUM): Promise<FoundChromium> {
  const fromEnv = env.CHROME_PATH;
  if (fromEnv) {
    if (!isExecutable(fromEnv)) throw new Error(`CHROME_PATH=${fromEnv} is not an executable file`);
    return { executablePath: fromEnv, source: 'CHROME_PATH' };
  }
  const installed = system.find(isExecutable);
  if (installed) return { executablePath: installed, source: 'system' };
  return { executablePath: await packagedChromium(), source: '@sparticuz/chromium' };
}

/**
 * Extracts @sparticuz/chromium's binary once per package version, safely across processes. Its own
 * executablePath() writes `$TMPDIR/chromium` in place and returns early whenever that file exists, so two
 * test processes starting cold race and one launches a half-written file (spawn ETXTBSY). So it runs in a
 * child whose TMPDIR is a private staging directory, which is then renamed into place (atomic; the loser
 * of a race drops its copy).
 */
async function packagedChromium(): Promise<string> {
  const entry = createRequire(import.meta.url).resolve('@sparticuz/chromium');
  const version = packageVersion(entry, '@sparticuz/chromium');
  const root = join(tmpdir(), 'llmtap-chromium');
  const exe = join(root, version, 'chromium');
  if (existsSync(exe)) return exe;

  mkdirSync(root, { recursive: true });
  const staging = mkdtempSync(join(root, `.staging-${version}-`));
  try {
    const script = 'require(process.argv[1]).executablePath().then((path) => process.stdout.write(path))';
    const { stdout } = await promisify(execFile)(process.execPath, ['-e', script, entry], {
      env: { ...process.env, TMPDIR: staging },
      timeout: 120_000,
    });
    if (stdout !== join(staging, 'chromium')) throw new Error(`@sparticuz/chromium extracted to an unexpected place: ${stdout}`);
    try {
      renameSync(staging, join(root, version));
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'ENOTEMPTY' && code !== 'EEXIST') throw err; // else another process won the race
    }
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
  if (!existsSync(exe)) throw new Error(`@sparticuz/chromium: ${exe} missing after extraction`);
  return exe;
}

/** The version of the package a resolved file belongs to (its package.json is not among its exports). */
function packageVersion(file: string, name: string): string {
  for (let dir = dirname(file); dir !== dirname(dir); dir = dirname(dir)) {
    const path = join(dir, 'package.json');
    const pkg = existsSync(path) ? (JSON.parse(readFileSync(path, 'utf8')) as { name?: string; version: string }) : undefined;
    if (pkg?.name === name) return pkg.version;
  }
  throw new Error(`no package.json of ${name} above ${file}`);
}
