/**
 * Agent configuration from command-line flags and environment variables. Everything is read once,
 * validated once with zod, and every problem is reported together with the flag it belongs to and
 * where the bad value came from, e.g.
 * `--concurrency: expected a positive integer, got "abc" (from LOOKOUT_CONCURRENCY)`.
 * A flag wins over its environment variable.
 */
import { hostname } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_SPOOL_MAX_AGE_MS, DEFAULT_SPOOL_MAX_BYTES, MAX_SPOOL_AGE_MS } from './results/disk-spool.ts';
import { RegionName } from '../checks/contract.ts';
import { parsePublicKey } from '../checks/signing.ts';
import { redisOptionProblems, redisOptions, type SentinelOptionValues } from '../lib/redis-options.ts';
import { parseResolverAddress } from './evidence/resolver.ts';
import {
  accept, byteSize, duration, integer, list, onOff, optionsHelp, parseOptions, refuse, value, zodParser, type OptionTable, type Parser,
} from '../lib/options.ts';
import { DEFAULT_DENIED_CIDRS, cidrProblem } from './runners/http/egress.ts';

/** What the agent needs to run, after defaults and validation. */
export interface AgentConfig extends SentinelOptionValues {
  /** Region this agent probes from; it consumes only that region's queue (`checks.<region>`). Required. */
  region: string;
  /**
   * Redis holding the region's queues, with the region's own credentials (`lookout region add` prints
   * them). `rediss://` for TLS. @defaultValue `'redis://127.0.0.1:6379'`
   */
  redisUrl: string;
  /** PEM CA file for `rediss://`. @defaultValue none (the system's CAs) */
  redisCa?: string | undefined;
  /** PEM client certificate for Redis TLS. @defaultValue none */
  redisCert?: string | undefined;
  /** PEM key of `redisCert`. @defaultValue none */
  redisKey?: string | undefined;
  /**
   * The coordinators' job verification key (Ed25519 public key, base64 or PEM): the agent runs only jobs
   * signed by it. Printed by `lookout region add`. Required.
   */
  jobPublicKey: string;
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
  /**
   * Address ranges HTTP runs may not connect to, on top of the default ones (link-local and cloud
   * metadata addresses), checked after DNS on every hop. @defaultValue [] (the defaults only)
   */
  denyCidrs: string[];
  /** Exceptions to the denied ranges (an allowed range wins). @defaultValue [] */
  allowCidrs: string[];
  /**
   * On the first failure of a streak, trace the path to the target (mtr-tiny in TCP mode, or
   * traceroute -T) and attach it to the result. @defaultValue true (`on`)
   */
  pathTrace: boolean;
  /**
   * A second resolver asked for the host on the first failure of a streak (`9.9.9.9`, `10.0.0.2:5353`), its
   * answer attached beside the system resolver's. @defaultValue null (none)
   */
  diagnosticResolver: string | null;
  /**
   * The longest a failed run's result waits for its evidence (path trace, second resolver) after the run
   * ended; a run that times out starts capturing while it waits, so usually adds nothing. A longer budget
   * gives slow traces time, and delays a fast failure's result (and its alert) by up to that much.
   * @defaultValue 1000 (`'1s'`)
   */
  evidenceBudgetMs: number;
  /**
   * Folder where results wait while Redis is away, kept across restarts of the agent (0700; one agent per
   * folder). `off` keeps them in memory only (10,000 results, lost when the agent stops).
   * @defaultValue `$XDG_STATE_HOME/lookout/spool/<region>` (`~/.local/state/lookout/spool/<region>`)
   */
  spoolDir: string | null;
  /** Bytes the spool folder may hold; past it the oldest results are dropped (and counted). @defaultValue 67108864 (`64MiB`) */
  spoolMaxBytes: number;
  /**
   * How long a result may wait in the spool; older ones are dropped (and counted). At most 24 h, how long
   * coordinators remember a result to de-duplicate it. @defaultValue 86400000 (`24h`)
   */
  spoolMaxAgeMs: number;
}

