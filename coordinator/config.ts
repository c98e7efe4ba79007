/**
 * Coordinator configuration: parsed once at start-up from flags and environment, with every problem
 * reported at once. Pure: `argv` and `env` come in as arguments, nothing is read from the process.
 *
 * Precedence: flag, then environment variable, then default.
 */
import { DEFAULT_PREFIX } from '../checks/contract.ts';
import { parseDuration } from '../checks/duration.ts';

export interface CoordinatorConfig {
  /**
   * Redis to keep all state in (`redis://` or `rediss://`). Flag `--redis`, env `LOOKOUT_REDIS_URL` or `REDIS_URL`.
   * @defaultValue `'redis://127.0.0.1:6379'`
   */
  redisUrl: string;
  /**
   * BullMQ prefix and root of every key Lookout writes; agents must use the same one. Use a `{hash tag}`
   * such as `{lookout}` on Redis Cluster. Flag `--prefix`, env `LOOKOUT_PREFIX`.
   * @defaultValue `'lookout'`
   */
  prefix: string;
  /** HTTP port of the API and dashboard; 0 picks a free one. Flag `--port`, env `LOOKOUT_PORT`. @defaultValue 8080 */
  port: number;
  /** Interface the HTTP server listens on. Flag `--host`, env `LOOKOUT_HOST`. @defaultValue `'127.0.0.1'` */
  host: string;
  /**
   * Webhooks that receive alert events. Flag `--webhook-url` (repeatable or comma separated), env
   * `LOOKOUT_WEBHOOK_URL` (comma separated). @defaultValue []
   */
  webhookUrls: string[];
  /**
   * Secret (at least 16 characters) for the webhooks' HMAC-SHA256 signature; without it deliveries are
   * unsigned. Flag `--webhook-secret`, env `LOOKOUT_WEBHOOK_SECRET`. @defaultValue null
   */
  webhookSecret: string | null;
  /**
   * JSON file with alert channels (webhook, slack, pagerduty, email, alertmanager) and routes; see
   * `coordinator/alerting-config.ts` for the format. Read and validated at start-up. Flag
   * `--alerting-config`, env `LOOKOUT_ALERTING_CONFIG`. @defaultValue null (only `--webhook-url` channels)
   */
  alertingConfigFile: string | null;
  /** How often agents and verdicts are swept for silence. Flag `--sweep-interval`, env `LOOKOUT_SWEEP_INTERVAL`. @defaultValue 1000 (`'1s'`) */
  sweepIntervalMs: number;
  /**
   * How often job schedulers are reconciled with the registry even when it did not change (they are also
   * reconciled at start-up and after every deployment). Flag `--reconcile-interval`, env `LOOKOUT_RECONCILE_INTERVAL`.
   * @defaultValue 30000 (`'30s'`)
   */
  reconcileIntervalMs: number;
  /**
   * How often a canary job is sent into each region's queue (regions with checks or live agents). A region
   * whose agents heartbeat but answer no canary for 3 intervals is stalled: its checks show no data and
   * `probe.stalled` is emitted. `0` (or `off`) disables canaries; use the same value on every coordinator.
   * Flag `--canary-interval`, env `LOOKOUT_CANARY_INTERVAL`. @defaultValue 10000 (`'10s'`)
   */
  canaryIntervalMs: number;
  /** Results processed in parallel by this coordinator. Flag `--ingest-concurrency`, env `LOOKOUT_INGEST_CONCURRENCY`. @defaultValue 8 */
  ingestConcurrency: number;
  /**
   * Start even when the Redis eviction policy cannot be read (managed Redis with `CONFIG` disabled). Only
   * use it when you know the policy is `noeviction`. Flag `--skip-redis-policy-check`. @defaultValue false
   */
  skipRedisPolicyCheck: boolean;
  /**
   * Require an API token (`Authorization: Bearer …`, made with `lookout token create`) on every API
   * route but the dashboard page and health checks. Turn it off only for local development.
   * Flag `--auth on|off`, env `LOOKOUT_AUTH`. @defaultValue true (`on`)
   */
  auth: boolean;
  /**
   * Let read routes (`GET /api/…`, `/metrics`) answer without a token; writes still need one.
   * Flag `--public-read`, env `LOOKOUT_PUBLIC_READ=true`. @defaultValue false
   */
  publicRead: boolean;
}

