/**
 * Wire contracts: everything that crosses a process boundary (Redis queues, heartbeats, the HTTP API)
 * is described here once, as zod schemas with their inferred types. Both sides validate: the
 * coordinator before it enqueues, the agent when it dequeues, and the coordinator again on ingest.
 * What a check is (its definition, per type) is in definitions.ts and exported from here too, so that
 * this module stays the one place to import the contract from.
 *
 * Bump {@link SCHEMA_VERSION} on any incompatible change; receivers reject other versions with a clear
 * error instead of guessing.
 */
import { z } from 'zod';
import { Assertion, CheckDefinition, CheckId, RegionName } from './definitions.ts';
import { MAX_ASSERTIONS_PER_CHECK, MAX_ASSERTION_TEXT_LENGTH, MAX_CAPABILITIES, MAX_RESULT_BYTES, atMost, jsonBytes } from './limits.ts';
import { DeepEvidence, NetworkFacts } from './evidence.ts';

export * from './definitions.ts';
export * from './evidence.ts';

/**
 * Version of every payload in this module. 2: jobs are signed slots issued by coordinators, results
 * carry the slot they answer, and each region has its own results queue.
 */
export const SCHEMA_VERSION = 2 as const;

const Millis = z.number().int().nonnegative();
/** An Ed25519 signature, base64 (checks/signing.ts). */
const Signature = z.string().regex(/^[A-Za-z0-9+/]{86}==$/, 'must be an Ed25519 signature in base64');
/** A SHA-256, hex. */
const Digest = z.string().regex(/^[0-9a-f]{64}$/, 'must be a SHA-256 in hex');

// ---------------------------------------------------------------------------------------------
// Jobs (coordinator → agent, one queue per region)
// ---------------------------------------------------------------------------------------------

export const RunTrigger = z.enum(['schedule', 'confirmation', 'manual']);
export type RunTrigger = z.infer<typeof RunTrigger>;

/**
 * One run of one check in one region: a slot a coordinator issued and signed (checks/signing.ts
 * `RunSlot`), with the definition to run. Coordinators add it to the region's queue at its slot time.
 */
export const CheckJob = z.object({
  schemaVersion: z.literal(SCHEMA_VERSION),
  region: RegionName,
  checkVersion: z.number().int().positive(),
  check: CheckDefinition,
  trigger: RunTrigger,
  /** When the run was due (epoch ms, Redis time). */
  scheduledAt: Millis,
  /** After this (Redis time) the run must not start: it is skipped and counted, not run late. */
  expiresAt: Millis,
  /** SHA-256 of the definition's canonical JSON; signed, and checked against `check` by the agent. */
  definitionDigest: Digest,
  signature: Signature,
});
export type CheckJob = z.infer<typeof CheckJob>;

/** What a result carries of the signed slot it answers; ingest verifies it before counting the result. */
export const SlotProof = z.object({
  expiresAt: Millis,
  definitionDigest: Digest,
  signature: Signature,
});
export type SlotProof = z.infer<typeof SlotProof>;

// ---------------------------------------------------------------------------------------------
// Results (agent → coordinator, one queue per region: results.<region>)
// ---------------------------------------------------------------------------------------------

/** Failures of the probed target. Only these can open incidents. */
export const TargetErrorCode = z.enum([
  'DNS_NXDOMAIN', 'DNS_FAILURE',
  'CONNECT_REFUSED', 'CONNECT_TIMEOUT', 'CONNECTION_RESET', 'HOST_UNREACHABLE',
  'TLS_CERT_EXPIRED', 'TLS_CERT_UNTRUSTED', 'TLS_HOSTNAME_MISMATCH', 'TLS_FAILURE',
  'TIMEOUT', 'BODY_TOO_LARGE', 'TOO_MANY_REDIRECTS', 'HTTP_PROTOCOL_ERROR', 'REQUEST_FAILED',
  /** The response body ended before its announced length, or its chunked encoding broke (not a TCP reset). */
  'HTTP_BODY_INCOMPLETE',
  /** The target (or a redirect, or its DNS answer) points at an address the agent's egress policy denies. */
  'TARGET_DENIED',
  'ASSERTION_FAILED',
  /** A browser check's script threw (anything but a failed `expect` or a Playwright timeout). */
  'SCRIPT_ERROR',
  /**
   * The check references a secret (`secret('NAME')` or `secrets.NAME`) that the agent does not have. A
   * probe configuration problem, counted as a failed run on purpose so that it alerts (see checks/secrets.ts).
   */
  'SECRET_MISSING',
  /**
   * The target refused this probe rather than failing: 403, 429 or a bot challenge (`cf-mitigated:
   * challenge`, a well-known challenge page). Counted as a failure; the alert says the region's probes
   * are being blocked, which needs another fix than an outage.
   */
  'BLOCKED_BY_TARGET',
  /**
   * A request would have carried a secret to an origin the agent's secrets file does not allow for it
   * (a redirect to another host, a page sending it elsewhere): refused before it was sent.
   */
  'SECRET_ORIGIN_DENIED',
]);
/** Failures of the probe itself: recorded, never counted against the target. */
export const AgentErrorCode = z.enum([
  'AGENT_INTERNAL', 'INVALID_JOB', 'RUN_CANCELLED', 'UNSUPPORTED_CHECK_TYPE',
  /** The agent's browser (or a page's renderer) crashed or disconnected during the run. */
  'BROWSER_CRASHED',
  /** No browser slot or not enough memory before the run's deadline: the agent is overloaded. */
  'BROWSER_CAPACITY',
]);
export const ErrorCode = z.union([TargetErrorCode, AgentErrorCode]);
export type TargetErrorCode = z.infer<typeof TargetErrorCode>;
export type AgentErrorCode = z.infer<typeof AgentErrorCode>;
export type ErrorCode = z.infer<typeof ErrorCode>;