const cidr: Parser<string> = (text) => {
  const problem = cidrProblem(text);
  return problem === null ? accept(text) : refuse(problem);
};

/** The agent's options: flag, environment variables, help, default and validation of each. */
export const AGENT_OPTIONS = {
  region: value({ flag: '--region', env: ['LOOKOUT_REGION'], help: 'Region this agent probes from, e.g. us-east', parse: zodParser(RegionName) }),
  ...redisOptions,
  jobPublicKey: value({
    flag: '--job-public-key', env: ['LOOKOUT_JOB_PUBLIC_KEY'], placeholder: '<key>',
    help: 'The coordinators\' job verification key (from lookout region add): only jobs it signed are run',
    parse: (text: string) => { try { parsePublicKey(text); return accept(text.trim()); } catch { return refuse('expected an Ed25519 public key (base64 or PEM)'); } },
  }),
  concurrency: value({ flag: '--concurrency', env: ['LOOKOUT_CONCURRENCY'], help: 'Runs executed at the same time', default: 10, parse: integer(1, 1000) }),
  agentId: value({
    flag: '--agent-id', env: ['LOOKOUT_AGENT_ID'], help: 'Agent id in heartbeats and results', optional: true,
    parse: (text: string) => (/^[A-Za-z0-9_.:@-]{1,200}$/.test(text) ? accept(text) : refuse('expected 1-200 chars of A-Z, a-z, 0-9, "_", ".", ":", "@", "-"')),
  }),
  healthPort: value({ flag: '--health-port', env: ['LOOKOUT_HEALTH_PORT'], help: 'Port of /healthz, /readyz, /metrics (0 = any free port)', default: 0, parse: integer(0, 65_535) }),
  healthHost: value({
    flag: '--health-host', env: ['LOOKOUT_HEALTH_HOST'], help: 'Address the health server listens on', default: '127.0.0.1',
    parse: (text: string) => (/^[A-Za-z0-9.:-]{1,253}$/.test(text) ? accept(text) : refuse('expected an IP address or host name')),
  }),
  shutdownTimeoutMs: value({
    flag: '--shutdown-timeout', env: ['LOOKOUT_SHUTDOWN_TIMEOUT'], help: 'Time in-flight runs get to finish on shutdown, e.g. 10s',
    default: 10_000, defaultText: '10s', parse: duration(0, 600_000),
  }),
  browserChecks: value({ flag: '--browser-checks', env: ['LOOKOUT_BROWSER_CHECKS'], help: 'Run browser checks in Chromium: on or off', default: false, defaultText: 'off', parse: onOff }),
  chromiumPath: value({
    flag: '--chromium', env: ['LOOKOUT_CHROMIUM_PATH'], help: 'Chromium binary for browser checks', default: '/usr/bin/chromium',
    parse: (text: string) => (text.startsWith('/') ? accept(text) : refuse('expected an absolute path')),
  }),
  browserConcurrency: value({ flag: '--browser-concurrency', env: ['LOOKOUT_BROWSER_CONCURRENCY'], help: 'Browser runs at the same time', default: 2, parse: integer(1, 64) }),
  secretsFile: value({
    flag: '--secrets-file', env: ['LOOKOUT_SECRETS_FILE'], help: 'Secrets for checks: JSON or dotenv file (LOOKOUT_SECRET_<NAME> variables add to it)',
    default: null as string | null, defaultText: 'none', parse: (text: string) => accept<string | null>(text),
  }),
  denyCidrs: list({
    flag: '--deny-cidr', env: ['LOOKOUT_DENY_CIDR'], placeholder: '<cidr>', parse: cidr,
    help: `Address ranges HTTP checks may not reach, besides the default ${DEFAULT_DENIED_CIDRS.join(', ')}`,
  }),
  allowCidrs: list({ flag: '--allow-cidr', env: ['LOOKOUT_ALLOW_CIDR'], placeholder: '<cidr>', parse: cidr, help: 'Exceptions to the denied ranges (e.g. a metadata proxy you mean to probe)' }),
  evidenceBudgetMs: value({
    flag: '--evidence-budget', env: ['LOOKOUT_EVIDENCE_BUDGET'], help: 'Longest a failed run waits for its path trace and second resolver, e.g. 1s',
    default: 1_000, defaultText: '1s', parse: duration(200, 10_000),
  }),
  pathTrace: value({ flag: '--path-trace', env: ['LOOKOUT_PATH_TRACE'], help: 'Trace the path to a failing target (mtr-tiny or traceroute): on or off', default: true, defaultText: 'on', parse: onOff }),
  diagnosticResolver: value({
    flag: '--diagnostic-resolver', env: ['LOOKOUT_DIAGNOSTIC_RESOLVER'], help: 'A second DNS resolver asked on failure, e.g. 9.9.9.9 or 10.0.0.2:5353',
    default: null as string | null, defaultText: 'none',
    parse: (text: string) => {
      const parsed = parseResolverAddress(text);
      return parsed.ok ? accept<string | null>(parsed.server) : refuse(parsed.message);
    },
  }),
  spoolDir: value({
    flag: '--spool-dir', env: ['LOOKOUT_SPOOL_DIR'], placeholder: '<dir|off>', optional: true,
    help: 'Folder where results wait while Redis is away, kept across restarts (one agent per folder); off: in memory only',
    parse: (text: string) => (text === 'off' ? accept<string | null>(null) : text.startsWith('/') ? accept<string | null>(text) : refuse('expected an absolute path or "off"')),
  }),
  spoolMaxBytes: value({
    flag: '--spool-max-bytes', env: ['LOOKOUT_SPOOL_MAX_BYTES'], placeholder: '<size>', help: 'Bytes the spool folder may hold (the oldest results go first)',
    default: DEFAULT_SPOOL_MAX_BYTES, defaultText: '64MiB', parse: byteSize(1024 * 1024, 64 * 1024 ** 3),
  }),
  spoolMaxAgeMs: value({
    flag: '--spool-max-age', env: ['LOOKOUT_SPOOL_MAX_AGE'], placeholder: '<dur>', help: 'How long a result may wait in the spool (at most 24h)',
    default: DEFAULT_SPOOL_MAX_AGE_MS, defaultText: '24h', parse: duration(60_000, MAX_SPOOL_AGE_MS),
  }),
} satisfies OptionTable;

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
  const parsed = parseOptions(AGENT_OPTIONS, argv, env);
  if (!('values' in parsed)) return parsed;
  const { values } = parsed;
  const problems = redisOptionProblems(values);
  if (problems.length > 0) return { errors: problems };
  const spoolDir = values.spoolDir === undefined ? defaultSpoolDir(env, values.region) : values.spoolDir;
  return { config: { ...values, spoolDir, agentId: values.agentId ?? defaultAgentId(facts, values.region) } };
}

/** `$XDG_STATE_HOME/lookout/spool/<region>`, else `$HOME/.local/state/…`; null (memory) when neither is set. */
function defaultSpoolDir(env: Record<string, string | undefined>, region: string): string | null {
  const state = env.XDG_STATE_HOME?.startsWith('/') ? env.XDG_STATE_HOME : env.HOME?.startsWith('/') ? join(env.HOME, '.local', 'state') : null;
  return state === null ? null : join(state, 'lookout', 'spool', region);
}

/** `<hostname>-<region>-<pid>`, reduced to the characters an agent id may hold. */
function defaultAgentId(facts: ProcessFacts, region: string): string {
  return `${facts.hostname}-${region}-${facts.pid}`.replace(/[^A-Za-z0-9_.:@-]/g, '_').slice(-200);
}

/** Text printed by `--help`. */
export const agentHelp: string = [
  'Usage: lookout agent --region <region> [options]',
  '',
  'Runs checks for one region: consumes the checks.<region> queue, publishes results, writes heartbeats,',
  'and serves /healthz, /readyz and /metrics. Every option can also be set by environment variable.',
  '',
  'Options:',
  ...optionsHelp(AGENT_OPTIONS),
  '',
].join('\n');
