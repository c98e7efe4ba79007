/**
 * Every size limit on what enters Lookout from outside, in one place: check definitions (the SDK's
 * validation and the deploy API both use the contract's schemas, which read these), deployments,
 * results (ingest) and heartbeats. Redis runs with `noeviction`, so an unbounded input would fill it and
 * stop the whole fleet; each bound here keeps one input's cost known. The README's "Limits" section
 * lists every one with its value: change both together.
 *
 * Pure constants and a byte counter; nothing here does I/O.
 */

/** Regions one check may run in. Each region is a queue and a verdict; 10,000 regions once made one deploy take the coordinator down. */
export const MAX_REGIONS_PER_CHECK = 32;
/** Checks in one deployment (the benchmarks deploy 5,000 at once). */
export const MAX_CHECKS_PER_DEPLOYMENT = 10_000;
/** Tags per check. */
export const MAX_TAGS_PER_CHECK = 32;
/** Characters per tag. */
export const MAX_TAG_LENGTH = 64;
/** Request headers per HTTP check. */
export const MAX_HEADERS_PER_CHECK = 64;
/** Characters of one request header value (before secrets are resolved). */
export const MAX_HEADER_VALUE_LENGTH = 8 * 1024;
/** Assertions per check. */
export const MAX_ASSERTIONS_PER_CHECK = 50;
/** Characters of an assertion's text: a header or body value, a JSON path. */
export const MAX_ASSERTION_VALUE_LENGTH = 1_024;
/** Characters of a regular expression (`matches`); its cost grows with pattern × input length. */
export const MAX_PATTERN_LENGTH = 512;
/** Characters of an HTTP check's URL. */
export const MAX_URL_LENGTH = 8 * 1024;
/** Bytes (UTF-8) of an HTTP check's request body. */
export const MAX_REQUEST_BODY_BYTES = 64 * 1024;
/**
 * Bytes of one check definition as JSON, a browser check's script bundle left out (it has its own
 * bound): every job of the check carries the definition.
 */
export const MAX_DEFINITION_BYTES = 128 * 1024;
/** Bytes (UTF-8) of a browser check's bundled script. */
export const MAX_SCRIPT_BYTES = 1024 * 1024;
/** Bytes of a deploy, plan or rollback request body: the largest body the API reads. */
export const MAX_DEPLOYMENT_BYTES = 5 * 1024 * 1024;
/** Characters of an assertion result's `expected` and `actual` texts. */
export const MAX_ASSERTION_TEXT_LENGTH = 1_000;
/** Bytes of one result as JSON; ingest refuses larger ones, agents never publish one. */
export const MAX_RESULT_BYTES = 256 * 1024;
/** Bytes of one heartbeat as stored; coordinators ignore (and log) a larger one. */
export const MAX_HEARTBEAT_BYTES = 4 * 1024;
/** Capabilities (check types) one heartbeat may announce. */
export const MAX_CAPABILITIES = 32;
/** Milliseconds `lookout deploy` and `lookout test` give a check file to load (`--import-timeout`). */
export const DEFAULT_IMPORT_TIMEOUT_MS = 10_000;
/** Longest a deploy waits for the schedules to follow before it answers "applied, scheduling". */
export const DEPLOY_SCHEDULING_WAIT_MS = 5_000;

/** Deepest nesting of arrays and objects accepted in a JSON request body. */
export const MAX_JSON_DEPTH = 64;

/**
 * UTF-8 bytes of `value` as JSON (0 for what JSON cannot show); `Infinity` for a value too deeply nested
 * (or cyclic) to serialize, so that a size check refuses it instead of throwing.
 */
export function jsonBytes(value: unknown): number {
  let text: string | undefined;
  try { text = JSON.stringify(value); } catch { return Number.POSITIVE_INFINITY; }
  return text === undefined ? 0 : Buffer.byteLength(text);
}

/** How deeply arrays and objects nest in `value` (0 for a scalar), counted without recursion, stopping past `max`. */
export function jsonDepth(value: unknown, max = MAX_JSON_DEPTH): number {
  let deepest = 0;
  const stack: Array<[unknown, number]> = [[value, 0]];
  while (stack.length > 0) {
    const [item, depth] = stack.pop()!;
    if (item === null || typeof item !== 'object') continue;
    const level = depth + 1;
    if (level > deepest) deepest = level;
    if (deepest > max) return deepest;
    for (const child of Array.isArray(item) ? item : Object.values(item)) stack.push([child, level]);
  }
  return deepest;
}

/** `"regions: at most 32 (MAX_REGIONS_PER_CHECK)"`-style wording shared by every limit message. */
export function atMost(limit: number, unit: string, name: string): string {
  return `at most ${limit.toLocaleString('en-US')} ${unit} (${name})`;
}
