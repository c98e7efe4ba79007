/**
 * `lookout token create|list|revoke`: API tokens, managed directly in Redis (you need a token to call
 * the API, so the first one cannot come from it). Only a SHA-256 of each token is stored; the token is
 * printed once, alone on standard output, so that scripts can capture it.
 */
import { Redis } from 'ioredis';
import { CodedError } from '../lib/errors.ts';
import { TOKEN_SCOPES, TokenStore } from '../coordinator/http/tokens.ts';
import { list, nonEmpty, optionsHelp, parseOptions, value, type OptionTable } from '../lib/options.ts';
import { redisOptionProblems, redisOptions, redisTargetOf } from '../lib/redis-options.ts';
import { describeTarget, targetOptions, type RedisTarget } from '../lib/redis.ts';

/** `lookout token`'s options. */
export const TOKEN_OPTIONS = {
  ...redisOptions,
  name: value({ flag: '--name', help: 'create: what the token is for, e.g. ci or grafana', optional: true, parse: nonEmpty('a name'), placeholder: '<name>' }),
  scopes: list({ flag: '--scope', help: `create: ${TOKEN_SCOPES.join(', ')}`, parse: nonEmpty('a scope'), placeholder: '<scope>' }),
} satisfies OptionTable;

export const tokenHelp = [
  'Usage: lookout token create --name <name> --scope <scope> [--scope …] [options]',
  '       lookout token list [options]',
  '       lookout token revoke <id> [options]',
  '',
  "Manages the coordinator's API tokens, directly in Redis. Scopes: read (GET routes), deploy (also",
  'deployments, rollbacks, check deletion), admin (everything). A token is shown once, when created:',
  'it is printed alone on standard output; Redis keeps only its SHA-256.',
  '',
  'Examples:',
  '  TOKEN=$(lookout token create --name ci --scope deploy --redis redis://10.0.0.5:6379)',
  '  lookout deploy checks/ --token "$TOKEN" --yes',
  '',
  'Options:',
  ...optionsHelp(TOKEN_OPTIONS, 22),
  '',
].join('\n');

export async function tokenCommand(argv: string[], env: NodeJS.ProcessEnv, out: NodeJS.WritableStream = process.stdout, err: NodeJS.WritableStream = process.stderr): Promise<number> {
  const parsed = parseOptions(TOKEN_OPTIONS, argv, env, { positionals: true });
  const usage = (message: string): number => { err.write(`lookout token: ${message}\n\n${tokenHelp}`); return 2; };
  if ('help' in parsed) { out.write(tokenHelp); return 0; }
  if ('errors' in parsed) return usage(parsed.errors.join('\nlookout token: '));
  const v = parsed.values;
  const [action, ...rest] = parsed.positionals;
  const { prefix, scopes } = v;
  const problems = redisOptionProblems(v);
  if (problems.length > 0) return usage(problems.join('\nlookout token: '));
  switch (action) {
    case 'create':
      if (rest.length > 0) return usage(`create takes no arguments, got ${rest.join(' ')}`);
      if (v.name === undefined) return usage('create needs --name');
      if (scopes.length === 0) return usage(`create needs --scope (${TOKEN_SCOPES.join(', ')})`);
      break;
    case 'list':
      if (rest.length > 0) return usage(`list takes no arguments, got ${rest.join(' ')}`);
      break;
    case 'revoke':
      if (rest.length !== 1) return usage('revoke takes exactly one token id (see lookout token list)');
      break;
    default:
      return usage(action === undefined ? 'expected create, list or revoke' : `unknown action "${action}"; expected create, list or revoke`);
  }

  let target: RedisTarget;
  try {
    target = redisTargetOf(v);
  } catch (error) {
    err.write(`lookout token: ${(error as Error).message}\n`);
    return 2;
  }
  const redis = new Redis({ ...targetOptions(target), lazyConnect: true, maxRetriesPerRequest: 1, connectTimeout: 5_000, retryStrategy: () => null });
  let lastError: Error | undefined;
  redis.on('error', (error: Error) => { lastError = error; });
  try {
    try {
      await redis.connect();
    } catch (error) {
      err.write(`lookout token: cannot connect to Redis at ${describeTarget(target)}: ${(lastError ?? error as Error).message}\n`);
      return 1;
    }
    const store = new TokenStore({ redis, prefix });
    if (action === 'create') {
      const { token, info } = await store.create({ name: String(v.name), scopes });
      err.write(`Created token "${info.name}" (id ${info.id}) with scope ${info.scopes.join(', ')}. It is shown only now: store it safely.\n`);
      out.write(`${token}\n`);
    } else if (action === 'list') {
      const tokens = await store.list();
      if (tokens.length === 0) out.write('No tokens. Create one with: lookout token create --name <name> --scope <scope>\n');
      for (const t of tokens) {
        const state = t.revokedAt === null ? 'active' : `revoked ${new Date(t.revokedAt).toISOString()}`;
        out.write(`${t.id}  ${t.name.padEnd(20)} ${t.scopes.join(',').padEnd(18)} created ${new Date(t.createdAt).toISOString()}  ${state}\n`);
      }
    } else {
      const outcome = await store.revoke(rest[0]!);
      if (outcome === 'unknown') { err.write(`lookout token: no token with id "${rest[0]}" (see lookout token list)\n`); return 1; }
      out.write(outcome === 'revoked' ? `Revoked token ${rest[0]}.\n` : `Token ${rest[0]} was already revoked.\n`);
    }
    return 0;
  } catch (error) {
    if (error instanceof CodedError) { err.write(`lookout token: ${error.code}: ${error.message}\n`); return 2; }
    err.write(`lookout token: ${(error as Error).message}\n`);
    return 1;
  } finally {
    redis.disconnect();
  }
}
