// Builds dist/ from src/: TypeScript compiled, the viewer's static files copied (with its files from npm). With --if-changed
// (`npm start`, `npm test`) it builds only when the sources differ from those of the last build: a hash
// of every file under src/ (names and contents) and of the build's configuration, kept in dist/, so no
// change (an edit, a new, deleted or renamed file, a checkout of older files) goes unnoticed, whatever the mtimes.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const stamp = join(root, 'dist', '.sources-hash');

function sourcesHash() {
  const hash = createHash('sha256');
  const add = (path) =>
    hash
      .update(`${path}\0`)
      .update(readFileSync(join(root, path)))
      .update('\0');
  const walk = (dir) => {
    const entries = readdirSync(join(root, dir), { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1));
    for (const entry of entries) (entry.isDirectory() ? walk : add)(join(dir, entry.name));
  };
  walk('src');
  for (const file of ['tsconfig.json', 'tsconfig.build.json', 'package.json']) add(file);
  return hash.digest('hex');
}

const hash = sourcesHash();
const built = existsSync(join(root, 'dist', 'cli.js')) && existsSync(stamp) && readFileSync(stamp, 'utf8') === hash;
if (built && process.argv.includes('--if-changed')) process.exit(0);

process.stderr.write('llmtap: building dist/ from src/ (a few seconds; only when the sources changed)\n');
rmSync(join(root, 'dist'), { recursive: true, force: true }); // nothing left of a source since deleted
const require = createRequire(import.meta.url);
const tsc = require.resolve('typescript/bin/tsc');
const { status } = spawnSync(process.execPath, [tsc, '-p', 'tsconfig.build.json'], { cwd: root, stdio: 'inherit' });
if (status !== 0) process.exit(status ?? 1);
cpSync(join(root, 'src', 'ui', 'public'), join(root, 'dist', 'ui', 'public'), { recursive: true });
// The viewer's files from npm (src/ui/vendor.ts), bundled beside its own: nothing loaded from elsewhere at run time.
const { VENDOR } = await import(join(root, 'dist', 'ui', 'vendor.js'));
mkdirSync(join(root, 'dist', 'ui', 'public', 'vendor'));
for (const [name, from] of Object.entries(VENDOR)) cpSync(require.resolve(from), join(root, 'dist', 'ui', 'public', 'vendor', name));
writeFileSync(stamp, hash);