/** `pass`/`fail` speak of the target; `error` means the agent failed and says nothing about the target. */
export const Outcome = z.enum(['pass', 'fail', 'error']);
export type Outcome = z.infer<typeof Outcome>;

const PhaseMs = z.number().nonnegative().nullable();
export const Timings = z.object({
  dnsMs: PhaseMs,
  connectMs: PhaseMs,
  tlsMs: PhaseMs,
  firstByteMs: PhaseMs,
  downloadMs: PhaseMs,
  totalMs: z.number().nonnegative(),
});
export type Timings = z.infer<typeof Timings>;

export const AssertionResult = z.object({
  assertion: Assertion,
  passed: z.boolean(),
  /** Human-readable, e.g. `status 200`, and what was seen, e.g. `status 503`. */
  expected: z.string().max(MAX_ASSERTION_TEXT_LENGTH),
  actual: z.string().max(MAX_ASSERTION_TEXT_LENGTH),
});
export type AssertionResult = z.infer<typeof AssertionResult>;

/** An artifact a browser run stored (in Redis, see {@link artifactKey}); read through the coordinator's API. */
export const ArtifactRef = z.object({
  name: z.string().regex(/^[a-z0-9][a-z0-9._-]{0,63}$/),
  /** Where it is stored: a Redis key for agents, a file path for local runs. */
  key: z.string().min(1).max(1000),
  bytes: z.number().int().nonnegative(),
  contentType: z.string().min(1).max(100),
});
export type ArtifactRef = z.infer<typeof ArtifactRef>;

const NullableMs = z.number().nonnegative().nullable();
/** Details of a browser run, beside the common result fields. Every list is capped by the agent. */
export const BrowserRunDetails = z.object({
  /** Identifies the run's artifacts: `GET /api/artifacts/:runId/:name`; `<region>.<random>`. */
  runId: z.string().regex(/^[a-z0-9][a-z0-9-]{0,31}\.[A-Za-z0-9_-]{1,64}$/),
  steps: z.array(z.object({
    name: z.string().max(300),
    durationMs: z.number().nonnegative(),
    status: z.enum(['passed', 'failed']),
    error: z.string().max(2000).optional(),
  })).max(200),
  /** Name of the first step that failed (the innermost one, for nested steps); null when none did. */
  failedStep: z.string().max(300).nullable(),
  /** One entry per document loaded (http/https), in load order. */
  pageLoads: z.array(z.object({
    url: z.string().max(2000),
    ttfbMs: NullableMs,
    domContentLoadedMs: NullableMs,
    loadMs: NullableMs,
    fcpMs: NullableMs,
    lcpMs: NullableMs,
    /** Cumulative layout shift (unitless), shifts right after user input excluded. */
    cls: z.number().nonnegative().nullable(),
  })).max(100),
  consoleErrors: z.array(z.string().max(1000)).max(50),
  failedRequests: z.array(z.object({
    url: z.string().max(2000),
    method: z.string().max(20),
    /** The network error (`net::ERR_…`) or `HTTP <status>`. */
    failure: z.string().max(500),
  })).max(50),
  artifacts: z.array(ArtifactRef).max(10),
  /** Artifacts that were not stored, and why (e.g. over the size cap). */
  artifactNotes: z.array(z.string().max(500)).max(10),
});
export type BrowserRunDetails = z.infer<typeof BrowserRunDetails>;

