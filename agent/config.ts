/**
 * Agent configuration from command-line flags and environment variables. Everything is read once,
 * validated once with zod, and every problem is reported together with the flag it belongs to and
 * where the bad value came from, e.g.
 * `--concurrency: expected a positive integer, got "abc" (from LOOKOUT_CONCURRENCY)`.
 * A flag wins over its environment variable.
 */
import { hostname } from 'node:os';
import { z } from 'zod';
import { DEFAULT_PREFIX, RegionName } from '../checks/contract.ts';
import { parseDuration } from '../checks/duration.ts';

/** What the agent needs to run, after defaults and validation. */
export interface AgentConfig {
  /** Region this agent probes from; it consumes only that region's queue (`checks.<region>`). Required. */
  region: string;
  /** Redis holding the queues and heartbeats. @defaultValue `'redis://127.0.0.1:6379'` */
  redisUrl: string;
  /**
   * BullMQ prefix of every queue and key; must match the coordinator's. Use a `{hash tag}` such as
   * `{lookout}` on Redis Cluster. @defaultValue `'lookout'` ({@link DEFAULT_PREFIX})
   */
  prefix: string;
  /** Runs this agent executes at the same time. @defaultValue 10 */
  concurrency: number;
  /** Identifies this agent in heartbeats and results. @defaultValue `'<hostname>-<region>-<pid>'` */
  agentId: string;
  /** Port of the `/healthz`, `/readyz` and `/metrics` server; 0 picks a free port. @defaultValue 0 */
  healthPort: number;
  /** Address the health server listens on. @defaultValue `'127.0.0.1'` */
  healthHost: string;
  /**
   * On SIGTERM/SIGINT, how long in-flight runs may take to finish before they are cancelled
   * (and reported as `RUN_CANCELLED`). @defaultValue 10000 (`'10s'`)
   */
  shutdownTimeoutMs: number;
  /**
   * Serve browser checks: launch Chromium (through Playwright, loaded only then) for `browser` jobs.
   * Agents of one region share its queue, so enable it on every agent of a region that runs browser
   * checks. @defaultValue false (`off`)
   */
  browserChecks: boolean;
  /** Chromium binary for browser checks. @defaultValue `'/usr/bin/chromium'` */
  chromiumPath: string;
  /** Browser runs at once, apart from `concurrency`. @defaultValue 2 */
  browserConcurrency: number;
  /**
   * File with the secrets that checks reference (`secret('NAME')`, `secrets.NAME`): a JSON object or
   * dotenv lines. `LOOKOUT_SECRET_<NAME>` variables add to it (and win). Read once at start-up.
   * @defaultValue null (secrets from the environment only)
   */
  secretsFile: string | null;
}

type OptionKey = keyof AgentConfig;

interface OptionSpec {
  flag: string;
  /** Environment variables, first set one wins. */
  env: string[];
  /** Shown in `--help`. */
  help: string;
  /** Shown in `--help`; `undefined` for required options and computed defaults. */
  defaultText?: string;
}

