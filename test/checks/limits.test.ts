import { describe, expect, it } from 'vitest';
import { zodProblems } from '../../lib/zod-problems.ts';
import { BrowserCheckDefinition, HttpCheckDefinition, Heartbeat, RunResult, SCHEMA_VERSION } from '../../checks/contract.ts';
import {
  MAX_ASSERTIONS_PER_CHECK, MAX_ASSERTION_VALUE_LENGTH, MAX_DEFINITION_BYTES, MAX_HEADERS_PER_CHECK, MAX_HEADER_VALUE_LENGTH, MAX_PATTERN_LENGTH,
  MAX_REGIONS_PER_CHECK, MAX_REQUEST_BODY_BYTES, MAX_RESULT_BYTES, MAX_SCRIPT_BYTES, MAX_TAGS_PER_CHECK, MAX_URL_LENGTH, jsonBytes, jsonDepth,
} from '../../checks/limits.ts';

const http = { type: 'http', id: 'api', name: 'API', url: 'https://example.test/', regions: ['us-east'], frequencyMs: 60_000, timeoutMs: 5_000 };
const regions = (n: number): string[] => Array.from({ length: n }, (_, i) => `r${i}`);
const headers = (n: number): Record<string, string> => Object.fromEntries(Array.from({ length: n }, (_, i) => [`x-h${i}`, 'v']));
const status = { type: 'status', op: 'equals', value: 200 };

/** Each limit: a definition at the limit passes; one past it is refused at the field, naming the limit. */
const cases: Array<[string, Record<string, unknown>, Record<string, unknown>, string, string]> = [
  ['regions', { regions: regions(MAX_REGIONS_PER_CHECK) }, { regions: regions(MAX_REGIONS_PER_CHECK + 1) }, 'regions', 'MAX_REGIONS_PER_CHECK'],
  ['tags', { tags: Array(MAX_TAGS_PER_CHECK).fill('t') }, { tags: Array(MAX_TAGS_PER_CHECK + 1).fill('t') }, 'tags', 'MAX_TAGS_PER_CHECK'],
  ['headers', { headers: headers(MAX_HEADERS_PER_CHECK) }, { headers: headers(MAX_HEADERS_PER_CHECK + 1) }, 'headers', 'MAX_HEADERS_PER_CHECK'],
  ['header value', { headers: { a: 'v'.repeat(MAX_HEADER_VALUE_LENGTH) } }, { headers: { a: 'v'.repeat(MAX_HEADER_VALUE_LENGTH + 1) } }, 'headers.a', 'MAX_HEADER_VALUE_LENGTH'],
  ['assertions', { assertions: Array(MAX_ASSERTIONS_PER_CHECK).fill(status) }, { assertions: Array(MAX_ASSERTIONS_PER_CHECK + 1).fill(status) }, 'assertions', 'MAX_ASSERTIONS_PER_CHECK'],
  ['assertion value', { assertions: [{ type: 'body', op: 'contains', value: 'x'.repeat(MAX_ASSERTION_VALUE_LENGTH) }] },
    { assertions: [{ type: 'body', op: 'contains', value: 'x'.repeat(MAX_ASSERTION_VALUE_LENGTH + 1) }] }, 'assertions[0].value', 'MAX_ASSERTION_VALUE_LENGTH'],
  ['pattern', { assertions: [{ type: 'body', op: 'matches', value: 'x'.repeat(MAX_PATTERN_LENGTH) }] },
    { assertions: [{ type: 'body', op: 'matches', value: 'x'.repeat(MAX_PATTERN_LENGTH + 1) }] }, 'assertions[0].value', 'MAX_PATTERN_LENGTH'],
  ['request body', { body: 'b'.repeat(MAX_REQUEST_BODY_BYTES) }, { body: 'é'.repeat(MAX_REQUEST_BODY_BYTES / 2 + 1) }, 'body', 'MAX_REQUEST_BODY_BYTES'],
  ['url', { url: `https://example.test/${'p'.repeat(MAX_URL_LENGTH - 21)}` }, { url: `https://example.test/${'p'.repeat(MAX_URL_LENGTH)}` }, 'url', 'MAX_URL_LENGTH'],
  ['definition bytes', { assertions: [{ type: 'jsonPath', path: '$.a', op: 'equals', value: 'v'.repeat(MAX_DEFINITION_BYTES / 2) }] },
    { assertions: [{ type: 'jsonPath', path: '$.a', op: 'equals', value: 'v'.repeat(MAX_DEFINITION_BYTES) }] }, '', 'MAX_DEFINITION_BYTES'],
];