export type ConfigParseResult = { config: CoordinatorConfig } | { errors: string[] } | { help: true };

export const DEFAULT_COORDINATOR_CONFIG: CoordinatorConfig = {
  redisUrl: 'redis://127.0.0.1:6379',
  prefix: DEFAULT_PREFIX,
  port: 8080,
  host: '127.0.0.1',
  webhookUrls: [],
  webhookSecret: null,
  alertingConfigFile: null,
  sweepIntervalMs: 1_000,
  reconcileIntervalMs: 30_000,
  canaryIntervalMs: 10_000,
  ingestConcurrency: 8,
  skipRedisPolicyCheck: false,
  auth: true,
  publicRead: false,
};

export const coordinatorHelp = `Usage: lookout coordinator [options]

Runs a coordinator: the check registry, schedulers, result ingest, verdicts, incidents, alert events,
the HTTP API and dashboard. Run several against the same Redis for redundancy.

Options (flag, then environment variable, then default):
  --redis <url>               Redis URL. Env LOOKOUT_REDIS_URL or REDIS_URL. Default redis://127.0.0.1:6379
  --prefix <name>             Key prefix, shared with agents. Env LOOKOUT_PREFIX. Default ${DEFAULT_PREFIX}
  --port <n>                  HTTP port (0 = any free port). Env LOOKOUT_PORT. Default 8080
  --host <address>            HTTP listen address. Env LOOKOUT_HOST. Default 127.0.0.1
  --webhook-url <url>         Alert webhook; repeat or comma-separate. Env LOOKOUT_WEBHOOK_URL
  --webhook-secret <secret>   HMAC secret (16+ chars) signing webhook deliveries. Env LOOKOUT_WEBHOOK_SECRET
  --alerting-config <file>    JSON file of alert channels (webhook, slack, pagerduty, email, alertmanager)
                              and routes; values may be {"env": "NAME"}. Env LOOKOUT_ALERTING_CONFIG.
                              Default none: every event goes to the --webhook-url webhooks only
  --sweep-interval <dur>      How often silence is checked, e.g. 1s, 500ms. Env LOOKOUT_SWEEP_INTERVAL. Default 1s
  --reconcile-interval <dur>  Periodic scheduler reconcile. Env LOOKOUT_RECONCILE_INTERVAL. Default 30s
  --canary-interval <dur|off> Canary job per region this often; a region answering none for 3 intervals
                              is stalled (no data, probe.stalled). 0 or off disables.
                              Env LOOKOUT_CANARY_INTERVAL. Default 10s
  --ingest-concurrency <n>    Results processed in parallel. Env LOOKOUT_INGEST_CONCURRENCY. Default 8
  --skip-redis-policy-check   Start even if maxmemory-policy cannot be read (must still be noeviction)
  --auth <on|off>             Require API tokens (lookout token create). Env LOOKOUT_AUTH. Default on;
                              off is for local development only
  --public-read               Read routes (GET /api/…, /metrics) need no token. Env LOOKOUT_PUBLIC_READ=true
  -h, --help                  Show this help

Redis must run with maxmemory-policy noeviction; the coordinator refuses to start otherwise.
`;

type ValueFlag = 'redis' | 'prefix' | 'port' | 'host' | 'webhook-url' | 'webhook-secret' | 'alerting-config' | 'sweep-interval' | 'reconcile-interval' | 'canary-interval' | 'ingest-concurrency' | 'auth';
const VALUE_FLAGS: Record<ValueFlag, readonly string[]> = {
  'redis': ['LOOKOUT_REDIS_URL', 'REDIS_URL'],
  'prefix': ['LOOKOUT_PREFIX'],
  'port': ['LOOKOUT_PORT'],
  'host': ['LOOKOUT_HOST'],
  'webhook-url': ['LOOKOUT_WEBHOOK_URL'],
  'webhook-secret': ['LOOKOUT_WEBHOOK_SECRET'],
  'alerting-config': ['LOOKOUT_ALERTING_CONFIG'],
  'sweep-interval': ['LOOKOUT_SWEEP_INTERVAL'],
  'reconcile-interval': ['LOOKOUT_RECONCILE_INTERVAL'],
  'canary-interval': ['LOOKOUT_CANARY_INTERVAL'],
  'ingest-concurrency': ['LOOKOUT_INGEST_CONCURRENCY'],
  'auth': ['LOOKOUT_AUTH'],
};
const BOOLEAN_FLAGS = ['skip-redis-policy-check', 'public-read'] as const;
type BooleanFlag = typeof BOOLEAN_FLAGS[number];