const OPTIONS: Record<OptionKey, OptionSpec> = {
  region: { flag: '--region', env: ['LOOKOUT_REGION'], help: 'Region this agent probes from, e.g. us-east' },
  redisUrl: { flag: '--redis', env: ['LOOKOUT_REDIS_URL', 'REDIS_URL'], help: 'Redis URL (redis:// or rediss://)', defaultText: 'redis://127.0.0.1:6379' },
  prefix: { flag: '--prefix', env: ['LOOKOUT_PREFIX'], help: 'BullMQ key prefix shared with the coordinator', defaultText: DEFAULT_PREFIX },
  concurrency: { flag: '--concurrency', env: ['LOOKOUT_CONCURRENCY'], help: 'Runs executed at the same time', defaultText: '10' },
  agentId: { flag: '--agent-id', env: ['LOOKOUT_AGENT_ID'], help: 'Agent id in heartbeats and results', defaultText: '<hostname>-<region>-<pid>' },
  healthPort: { flag: '--health-port', env: ['LOOKOUT_HEALTH_PORT'], help: 'Port of /healthz, /readyz, /metrics (0 = any free port)', defaultText: '0' },
  healthHost: { flag: '--health-host', env: ['LOOKOUT_HEALTH_HOST'], help: 'Address the health server listens on', defaultText: '127.0.0.1' },
  shutdownTimeoutMs: { flag: '--shutdown-timeout', env: ['LOOKOUT_SHUTDOWN_TIMEOUT'], help: 'Time in-flight runs get to finish on shutdown, e.g. 10s', defaultText: '10s' },
  browserChecks: { flag: '--browser-checks', env: ['LOOKOUT_BROWSER_CHECKS'], help: 'Run browser checks in Chromium: on or off', defaultText: 'off' },
  chromiumPath: { flag: '--chromium', env: ['LOOKOUT_CHROMIUM_PATH'], help: 'Chromium binary for browser checks', defaultText: '/usr/bin/chromium' },
  browserConcurrency: { flag: '--browser-concurrency', env: ['LOOKOUT_BROWSER_CONCURRENCY'], help: 'Browser runs at the same time', defaultText: '2' },
  secretsFile: { flag: '--secrets-file', env: ['LOOKOUT_SECRETS_FILE'], help: 'Secrets for checks: JSON or dotenv file (LOOKOUT_SECRET_<NAME> variables add to it)', defaultText: 'none' },
};

const FLAG_TO_KEY = new Map(Object.entries(OPTIONS).map(([key, spec]) => [spec.flag, key as OptionKey]));

const integerText = (what: string, min: number, max: number) =>
  z.string()
    .regex(/^\d+$/, `expected ${what}`)
    .transform(Number)
    .pipe(z.number().int().min(min, `expected ${what}`).max(max, `expected ${what} of at most ${max}`));

const durationText = z.string().transform((text, ctx) => {
  const parsed = parseDuration(text);
  if ('error' in parsed) {
    ctx.addIssue({ code: 'custom', message: 'expected a duration like "10s" or "500ms"' });
    return z.NEVER;
  }
  return parsed.ms;
}).pipe(z.number().int().min(0, 'expected a duration like "10s"').max(600_000, 'expected a duration of at most 10m'));

