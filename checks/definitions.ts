/**
 * What a check is on the wire: its definition, one zod schema per check type, with the assertions and
 * the detection and alert policy it may carry. Part of the contract (contract.ts exports all of it);
 * bump `SCHEMA_VERSION` there on any incompatible change here.
 */
import { z } from 'zod';
import {
  MAX_ASSERTIONS_PER_CHECK, MAX_ASSERTION_VALUE_LENGTH, MAX_DEFINITION_BYTES, MAX_HEADERS_PER_CHECK, MAX_HEADER_VALUE_LENGTH,
  MAX_PATTERN_LENGTH, MAX_REGIONS_PER_CHECK, MAX_REQUEST_BODY_BYTES, MAX_SCRIPT_BYTES, MAX_TAGS_PER_CHECK, MAX_TAG_LENGTH,
  MAX_URL_LENGTH, atMost, jsonBytes,
} from './limits.ts';
import { userRegexProblem } from './regex.ts';
import { SECRET_NAME } from './secrets.ts';

/** Region names are short DNS-label-like slugs: `us-east`, `eu-west`, `ap-south`. */
export const RegionName = z
  .string()
  .regex(/^[a-z0-9][a-z0-9-]{0,31}$/, 'region must be 1-32 chars of a-z, 0-9 and "-", starting with a letter or digit');
export type RegionName = z.infer<typeof RegionName>;

/** Check ids are stable slugs; they key every stored thing, so they never contain ':' or spaces. */
export const CheckId = z
  .string()
  .regex(/^[a-z0-9][a-z0-9_-]{0,63}$/, 'id must be 1-64 chars of a-z, 0-9, "_" and "-", starting with a letter or digit');
export type CheckId = z.infer<typeof CheckId>;

const Millis = z.number().int().nonnegative();
const HeaderName = z.string().max(256, 'a header name has at most 256 characters').regex(/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/, 'not a valid HTTP header name');
/** An assertion's text (a value to find, a JSON path). */
const AssertionValue = z.string().max(MAX_ASSERTION_VALUE_LENGTH, atMost(MAX_ASSERTION_VALUE_LENGTH, 'characters', 'MAX_ASSERTION_VALUE_LENGTH'));

/**
 * Refuses a `matches` pattern that Lookout's linear-time engine cannot run (regex.ts), or a longer one
 * than {@link MAX_PATTERN_LENGTH}, naming the field.
 */
function checkPattern(pattern: string | undefined, ctx: z.RefinementCtx): void {
  if (pattern === undefined) return;
  if (pattern.length > MAX_PATTERN_LENGTH) {
    ctx.addIssue({ code: 'custom', path: ['value'], message: `a pattern has ${atMost(MAX_PATTERN_LENGTH, 'characters', 'MAX_PATTERN_LENGTH')}` });
    return;
  }
  const problem = userRegexProblem(pattern);
  if (problem !== null) ctx.addIssue({ code: 'custom', path: ['value'], message: `value ${problem}` });
}

// ---------------------------------------------------------------------------------------------
// Assertions (evaluated by the agent against a target's response)
// ---------------------------------------------------------------------------------------------

/**
 * Every assertion may be `soft`: a failed soft assertion does not fail the run; the run passes and its
 * region shows `degraded` (see the coordinator's verdicts). @defaultValue false
 */
const Soft = { soft: z.boolean().optional() };

export const StatusAssertion = z.discriminatedUnion('op', [
  z.object({ type: z.literal('status'), op: z.literal('equals'), value: z.number().int().min(100).max(599), ...Soft }),
  z.object({ type: z.literal('status'), op: z.literal('oneOf'), values: z.array(z.number().int().min(100).max(599)).min(1), ...Soft }),
  z.object({ type: z.literal('status'), op: z.literal('between'), min: z.number().int().min(100).max(599), max: z.number().int().min(100).max(599), ...Soft })
    .refine((a) => a.min <= a.max, { message: 'min must be <= max' }),
]);
export const HeaderAssertion = z.object({
  type: z.literal('header'),
  name: HeaderName,
  op: z.enum(['exists', 'equals', 'contains', 'matches']),
  /** Required for every op but `exists`; a regular expression source for `matches` (run in linear time: checks/regex.ts). */
  value: AssertionValue.optional(),
  ...Soft,
}).refine((a) => a.op === 'exists' || a.value !== undefined, { message: 'value is required unless op is "exists"', path: ['value'] })
  .superRefine((a, ctx) => { if (a.op === 'matches') checkPattern(a.value, ctx); });