export const RunResult = z.object({
  schemaVersion: z.literal(SCHEMA_VERSION),
  checkId: CheckId,
  checkVersion: z.number().int().positive(),
  region: RegionName,
  agentId: z.string().min(1).max(200),
  trigger: RunTrigger,
  scheduledAt: Millis,
  startedAt: Millis,
  endedAt: Millis,
  outcome: Outcome,
  error: z.object({ code: ErrorCode, message: z.string().max(2000) }).nullable(),
  timings: Timings.nullable(),
  assertions: z.array(AssertionResult).max(MAX_ASSERTIONS_PER_CHECK),
  statusCode: z.number().int().min(100).max(599).nullable(),
  responseBytes: z.number().int().nonnegative().nullable(),
  /** Set by browser runs only. */
  browser: BrowserRunDetails.optional(),
  /** The signed slot this result answers; null only for local runs (`lookout test`), which nothing ingests. */
  slot: SlotProof.nullable(),
  /** What the run saw of the network (checks/evidence.ts): every HTTP run; a browser run's failing request. */
  network: NetworkFacts.optional(),
  /** Deeper evidence from a failing region: path trace, second resolver (checks/evidence.ts). */
  evidence: DeepEvidence.optional(),
}).refine((r) => (r.outcome === 'pass') === (r.error === null), { message: 'error must be set exactly when outcome is not "pass"', path: ['error'] })
  .refine((r) => r.outcome !== 'error' || AgentErrorCode.safeParse(r.error?.code).success, { message: 'outcome "error" needs an agent error code', path: ['error', 'code'] })
  .refine((r) => r.outcome !== 'fail' || TargetErrorCode.safeParse(r.error?.code).success, { message: 'outcome "fail" needs a target error code', path: ['error', 'code'] })
  .refine((r) => jsonBytes(r) <= MAX_RESULT_BYTES, { message: `the result is too large: ${atMost(MAX_RESULT_BYTES, 'bytes of JSON', 'MAX_RESULT_BYTES')}` });
export type RunResult = z.infer<typeof RunResult>;

// ---------------------------------------------------------------------------------------------
// Agent heartbeats (agent → Redis key with expiry, read by every coordinator)
// ---------------------------------------------------------------------------------------------

export const Heartbeat = z.object({
  schemaVersion: z.literal(SCHEMA_VERSION),
  agentId: z.string().min(1).max(200),
  region: RegionName,
  version: z.string().max(64),
  hostname: z.string().max(255),
  pid: z.number().int(),
  concurrency: z.number().int().positive().max(100_000),
  inFlight: z.number().int().nonnegative(),
  capabilities: z.array(z.string().max(64)).max(MAX_CAPABILITIES, atMost(MAX_CAPABILITIES, 'capabilities', 'MAX_CAPABILITIES')),
  startedAt: Millis,
  sentAt: Millis,
});
export type Heartbeat = z.infer<typeof Heartbeat>;

// ---------------------------------------------------------------------------------------------
// Canaries (coordinator → agent through the region's queue; the answer goes to a Redis key). A worker
// can stop fetching while its process still heartbeats (after a Redis outage or a Sentinel failover):
// only a job that makes the round trip proves that a region's agents consume their queue.
// ---------------------------------------------------------------------------------------------

/**
 * BullMQ job name of canaries. Check jobs are named by their check id, which cannot contain a dot, so
 * the name alone tells the two apart before any payload is read.
 */
export const CANARY_JOB_NAME = 'lookout.canary';

/** A canary: answer at once, without touching the network. */
export const CanaryJob = z.object({
  schemaVersion: z.literal(SCHEMA_VERSION),
  kind: z.literal('canary'),
  region: RegionName,
  /** Start of the canary slot (a multiple of `intervalMs`) the coordinator sent it for. */
  slot: Millis,
  /** How often the coordinators send canaries; the answer's key lives {@link CANARY_STALL_FACTOR} times this. */
  intervalMs: z.number().int().min(50).max(3_600_000),
  sentAt: Millis,
  /** Over (region, slot, intervalMs): checks/signing.ts `CanarySlot`. */
  signature: Signature,
});
export type CanaryJob = z.infer<typeof CanaryJob>;

/** What an agent writes to {@link canaryAnswerKey} when it answered a canary. */
export const CanaryAnswer = z.object({
  schemaVersion: z.literal(SCHEMA_VERSION),
  region: RegionName,
  agentId: z.string().min(1).max(200),
  /** The answered canary's slot. */
  slot: Millis,
  /** When the agent answered (its own clock; shown to people, never compared across machines). */
  at: Millis,
});
export type CanaryAnswer = z.infer<typeof CanaryAnswer>;

/**
 * A region is stalled when no canary was answered for this many canary intervals (while canaries are
 * sent and the region has agents with live heartbeats). The answer key expires after exactly that long,
 * so its mere presence means "answered recently" by Redis' clock, whatever the machines' clocks say.
 */
export const CANARY_STALL_FACTOR = 3;

/** How often agents write their heartbeat, and how long one stays valid. */
export const HEARTBEAT_INTERVAL_MS = 2_000;
export const HEARTBEAT_TTL_MS = 7_000;
