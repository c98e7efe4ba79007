/**
 * Coordinator configuration: parsed once at start-up from flags and environment, with every problem
 * reported at once. Pure: `argv` and `env` come in as arguments, nothing is read from the process.
 *
 * Precedence: flag, then environment variable, then default.
 */
import { DEFAULT_PREFIX } from '../checks/keys.ts';
import {
  accept, duration, httpUrl, integer, list, nonEmpty, onOff, optionsHelp, parseOptions, refuse, toggle, value, type OptionTable,
} from '../lib/options.ts';
import { redisOptionProblems, redisOptions, type SentinelOptionValues } from '../lib/redis-options.ts';

export interface CoordinatorConfig extends SentinelOptionValues {
  /**
   * Redis to keep all state in (`redis://` or `rediss://`), with the coordinators' own credentials. Flag
   * `--redis`, env `LOOKOUT_REDIS_URL` or `REDIS_URL`. @defaultValue `'redis://127.0.0.1:6379'`
   */
  redisUrl: string;
  /** PEM CA file for `rediss://`. Flag `--redis-ca`, env `LOOKOUT_REDIS_CA`. @defaultValue none (the system's CAs) */
  redisCa?: string | undefined;
  /** PEM client certificate for Redis TLS. Flag `--redis-cert`, env `LOOKOUT_REDIS_CERT`. @defaultValue none */
  redisCert?: string | undefined;
  /** PEM key of `redisCert`. Flag `--redis-key`, env `LOOKOUT_REDIS_KEY`. @defaultValue none */
  redisKey?: string | undefined;
  /**
   * PEM file of the Ed25519 key that signs jobs (the same on every coordinator). Flag `--job-signing-key`,
   * env `LOOKOUT_JOB_SIGNING_KEY_FILE`. @defaultValue none: the key kept in Redis (made by the first coordinator)
   */
  jobSigningKeyFile?: string | undefined;
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


/** The coordinator's options: flag, environment variables, help, default and validation of each. */
export const COORDINATOR_OPTIONS = {
  ...redisOptions,
  jobSigningKeyFile: value({
    flag: '--job-signing-key', env: ['LOOKOUT_JOB_SIGNING_KEY_FILE'], placeholder: '<file>', optional: true, parse: nonEmpty('a file'),
    help: 'PEM Ed25519 key that signs jobs, the same on every coordinator', defaultText: 'a key kept in Redis, made once',
  }),
  port: value({ flag: '--port', env: ['LOOKOUT_PORT'], help: 'HTTP port (0 = any free port)', default: DEFAULT_COORDINATOR_CONFIG.port, parse: integer(0, 65_535), placeholder: '<n>' }),
  host: value({ flag: '--host', env: ['LOOKOUT_HOST'], help: 'HTTP listen address', default: DEFAULT_COORDINATOR_CONFIG.host, parse: nonEmpty('an address'), placeholder: '<address>' }),
  webhookUrls: list({ flag: '--webhook-url', env: ['LOOKOUT_WEBHOOK_URL'], help: 'Alert webhook', parse: httpUrl, placeholder: '<url>' }),
  webhookSecret: value({
    flag: '--webhook-secret', env: ['LOOKOUT_WEBHOOK_SECRET'], help: 'HMAC secret (16+ chars) signing webhook deliveries', placeholder: '<secret>',
    default: DEFAULT_COORDINATOR_CONFIG.webhookSecret, defaultText: 'none (unsigned)', secret: true,
    parse: (text: string) => (text.length >= 16 ? accept<string | null>(text) : refuse('must be at least 16 characters')),
  }),
  alertingConfigFile: value({
    flag: '--alerting-config', env: ['LOOKOUT_ALERTING_CONFIG'], placeholder: '<file>',
    help: 'JSON file of alert channels (webhook, slack, pagerduty, email, alertmanager) and routes; values may be {"env": "NAME"}',
    default: DEFAULT_COORDINATOR_CONFIG.alertingConfigFile, defaultText: 'none: every event goes to the --webhook-url webhooks',
    parse: (text: string) => (text.trim() === '' ? refuse('must be a file path') : accept<string | null>(text)),
  }),
  sweepIntervalMs: value({ flag: '--sweep-interval', env: ['LOOKOUT_SWEEP_INTERVAL'], help: 'How often silence is checked, e.g. 1s, 500ms', default: DEFAULT_COORDINATOR_CONFIG.sweepIntervalMs, defaultText: '1s', parse: duration(50, 60_000), placeholder: '<dur>' }),
  reconcileIntervalMs: value({ flag: '--reconcile-interval', env: ['LOOKOUT_RECONCILE_INTERVAL'], help: 'Periodic scheduler reconcile', default: DEFAULT_COORDINATOR_CONFIG.reconcileIntervalMs, defaultText: '30s', parse: duration(100, 3_600_000), placeholder: '<dur>' }),
  canaryIntervalMs: value({
    flag: '--canary-interval', env: ['LOOKOUT_CANARY_INTERVAL'], placeholder: '<dur|off>',
    help: 'Canary job per region this often; a region answering none for 3 intervals is stalled (no data, probe.stalled); 0 or off disables',
    default: DEFAULT_COORDINATOR_CONFIG.canaryIntervalMs, defaultText: '10s',
    parse: (text: string) => {
      if (text === '0' || text === 'off') return accept(0);
      const parsed = duration(100, 3_600_000)(text);
      return parsed.ok ? parsed : refuse(parsed.problem.replace('expected', 'expected 0, "off" or'));
    },
  }),
  ingestConcurrency: value({ flag: '--ingest-concurrency', env: ['LOOKOUT_INGEST_CONCURRENCY'], help: 'Results processed in parallel', default: DEFAULT_COORDINATOR_CONFIG.ingestConcurrency, parse: integer(1, 256), placeholder: '<n>' }),
  skipRedisPolicyCheck: toggle({ flag: '--skip-redis-policy-check', help: 'Start even if maxmemory-policy cannot be read (it must still be noeviction)' }),
  auth: value({ flag: '--auth', env: ['LOOKOUT_AUTH'], help: 'Require API tokens (lookout token create); off is for local development only', default: true, defaultText: 'on', parse: onOff, placeholder: '<on|off>' }),
  publicRead: toggle({ flag: '--public-read', env: ['LOOKOUT_PUBLIC_READ'], help: 'Read routes (GET /api/…, /metrics) need no token' }),
} satisfies OptionTable;

export const coordinatorHelp = [
  'Usage: lookout coordinator [options]',
  '',
  'Runs a coordinator: the check registry, schedulers, result ingest, verdicts, incidents, alert events,',
  'the HTTP API and dashboard. Run several against the same Redis for redundancy.',
  '',
  'Options (flag, then environment variable, then default):',
  ...optionsHelp(COORDINATOR_OPTIONS),
  '',
  'Redis must run with maxmemory-policy noeviction; the coordinator refuses to start otherwise.',
  '',
].join('\n');

/** Parses flags (`--name value` or `--name=value`) and environment into a config, or every problem found. */
export function parseCoordinatorConfig(argv: readonly string[], env: Readonly<Record<string, string | undefined>>): ConfigParseResult {
  const parsed = parseOptions(COORDINATOR_OPTIONS, argv, env);
  if (!('values' in parsed)) return parsed;
  const problems = redisOptionProblems(parsed.values);
  return problems.length > 0 ? { errors: problems } : { config: parsed.values };
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