/** A raw value and where it came from (`--port` or `LOOKOUT_PORT`), for error messages. */
interface Source { value: string; from: string }

/** Parses flags (`--name value` or `--name=value`) and environment into a config, or every problem found. */
export function parseCoordinatorConfig(argv: readonly string[], env: Readonly<Record<string, string | undefined>>): ConfigParseResult {
  const errors: string[] = [];
  const flags = new Map<ValueFlag, Source[]>();
  const booleans = new Set<BooleanFlag>();

  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '-h' || arg === '--help') return { help: true };
    if (!arg.startsWith('--')) { errors.push(`unexpected argument ${JSON.stringify(arg)} (options start with --)`); continue; }
    const eq = arg.indexOf('=');
    const name = arg.slice(2, eq === -1 ? undefined : eq);
    if ((BOOLEAN_FLAGS as readonly string[]).includes(name)) {
      const raw = eq === -1 ? 'true' : arg.slice(eq + 1);
      if (raw === 'true') booleans.add(name as BooleanFlag);
      else if (raw !== 'false') errors.push(`--${name}: expected no value, "true" or "false", got ${JSON.stringify(raw)}`);
      continue;
    }
    if (!(name in VALUE_FLAGS)) { errors.push(`unknown option --${name} (see --help)`); continue; }
    let value: string | undefined;
    if (eq !== -1) value = arg.slice(eq + 1);
    else if (i + 1 < argv.length && !argv[i + 1]!.startsWith('--')) value = argv[++i];
    if (value === undefined) { errors.push(`--${name}: missing value`); continue; }
    const list = flags.get(name as ValueFlag) ?? [];
    list.push({ value, from: `--${name}` });
    flags.set(name as ValueFlag, list);
  }

  /** The winning source of one option: the last flag, else the first environment variable set. */
  const pick = (flag: ValueFlag): Source | undefined => {
    const given = flags.get(flag);
    if (given && given.length > 0) return given[given.length - 1];
    for (const name of VALUE_FLAGS[flag]) {
      const value = env[name];
      if (value !== undefined && value !== '') return { value, from: name };
    }
    return undefined;
  };
  const d = DEFAULT_COORDINATOR_CONFIG;

  const redisUrl = check(pick('redis'), d.redisUrl, errors, (v) => {
    let url: URL;
    try { url = new URL(v); } catch { return 'expected a URL like redis://host:6379'; }
    return url.protocol === 'redis:' || url.protocol === 'rediss:' ? null : 'expected a redis:// or rediss:// URL';
  }, (v) => v);
  const prefix = check(pick('prefix'), d.prefix, errors,
    (v) => (/^[A-Za-z0-9_.{}-]{1,64}$/.test(v) ? null : 'expected 1-64 chars of letters, digits, "_", ".", "-", "{", "}"'), (v) => v);
  const port = check(pick('port'), d.port, errors,
    (v) => (/^\d{1,5}$/.test(v) && Number(v) <= 65_535 ? null : 'expected an integer from 0 to 65535'), Number);
  const host = check(pick('host'), d.host, errors, (v) => (v.trim() === '' ? 'must not be empty' : null), (v) => v);
  const sweepIntervalMs = check(pick('sweep-interval'), d.sweepIntervalMs, errors, durationProblem(50, 60_000), durationMs);
  const reconcileIntervalMs = check(pick('reconcile-interval'), d.reconcileIntervalMs, errors, durationProblem(100, 3_600_000), durationMs);
  const canaryIntervalMs = check(pick('canary-interval'), d.canaryIntervalMs, errors,
    (v) => (isCanaryOff(v) ? null : durationProblem(100, 3_600_000)(v)?.replace('expected', 'expected 0, "off" or') ?? null),
    (v) => (isCanaryOff(v) ? 0 : durationMs(v)));
  const ingestConcurrency = check(pick('ingest-concurrency'), d.ingestConcurrency, errors,
    (v) => (/^\d+$/.test(v) && Number(v) >= 1 && Number(v) <= 256 ? null : 'expected an integer from 1 to 256'), Number);
  const webhookSecret = check<string | null>(pick('webhook-secret'), d.webhookSecret, errors,
    (v) => (v.length >= 16 ? null : 'must be at least 16 characters'), (v) => v, { secret: true });
  const alertingConfigFile = check<string | null>(pick('alerting-config'), d.alertingConfigFile, errors,
    (v) => (v.trim() === '' ? 'must be a file path' : null), (v) => v);

  const urlSources: Source[] = flags.get('webhook-url') ?? (pick('webhook-url') ? [pick('webhook-url')!] : []);
  const webhookUrls: string[] = [];
  for (const source of urlSources) {
    for (const part of source.value.split(',').map((s) => s.trim()).filter(Boolean)) {
      let url: URL | null = null;
      try { url = new URL(part); } catch { /* reported below */ }
      if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:')) {
        errors.push(`${source.from}: expected http:// or https:// URLs, got ${JSON.stringify(part)}`);
      } else webhookUrls.push(part);
    }
  }

  const auth = check(pick('auth'), d.auth, errors, (v) => (v === 'on' || v === 'off' ? null : 'expected "on" or "off"'), (v) => v === 'on');
  const publicReadEnv = env.LOOKOUT_PUBLIC_READ;
  if (publicReadEnv !== undefined && publicReadEnv !== '' && publicReadEnv !== 'true' && publicReadEnv !== 'false') {
    errors.push(`LOOKOUT_PUBLIC_READ: expected "true" or "false", got ${JSON.stringify(publicReadEnv)}`);
  }
  const publicRead = booleans.has('public-read') || publicReadEnv === 'true';

  if (errors.length > 0) return { errors };
  return {
    config: {
      redisUrl, prefix, port, host, webhookUrls, webhookSecret, alertingConfigFile, sweepIntervalMs, reconcileIntervalMs, canaryIntervalMs, ingestConcurrency,
      skipRedisPolicyCheck: booleans.has('skip-redis-policy-check'),
      auth, publicRead,
    },
  };
}