export const BodyAssertion = z.object({
  type: z.literal('body'),
  op: z.enum(['contains', 'notContains', 'matches']),
  value: AssertionValue,
  ...Soft,
}).superRefine((a, ctx) => { if (a.op === 'matches') checkPattern(a.value, ctx); });
export const JsonPathAssertion = z.object({
  type: z.literal('jsonPath'),
  /** A dotted path with optional array indexes: `$.data.items[0].id` (the leading `$.` is optional). */
  path: AssertionValue.regex(/^(\$)?(\.?[A-Za-z_$][\w$-]*|\[\d+\])*$/, 'path must look like $.a.b[0].c'),
  op: z.enum(['exists', 'equals']),
  /** For `equals`: compared with deep equality to the JSON value found at `path`. */
  value: z.unknown().optional(),
  ...Soft,
});
export const ResponseTimeAssertion = z.object({
  type: z.literal('responseTime'),
  op: z.literal('lessThan'),
  ms: z.number().positive(),
  ...Soft,
});

export const Assertion = z.union([StatusAssertion, HeaderAssertion, BodyAssertion, JsonPathAssertion, ResponseTimeAssertion]);
export type Assertion = z.infer<typeof Assertion>;

// ---------------------------------------------------------------------------------------------
// Detection and alert policy (decided by the coordinator; agents ignore these fields). Every field is
// optional; the coordinator's coordinator/policy.ts holds the defaults applied to an absent one.
// ---------------------------------------------------------------------------------------------

/** Confirmation runs: what the coordinator runs at once when a run fails. */
export const ConfirmationPolicy = z.object({
  /** Confirmation runs in the failing region per failure streak; the n-th waits `backoffMs × 2^(n−1)`. @defaultValue 1 */
  retries: z.number().int().min(0).max(5).optional(),
  /** Wait before the first confirmation run in the failing region. @defaultValue 1000 */
  backoffMs: z.number().int().min(0).max(60_000).optional(),
  /** Also run the check at once in every other region of the check (that is not down or silent). @defaultValue true */
  otherRegions: z.boolean().optional(),
});
export type ConfirmationPolicy = z.infer<typeof ConfirmationPolicy>;

/** Flapping: a region that changes between up and down more than `changes` times within `windowMs`. */
export const FlappingPolicy = z.object({
  /** State changes within the window beyond which the region is flapping. @defaultValue 5 */
  changes: z.number().int().min(2).max(100).optional(),
  /** @defaultValue 600000 (10 min) */
  windowMs: z.number().int().min(1_000).max(86_400_000).optional(),
  /** How long a flapping region must keep one state before it is no longer flapping. @defaultValue 600000 (10 min) */
  stableForMs: z.number().int().min(1_000).max(86_400_000).optional(),
});
export type FlappingPolicy = z.infer<typeof FlappingPolicy>;

export const AlertingPolicy = z.object({
  /**
   * When an incident is global: `regions` failing regions (capped at the check's region count) for
   * `forMs`. @defaultValue every reporting region failing, at once
   */
  global: z.object({
    regions: z.number().int().min(1).max(100).optional(),
    forMs: z.number().int().min(0).max(86_400_000).optional(),
  }).optional(),
  /** Re-notify (`incident.reminder`) this often while an incident stays open; null: never. @defaultValue null */
  reminderEveryMs: z.number().int().min(10_000).max(7 * 86_400_000).nullable().optional(),
  /** Flapping detection; `false` turns it off. @defaultValue `{ changes: 5, windowMs: 600000, stableForMs: 600000 }` */
  flapping: z.union([z.literal(false), FlappingPolicy]).optional(),
  /** Send `check.degraded` / `check.recovered` events when a region becomes degraded or recovers from it. @defaultValue false */
  notifyDegraded: z.boolean().optional(),
});
export type AlertingPolicy = z.infer<typeof AlertingPolicy>;

/** An objective in percent, e.g. 99.9. */
const SloObjective = z.number().gt(0, 'objective must be a percentage above 0').lt(100, 'objective must be a percentage below 100');
/** Rolling SLO window, whole hours from 1 h to 30 days (hour rollups are kept 35 days). */
const SloWindowMs = z.number().int().min(3_600_000).max(30 * 86_400_000);