/** Validation of the raw strings; the error messages omit the value, which the formatter adds. */
const RawConfig = z.object({
  region: z.string().pipe(RegionName),
  redisUrl: z.string().refine((text) => {
    try { return /^rediss?:$/.test(new URL(text).protocol); } catch { return false; }
  }, 'expected a redis:// or rediss:// URL'),
  prefix: z.string().regex(/^[A-Za-z0-9_.:{}-]{1,64}$/, 'expected 1-64 chars of A-Z, a-z, 0-9, "_", ".", ":", "-", "{", "}"'),
  concurrency: integerText('a positive integer', 1, 1000),
  agentId: z.string().regex(/^[A-Za-z0-9_.:@-]{1,200}$/, 'expected 1-200 chars of A-Z, a-z, 0-9, "_", ".", ":", "@", "-"'),
  healthPort: integerText('a port number (0-65535)', 0, 65535),
  healthHost: z.string().regex(/^[A-Za-z0-9.:-]{1,253}$/, 'expected an IP address or host name'),
  shutdownTimeoutMs: durationText,
  browserChecks: z.enum(['on', 'off'], 'expected "on" or "off"').transform((v) => v === 'on'),
  chromiumPath: z.string().regex(/^\//, 'expected an absolute path'),
  browserConcurrency: integerText('a positive integer', 1, 64),
  secretsFile: z.string().transform((v) => (v === '' ? null : v)),
});

/** Where a raw value came from, for error messages. */
interface RawValue { text: string; from: string }

export type ParseAgentConfigResult = { config: AgentConfig } | { help: true } | { errors: string[] };

/** Facts about the running process used for computed defaults; tests pass fixed ones. */
export interface ProcessFacts { hostname: string; pid: number }

/**
 * Parses flags (`--name value` or `--name=value`) and environment variables into a validated config.
 * Pure: reads nothing but its arguments. Returns every problem at once.
 */
export function parseAgentConfig(
  argv: string[],
  env: Record<string, string | undefined>,
  facts: ProcessFacts = { hostname: hostname(), pid: process.pid },
): ParseAgentConfigResult {
  const errors: string[] = [];
  const fromFlags = new Map<OptionKey, RawValue>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--help' || arg === '-h') return { help: true };
    const eq = arg.indexOf('=');
    const flag = arg.startsWith('--') && eq > 0 ? arg.slice(0, eq) : arg;
    const key = FLAG_TO_KEY.get(flag);
    if (!key) {
      errors.push(arg.startsWith('-') ? `${flag}: unknown flag (see --help)` : `${JSON.stringify(arg)}: unexpected argument (see --help)`);
      continue;
    }
    let text: string | undefined;
    if (eq > 0 && flag !== arg) text = arg.slice(eq + 1);
    else if (i + 1 < argv.length && !argv[i + 1]!.startsWith('--')) text = argv[++i];
    if (text === undefined) {
      errors.push(`${flag}: expected a value`);
      continue;
    }
    if (fromFlags.has(key)) errors.push(`${flag}: given more than once`);
    fromFlags.set(key, { text, from: flag });
  }

  const raw = new Map<OptionKey, RawValue>();
  for (const key of Object.keys(OPTIONS) as OptionKey[]) {
    const value = fromFlags.get(key) ?? fromEnv(OPTIONS[key].env, env);
    if (value) raw.set(key, value);
  }
  const region = raw.get('region')?.text;
  const defaults: Record<OptionKey, string | undefined> = {
    region: undefined,
    redisUrl: 'redis://127.0.0.1:6379',
    prefix: DEFAULT_PREFIX,
    concurrency: '10',
    agentId: defaultAgentId(facts, region),
    healthPort: '0',
    healthHost: '127.0.0.1',
    shutdownTimeoutMs: '10s',
    browserChecks: 'off',
    chromiumPath: '/usr/bin/chromium',
    browserConcurrency: '2',
    secretsFile: '',
  };

  const input: Record<string, string | undefined> = {};
  for (const key of Object.keys(OPTIONS) as OptionKey[]) {
    const value = raw.get(key)?.text ?? defaults[key];
    if (value === undefined) {
      const spec = OPTIONS[key];
      errors.push(`${spec.flag}: required (or set ${spec.env.join(' or ')})`);
    }
    input[key] = value;
  }

  const parsed = RawConfig.safeParse(input);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      const key = issue.path[0] as OptionKey;
      const value = raw.get(key);
      if (input[key] === undefined) continue; // already reported as required
      const origin = value && value.from !== OPTIONS[key].flag ? ` (from ${value.from})` : '';
      errors.push(`${OPTIONS[key].flag}: ${issue.message}, got ${JSON.stringify(input[key])}${value ? origin : ' (the default)'}`);
    }
  }
  if (errors.length > 0 || !parsed.success) return { errors };
  return { config: parsed.data };
}

/** `<hostname>-<region>-<pid>`, reduced to the characters an agent id may hold. */
function defaultAgentId(facts: ProcessFacts, region: string | undefined): string {
  return `${facts.hostname}-${region ?? 'unknown'}-${facts.pid}`.replace(/[^A-Za-z0-9_.:@-]/g, '_').slice(-200);
}

function fromEnv(names: string[], env: Record<string, string | undefined>): RawValue | undefined {
  for (const name of names) {
    const text = env[name];
    if (text !== undefined && text !== '') return { text, from: name };
  }
  return undefined;
}

/** Text printed by `--help`. */
export const agentHelp: string = [
  'Usage: lookout agent --region <region> [options]',
  '',
  'Runs checks for one region: consumes the checks.<region> queue, publishes results, writes heartbeats,',
  'and serves /healthz, /readyz and /metrics. Every option can also be set by environment variable.',
  '',
  'Options:',
  ...Object.values(OPTIONS).map((spec) => {
    const left = `  ${spec.flag} <value>`.padEnd(31);
    const suffix = [spec.defaultText !== undefined ? `default: ${spec.defaultText}` : 'required', `env: ${spec.env.join(', ')}`].join('; ');
    return `${left}${spec.help} (${suffix})`;
  }),
  `  ${'-h, --help'.padEnd(29)}Show this help`,
  '',
].join('\n');
