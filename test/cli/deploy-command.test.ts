/**
 * `lookout deploy`, `lookout rollback` and `lookout token` against a real coordinator with auth on:
 * an invalid project deploys nothing, the plan (added, changed by property, removed), the dry run, the
 * confirmation, the delete guard, rollback and history, and tokens made, listed and revoked in Redis.
 * Commands run in-process with captured output (the child-process path is covered by
 * test-command.test.ts and one `lookout token` run here).
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deployCommand } from '../../cli/deploy.ts';
import { tokenCommand } from '../../cli/token.ts';
import { startCoordinator, type RunningCoordinator } from '../../coordinator/coordinator.ts';
import { runLookout } from '../support/cli.ts';
import { startRedis, uniquePrefix, type TestRedis } from '../support/redis.ts';
import { memoryLogger, testConfig } from '../coordinator/support.ts';

let server: TestRedis;
let coordinator: RunningCoordinator;
let prefix: string;
let dir: string;
let token = '';

function stream(): { stream: PassThrough; text: () => string } {
  const s = new PassThrough();
  let text = '';
  s.on('data', (chunk: Buffer) => { text += chunk.toString(); });
  return { stream: s, text: () => text };
}

async function run(command: typeof deployCommand | typeof tokenCommand, argv: string[], env: Record<string, string> = {}) {
  const out = stream();
  const err = stream();
  const code = command === deployCommand
    ? await deployCommand(argv, env, out.stream, err.stream, new PassThrough())
    : await (command as typeof tokenCommand)(argv, env, out.stream, err.stream);
  return { code, out: out.text(), err: err.text() };
}

const sdk = `import { defineHttpCheck, defineConfig, assert } from 'lookout/checks';`;
const check = (id: string, extra = ''): string => `defineHttpCheck({ id: '${id}', name: '${id}', url: 'http://127.0.0.1:9/${id}'${extra} })`;
function project(name: string, checks: string[], configExtra = ''): string {
  const root = join(dir, name);
  mkdirSync(root, { recursive: true });
  writeFileSync(join(root, 'lookout.config.ts'), `${sdk}\nexport default defineConfig({ defaults: { regions: ['us-east', 'eu-west'] }, deploy: { coordinator: '${coordinator.url}'${configExtra} } });`);
  writeFileSync(join(root, 'all.check.ts'), `${sdk}\nexport default [${checks.join(',\n')}];`);
  return root;
}
const deployedIds = async () => (await coordinator.registry.listChecks()).map((c) => c.definition.id);

beforeAll(async () => {
  server = await startRedis();
  prefix = uniquePrefix('cli-deploy');
  coordinator = await startCoordinator(testConfig(server.url, prefix, { auth: true }), { logger: memoryLogger().logger, deliver: async () => {} });
  dir = mkdtempSync(join(tmpdir(), 'lookout-deploy-cmd-'));
});
afterAll(async () => {
  await coordinator?.stop();
  await server?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('lookout token', () => {
  it('creates a token (printed alone on stdout, once), lists it, and refuses bad requests', async () => {
    const created = await runLookout(['token', 'create', '--name', 'ci', '--scope', 'deploy', '--redis', server.url, '--prefix', prefix], { cwd: dir });
    expect(created.code, created.stderr).toBe(0);
    expect(created.stdout).toMatch(/^lk_[a-f0-9]{12}_[A-Za-z0-9_-]{43}\n$/);
    expect(created.stderr).toMatch(/Created token "ci" \(id [a-f0-9]{12}\) with scope deploy/);
    token = created.stdout.trim();
    const listed = await run(tokenCommand, ['list', '--redis', server.url, '--prefix', prefix]);
    expect(listed.out).toMatch(new RegExp(`^${token.split('_')[1]}  ci +deploy +created \\S+  active$`, 'm'));
    expect(listed.out).not.toContain(token);
    expect(await run(tokenCommand, ['create', '--name', 'x', '--redis', server.url])).toMatchObject({ code: 2, err: expect.stringContaining('create needs --scope') });
    expect(await run(tokenCommand, ['create', '--name', 'x', '--scope', 'root', '--redis', server.url, '--prefix', prefix]))
      .toMatchObject({ code: 2, err: expect.stringContaining('INVALID_TOKEN_REQUEST') });
    expect(await run(tokenCommand, ['revoke', 'ffffffffffff', '--redis', server.url, '--prefix', prefix])).toMatchObject({ code: 1, err: expect.stringContaining('no token with id') });
  }, 20_000);
});

describe('lookout deploy', () => {
  it('lists every problem of an invalid project and deploys nothing', async () => {
    const root = project('invalid', [check('ok'), check('Bad Id'), check('slow', ", frequency: '5s', timeout: '9s'")]);
    writeFileSync(join(root, 'broken.check.ts'), `${sdk}\nexport default defineHttpCheck({ id: 'x' ;`);
    const result = await run(deployCommand, [root], { LOOKOUT_TOKEN: token });
    expect(result.code).toBe(1);
    expect(result.err).toMatch(/problem\(s\) in 2 file\(s\); nothing deployed/);
    expect(result.err).toMatch(/all\.check\.ts \[Bad Id\] id: /);
    expect(result.err).toMatch(/all\.check\.ts \[slow\] timeout: timeout must not exceed frequency/);
    expect(result.err).toMatch(/broken\.check\.ts:2:\d+ /);
    expect(await deployedIds()).toEqual([]);
    expect(await coordinator.registry.history()).toEqual([]);
  });

  it('shows the plan; applies it only with --yes when not on a terminal; --dry-run applies nothing', async () => {
    const root = project('v1', [check('a'), check('b'), check('c'), check('d')]);
    const dry = await run(deployCommand, [root, '--dry-run'], { LOOKOUT_TOKEN: token });
    expect(dry.code, dry.err).toBe(0);
    expect(dry.out).toMatch(new RegExp(`^4 check\\(s\\) in 1 file\\(s\\) \\(config \\S*/v1/lookout\\.config\\.ts\\); plan against ${coordinator.url}:$`, 'm'));
    expect(dry.out).toMatch(/^ {2}\+ a {2}\(http, every 1m, us-east, eu-west\)$/m);
    expect(dry.out).toContain('Plan: 4 to add, 0 to change, 0 to remove (0 unchanged).\nDry run: nothing applied.');
    const unconfirmed = await run(deployCommand, [root], { LOOKOUT_TOKEN: token });
    expect(unconfirmed.code).toBe(1);
    expect(unconfirmed.err).toContain('standard input is not a terminal; pass --yes');
    expect(await deployedIds()).toEqual([]);

    const applied = await run(deployCommand, [root, '--yes'], { LOOKOUT_TOKEN: token });
    expect(applied.code, applied.err).toBe(0);
    expect(applied.out).toMatch(/Applied dep-1: 4 added, 0 changed, 0 removed, 0 unchanged\./);
    expect(await deployedIds()).toEqual(['a', 'b', 'c', 'd']);
  });

  it('prints changes property by property, and the deployed files are the desired state', async () => {
    const root = project('v2', [check('a', ", frequency: '30s', headers: { accept: 'application/json' }"), check('b'), check('c'), check('e')]);
    const result = await run(deployCommand, [root, '--yes'], { LOOKOUT_TOKEN: token });
    expect(result.code, result.err).toBe(0);
    expect(result.out).toContain([
      '  + e  (http, every 1m, us-east, eu-west)',
      '  ~ a',
      '      frequency: 1m → 30s',
      '      headers.accept: "application/json" (added)',
      '  - d',
      'Plan: 1 to add, 1 to change, 1 to remove (2 unchanged).',
    ].join('\n'));
    expect(await deployedIds()).toEqual(['a', 'b', 'c', 'e']);
    // --no-prune adds and changes only.
    const additive = await run(deployCommand, [project('only-f', [check('f')]), '--yes', '--no-prune'], { LOOKOUT_TOKEN: token });
    expect(additive.out).toContain('Plan: 1 to add, 0 to change, 0 to remove (0 unchanged).');
    expect(await deployedIds()).toEqual(['a', 'b', 'c', 'e', 'f']);
  });

  it('refuses to remove most checks without --force, with the share from the flag or the config', async () => {
    const few = project('few', [check('a', ", frequency: '30s', headers: { accept: 'application/json' }"), check('b')]);
    const refused = await run(deployCommand, [few, '--yes'], { LOOKOUT_TOKEN: token });
    expect(refused.code).toBe(1);
    expect(refused.err).toMatch(/refused: the deployment would remove 3 of 5 deployed check\(s\) \(60%, more than the 50% allowed\): c, e, f/);
    expect(await deployedIds()).toEqual(['a', 'b', 'c', 'e', 'f']);
    const looser = await run(deployCommand, [few, '--dry-run', '--max-delete', '60'], { LOOKOUT_TOKEN: token });
    expect(looser.code).toBe(0);
    const strictConfig = project('strict', [check('a', ", frequency: '30s', headers: { accept: 'application/json' }"), check('b'), check('c'), check('e')], ', maxDeletePercent: 10');
    expect((await run(deployCommand, [strictConfig, '--yes'], { LOOKOUT_TOKEN: token })).err).toMatch(/remove 1 of 5 deployed check\(s\) \(20%, more than the 10% allowed\)/);
    const forced = await run(deployCommand, [few, '--yes', '--force'], { LOOKOUT_TOKEN: token });
    expect(forced.code, forced.err).toBe(0);
    expect(await deployedIds()).toEqual(['a', 'b']);
  });

  it('rolls back the last deployment after showing what changes, and lists the history', async () => {
    const shown = await run(deployCommand, ['--rollback', '--dry-run', '--coordinator', coordinator.url], { LOOKOUT_TOKEN: token });
    expect(shown.code, shown.err).toBe(0);
    expect(shown.out).toMatch(/^Rolling back dep-\d+ on /m);
    expect(shown.out).toContain('Plan: 3 to add, 0 to change, 0 to remove (2 unchanged).');
    const rolled = await run(deployCommand, ['--rollback', '--yes', '--coordinator', coordinator.url], { LOOKOUT_TOKEN: token });
    expect(rolled.code, rolled.err).toBe(0);
    expect(rolled.out).toMatch(/Rolled back dep-\d+ as dep-\d+\./);
    expect(await deployedIds()).toEqual(['a', 'b', 'c', 'e', 'f']);
    const history = await run(deployCommand, ['--history', '--coordinator', coordinator.url], { LOOKOUT_TOKEN: token });
    const lines = history.out.trim().split('\n');
    expect(lines[0]).toMatch(/^dep-\d+ +\S+ {2}rollback +\+3 ~0 -0 +by ci \([a-f0-9]{12}\) \(rollback of dep-\d+\)$/);
    expect(lines[1]).toMatch(/^dep-\d+ +\S+ {2}deploy +\+0 ~0 -3 +by ci .*\(rolled back\)$/);
    expect(lines).toHaveLength(5);
  });

  it('needs a valid token with the deploy scope', async () => {
    const root = project('auth', [check('a')]);
    const missing = await run(deployCommand, [root, '--dry-run']);
    expect(missing).toMatchObject({ code: 1, err: expect.stringContaining('TOKEN_REQUIRED') });
    expect(missing.err).toContain('pass --token or set LOOKOUT_TOKEN');
    const id = token.split('_')[1]!;
    expect((await run(tokenCommand, ['revoke', id, '--redis', server.url, '--prefix', prefix])).out).toBe(`Revoked token ${id}.\n`);
    expect(await run(deployCommand, [root, '--dry-run', '--token', token])).toMatchObject({ code: 1, err: expect.stringContaining('TOKEN_REVOKED') });
  });
});