export const SloPolicy = z.object({
  /** Share of target results that pass. */
  availability: z.object({
    /** In percent, e.g. 99.9. */
    objective: SloObjective,
    /** @defaultValue 2592000000 (30 days) */
    windowMs: SloWindowMs.optional(),
  }).optional(),
  /** Share of target results (with a time) that take at most `thresholdMs`. */
  latency: z.object({
    /** In percent, e.g. 99. */
    objective: SloObjective,
    thresholdMs: z.number().int().min(1).max(300_000),
    /** @defaultValue 2592000000 (30 days) */
    windowMs: SloWindowMs.optional(),
  }).optional(),
  /** Multiwindow burn-rate alerts (`slo.burn_rate` events). @defaultValue true */
  burnRateAlerts: z.boolean().optional(),
}).refine((s) => s.availability !== undefined || s.latency !== undefined, 'an SLO needs an availability or a latency objective (or both)');
export type SloPolicy = z.infer<typeof SloPolicy>;

// ---------------------------------------------------------------------------------------------
// Check definitions
// ---------------------------------------------------------------------------------------------

const CheckCommon = {
  id: CheckId,
  name: z.string().min(1).max(200),
  regions: z.array(RegionName).min(1).max(MAX_REGIONS_PER_CHECK, atMost(MAX_REGIONS_PER_CHECK, 'regions per check', 'MAX_REGIONS_PER_CHECK'))
    .refine((r) => new Set(r).size === r.length, 'regions must not repeat'),
  /** How often each region runs the check. */
  frequencyMs: z.number().int().min(1_000).max(86_400_000),
  /** Overall deadline of one run; the run is stopped, not just reported late, when it passes. */
  timeoutMs: z.number().int().min(100).max(300_000),
  /** Consecutive failed runs before a region is `down`. */
  failureThreshold: z.number().int().min(1).max(100).default(2),
  /** Consecutive passing runs before a `down` region is `up` again. */
  successThreshold: z.number().int().min(1).max(100).default(2),
  tags: z.array(z.string().min(1).max(MAX_TAG_LENGTH, `a tag has ${atMost(MAX_TAG_LENGTH, 'characters', 'MAX_TAG_LENGTH')}`))
    .max(MAX_TAGS_PER_CHECK, atMost(MAX_TAGS_PER_CHECK, 'tags per check', 'MAX_TAGS_PER_CHECK')).default([]),
  /** A passing run slower than this (total time) makes its region `degraded`. @defaultValue none */
  degradedAfterMs: z.number().int().min(1).max(300_000).optional(),
  confirmation: ConfirmationPolicy.optional(),
  alerting: AlertingPolicy.optional(),
  slo: SloPolicy.optional(),
  /**
   * Names of the agent secrets the check uses: computed by the loader (its `secret('NAME')` placeholders,
   * its script's `secrets.NAME` references, plus a browser check's declared `secrets`) and checked by the
   * coordinator, which refuses a list that leaves out a name the check references. An agent resolves
   * these names and no others. @defaultValue [] (none: also what definitions stored before the field read as)
   */
  secrets: z.array(z.string().regex(SECRET_NAME, 'secret names are letters, digits and "_", not starting with a digit'))
    .max(100).refine((names) => new Set(names).size === names.length, 'secret names must not repeat').default([]),
};

/**
 * A definition (a browser check's script bundle left out: it has its own bound) must fit in
 * {@link MAX_DEFINITION_BYTES} as JSON: every job of the check carries it.
 */
function withinDefinitionBytes(definition: object): boolean {
  return jsonBytes({ ...definition, script: undefined }) <= MAX_DEFINITION_BYTES;
}
const DEFINITION_TOO_LARGE = { message: `the definition is too large: ${atMost(MAX_DEFINITION_BYTES, 'bytes of JSON', 'MAX_DEFINITION_BYTES')}`, path: [] };

export const HttpMethod = z.enum(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);