/**
 * The alert channels the flags describe, as `createDelivery` (delivery.ts) takes them: one webhook
 * channel per URL, named `webhook-1`, `webhook-2`, … in the order given.
 */
export function webhookChannels(config: Pick<CoordinatorConfig, 'webhookUrls' | 'webhookSecret'>): Array<{ type: 'webhook'; name: string; url: string; secret?: string }> {
  return config.webhookUrls.map((url, i) => ({
    type: 'webhook' as const, name: `webhook-${i + 1}`, url, ...(config.webhookSecret ? { secret: config.webhookSecret } : {}),
  }));
}

/**
 * Validates one source; records `from: problem, got "value"` (for a secret only its length, since the
 * message reaches terminals and logs) and returns the default when invalid or absent.
 */
function check<T>(
  source: Source | undefined, fallback: T, errors: string[], problem: (v: string) => string | null, convert: (v: string) => T,
  options: { secret?: boolean } = {},
): T {
  if (!source) return fallback;
  const issue = problem(source.value);
  if (issue) {
    const got = options.secret ? `${source.value.length} characters` : JSON.stringify(source.value);
    errors.push(`${source.from}: ${issue}, got ${got}`);
    return fallback;
  }
  return convert(source.value);
}

/** `0` and `off` turn canaries off. */
const isCanaryOff = (v: string): boolean => v === '0' || v === 'off';

function durationMs(v: string): number {
  const parsed = parseDuration(v);
  return 'ms' in parsed ? parsed.ms : Number.NaN;
}

function durationProblem(minMs: number, maxMs: number): (v: string) => string | null {
  return (v) => {
    const parsed = parseDuration(v);
    if ('error' in parsed) return 'expected a duration like "1s" or "500ms"';
    return parsed.ms >= minMs && parsed.ms <= maxMs ? null : `expected a duration from ${minMs}ms to ${maxMs}ms`;
  };
}