describe('limits on a check definition', () => {
  it.each(cases)('%s: at the limit passes, past it is refused naming the field and the limit', (_name, atLimit, pastLimit, field, constant) => {
    expect(HttpCheckDefinition.safeParse({ ...http, ...atLimit }).success).toBe(true);
    const parsed = HttpCheckDefinition.safeParse({ ...http, ...pastLimit });
    expect(parsed.success).toBe(false);
    const problems = zodProblems(parsed.error!);
    expect(problems).toContainEqual({ field, message: expect.stringContaining(constant) });
  });

  it('bounds a browser check\'s script in bytes, not characters', () => {
    const browser = { ...http, type: 'browser', url: undefined, timeoutMs: 5_000, script: { bundle: 'é'.repeat(MAX_SCRIPT_BYTES / 2 + 1), file: 'a.check.ts' } };
    const parsed = BrowserCheckDefinition.safeParse(browser);
    expect(parsed.success).toBe(false);
    expect(zodProblems(parsed.error!)).toContainEqual({ field: 'script.bundle', message: expect.stringContaining('MAX_SCRIPT_BYTES') });
  });

  it('refuses 10,000 regions with one problem, not one per region', () => {
    const parsed = HttpCheckDefinition.safeParse({ ...http, regions: regions(10_000) });
    expect(zodProblems(parsed.error!).filter((p) => p.field.startsWith('regions'))).toHaveLength(1);
  });
});

describe('limits on results and heartbeats', () => {
  const result = {
    schemaVersion: SCHEMA_VERSION, checkId: 'api', checkVersion: 1, region: 'us-east', agentId: 'a1', trigger: 'schedule',
    scheduledAt: 1, startedAt: 2, endedAt: 3, outcome: 'fail', error: { code: 'ASSERTION_FAILED', message: 'm' },
    timings: null, statusCode: 200, responseBytes: 10, slot: null,
  };
  it('refuses a result past MAX_RESULT_BYTES and assertion texts past their length', () => {
    const text = 'x'.repeat(900);
    const assertions = Array.from({ length: MAX_ASSERTIONS_PER_CHECK }, () => ({ assertion: { type: 'body', op: 'contains', value: 'y'.repeat(1_000) }, passed: false, expected: text, actual: text }));
    expect(jsonBytes({ ...result, assertions })).toBeLessThan(MAX_RESULT_BYTES);
    expect(RunResult.safeParse({ ...result, assertions }).success).toBe(true);
    const tooLong = RunResult.safeParse({ ...result, assertions: [{ ...assertions[0], actual: 'x'.repeat(5_000) }] });
    expect(tooLong.success).toBe(false);
    const tooMany = RunResult.safeParse({ ...result, assertions: [...assertions, assertions[0]] });
    expect(tooMany.success).toBe(false);
  });
  it('refuses a heartbeat announcing too much', () => {
    const beat = { schemaVersion: SCHEMA_VERSION, agentId: 'a', region: 'r', version: '1', hostname: 'h', pid: 1, concurrency: 1, inFlight: 0, capabilities: ['http'], startedAt: 1, sentAt: 2 };
    expect(Heartbeat.safeParse(beat).success).toBe(true);
    expect(Heartbeat.safeParse({ ...beat, capabilities: Array(1_000).fill('http') }).success).toBe(false);
    expect(Heartbeat.safeParse({ ...beat, hostname: 'h'.repeat(10_000) }).success).toBe(false);
  });
});

describe('JSON helpers', () => {
  it('measures nesting without recursion and sizes what cannot be serialized as infinite', () => {
    let deep: unknown = 1;
    for (let i = 0; i < 100_000; i++) deep = [deep];
    expect(jsonDepth(deep)).toBe(65);
    expect(jsonDepth({ a: [1, { b: 2 }] })).toBe(3);
    expect(jsonBytes(deep)).toBe(Number.POSITIVE_INFINITY);
  });
});