export const HttpCheckDefinition = z.object({
  type: z.literal('http'),
  ...CheckCommon,
  // zod 4 runs this refine even when .url() failed, so it must not throw on a non-URL.
  url: z.string().max(MAX_URL_LENGTH, atMost(MAX_URL_LENGTH, 'characters', 'MAX_URL_LENGTH')).url().refine((u) => !URL.canParse(u) || /^https?:$/.test(new URL(u).protocol), 'url must be http:// or https://'),
  method: HttpMethod.default('GET'),
  headers: z.record(HeaderName, z.string().max(MAX_HEADER_VALUE_LENGTH, `a header value has ${atMost(MAX_HEADER_VALUE_LENGTH, 'characters', 'MAX_HEADER_VALUE_LENGTH')}`))
    .refine((h) => Object.keys(h).length <= MAX_HEADERS_PER_CHECK, atMost(MAX_HEADERS_PER_CHECK, 'headers per check', 'MAX_HEADERS_PER_CHECK')).default({}),
  body: z.string().refine((b) => Buffer.byteLength(b) <= MAX_REQUEST_BODY_BYTES, `the request body has ${atMost(MAX_REQUEST_BODY_BYTES, 'bytes', 'MAX_REQUEST_BODY_BYTES')}`).optional(),
  assertions: z.array(Assertion).max(MAX_ASSERTIONS_PER_CHECK, atMost(MAX_ASSERTIONS_PER_CHECK, 'assertions per check', 'MAX_ASSERTIONS_PER_CHECK'))
    .default([{ type: 'status', op: 'between', min: 200, max: 399 }]),
  followRedirects: z.boolean().default(true),
  maxRedirects: z.number().int().min(0).max(20).default(5),
  /** Cap on the decoded (decompressed) response body; a larger body fails the run with BODY_TOO_LARGE. */
  maxBodyBytes: z.number().int().min(1).max(64 * 1024 * 1024).default(1024 * 1024),
}).refine((c) => c.timeoutMs <= c.frequencyMs, { message: 'timeout must not exceed frequency', path: ['timeoutMs'] })
  .refine(withinDefinitionBytes, DEFINITION_TOO_LARGE);
export type HttpCheckDefinition = z.infer<typeof HttpCheckDefinition>;


/**
 * A browser journey: a Playwright script, bundled at deploy time by the loader (the check file with its
 * relative imports and the SDK inlined), so that an agent never needs the user's repository.
 */
export const BrowserCheckDefinition = z.object({
  type: z.literal('browser'),
  ...CheckCommon,
  timeoutMs: z.number().int().min(1_000).max(300_000),
  script: z.object({
    /** Self-contained ESM code; the agent imports it and runs the export whose `id` is this check's. */
    bundle: z.string().min(1).max(MAX_SCRIPT_BYTES, `the bundled script is too large: ${atMost(MAX_SCRIPT_BYTES, 'bytes', 'MAX_SCRIPT_BYTES')}`)
      .refine((b) => Buffer.byteLength(b) <= MAX_SCRIPT_BYTES, `the bundled script is too large: ${atMost(MAX_SCRIPT_BYTES, 'bytes', 'MAX_SCRIPT_BYTES')}`),
    /** The check file it came from, relative to the project, for messages. */
    file: z.string().min(1).max(500),
  }),
}).refine((c) => c.timeoutMs <= c.frequencyMs, { message: 'timeout must not exceed frequency', path: ['timeoutMs'] })
  .refine(withinDefinitionBytes, DEFINITION_TOO_LARGE);
export type BrowserCheckDefinition = z.infer<typeof BrowserCheckDefinition>;

/**
 * Every kind of check. A kind added here is not done until the compiler is satisfied: it then asks for
 * the kind's traits (checks/check-types.ts), its SDK options (checks/sdk.ts) and its runner
 * (agent/runners/index.ts).
 */
export const CheckDefinition = z.discriminatedUnion('type', [HttpCheckDefinition, BrowserCheckDefinition]);
export type CheckDefinition = z.infer<typeof CheckDefinition>;
export type CheckType = CheckDefinition['type'];
/** The definition of one check type, e.g. `CheckDefinitionOf<'http'>` is `HttpCheckDefinition`. */
export type CheckDefinitionOf<T extends CheckType> = Extract<CheckDefinition, { type: T }>;

/** A definition as stored by the coordinator: the user's definition plus the registry's version. */
export const StoredCheck = z.object({
  definition: CheckDefinition,
  version: z.number().int().positive(),
  updatedAt: Millis,
});
export type StoredCheck = z.infer<typeof StoredCheck>;
