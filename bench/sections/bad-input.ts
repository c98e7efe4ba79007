/**
 * Bad input, timed: how long a coordinator process takes to refuse each kind (the cases of
 * test/e2e/bad-input.test.ts, which asserts their codes), a deploy of a check with the most regions
 * allowed while the API keeps answering, a pathological pattern against a 64 KB header on the agents'
 * engine, and the API's answer with its Redis paused (SIGSTOP).
 */
import { connect } from 'node:net';
import { evaluateAssertions, lazyJson } from '../../agent/runners/http/assertions.ts';
import { MAX_REGIONS_PER_CHECK } from '../../checks/limits.ts';
import { httpCheck } from '../lib/payloads.ts';
import { figure, target } from '../lib/report.ts';
import { uniquePrefix, type Section, type SectionContext, type SectionOutput } from '../lib/section.ts';
import { startCoordinatorProcess } from '../lib/services.ts';
import { median, round } from '../lib/stats.ts';

interface Timed { status: number; code: string | undefined; ms: number }

async function timedCall(url: string, method: string, body?: string, timeoutMs = 30_000): Promise<Timed> {
  const started = performance.now();
  try {
    const response = await fetch(url, { method, body, headers: body ? { 'content-type': 'application/json' } : {}, signal: AbortSignal.timeout(timeoutMs) });
    const text = await response.text();
    let code: string | undefined;
    try { code = (JSON.parse(text) as { error?: { code?: string } }).error?.code; } catch { code = undefined; }
    return { status: response.status, code, ms: performance.now() - started };
  } catch (error) {
    return { status: 0, code: (error as Error).name, ms: performance.now() - started };
  }
}

function rawCall(base: string, bytes: string): Promise<Timed> {
  const started = performance.now();
  return new Promise((resolve) => {
    const socket = connect(Number(new URL(base).port), '127.0.0.1', () => socket.write(bytes));
    let text = '';
    socket.on('data', (chunk: Buffer) => { text += chunk.toString('latin1'); });
    socket.on('error', () => resolve({ status: 0, code: 'SOCKET_ERROR', ms: performance.now() - started }));
    socket.on('close', () => {
      let code: string | undefined;
      try { code = (JSON.parse(text.slice(text.indexOf('\r\n\r\n') + 4)) as { error?: { code?: string } }).error?.code; } catch { code = undefined; }
      resolve({ status: Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0), code, ms: performance.now() - started });
    });
  });
}

const check = (id: string): Record<string, unknown> => httpCheck({ id, url: 'http://127.0.0.1:9/', regions: ['r1'] });
const regions = (n: number): string[] => Array.from({ length: n }, (_, i) => `r${i}`);

async function run(ctx: SectionContext): Promise<SectionOutput> {
  const repeats = ctx.smoke ? 1 : 5;
  const coordinator = await startCoordinatorProcess({ redisUrl: ctx.redis.url, prefix: uniquePrefix('bad'), logDir: ctx.logDir });
  ctx.defer(() => coordinator.stop());
  const api = `${coordinator.url}/api/deployments`;
  const deployBody = (checks: unknown[]): string => JSON.stringify({ checks, prune: false });
  let nested = '1';
  for (let i = 0; i < 10_000; i++) nested = `[${nested}]`;

  const cases: Array<[string, () => Promise<Timed>]> = [
    ['malformed JSON', () => timedCall(api, 'POST', '{"checks": [')],
    ['a 10 MB body', () => timedCall(api, 'POST', JSON.stringify({ checks: [], pad: 'x'.repeat(10_000_000) }))],
    ['JSON nested 10,000 deep', () => timedCall(api, 'POST', `{"checks":${nested}}`)],
    ['a check with 10,000 regions', () => timedCall(api, 'POST', deployBody([{ ...check('wide'), regions: regions(10_000) }]))],
    ['a check with 2,000 regions (17 KB)', () => timedCall(api, 'POST', deployBody([{ ...check('wide'), regions: regions(2_000) }]))],
    ['a pattern the linear engine cannot run', () => timedCall(api, 'POST', deployBody([{ ...check('redos'), assertions: [{ type: 'body', op: 'matches', value: '(a)\\1' }] }]))],
    ['traversal in a check id', () => timedCall(`${coordinator.url}/api/checks/..%2F..%2Fetc`, 'GET')],
    ['a raw NUL in the path', () => rawCall(coordinator.url, 'GET /api/checks\0x HTTP/1.1\r\nHost: x\r\n\r\n')],
  ];
  const figures = [];
  const answers: Record<string, { status: number; code: string | undefined; medianMs: number }> = {};
  for (const [name, send] of cases) {
    const times: number[] = [];
    let last: Timed = { status: 0, code: undefined, ms: 0 };
    for (let i = 0; i < repeats; i++) { last = await send(); times.push(last.ms); }
    answers[name] = { status: last.status, code: last.code, medianMs: round(median(times) ?? 0, 1) ?? 0 };
    figures.push(figure(`${name} → ${last.status} ${last.code ?? ''}`.trim(), round(median(times) ?? 0, 1), 'ms'));
  }

  // The most regions allowed: the deploy answers (within the scheduling wait at most), and reads answer meanwhile.
  const most = { ...check('most'), regions: regions(MAX_REGIONS_PER_CHECK), frequencyMs: 3_600_000 };
  const deploying = timedCall(api, 'POST', deployBody([most]));
  const readWhileDeploying = await timedCall(`${coordinator.url}/api/checks`, 'GET');
  const deployed = await deploying;
  figures.push(figure(`deploy of a check with ${MAX_REGIONS_PER_CHECK} regions → ${deployed.status}`, round(deployed.ms, 1), 'ms'));
  figures.push(figure('GET /api/checks while it deploys', round(readWhileDeploying.ms, 1), 'ms'));

  // A pathological pattern against a 64 KB header, on the agents' linear-time engine.
  const header = `${'a'.repeat(64 * 1024)}b`;
  const facts = { status: 200, headers: { 'x-evil': header }, bodyText: '', json: lazyJson(() => ''), totalMs: 1 };
  const redosTimes: number[] = [];
  for (let i = 0; i < repeats * 4; i++) {
    const started = performance.now();
    evaluateAssertions([{ type: 'header', name: 'x-evil', op: 'matches', value: '^(a|aa)+$' }], facts);
    redosTimes.push(performance.now() - started);
  }
  const redosMs = round(median(redosTimes) ?? 0, 2) ?? 0;
  figures.push(figure('^(a|aa)+$ against a 64 KB header', redosMs, 'ms'));

  // Redis paused: the API answers 503 within its command timeout.
  await timedCall(`${coordinator.url}/api/checks`, 'GET');
  process.kill(ctx.redis.pid, 'SIGSTOP');
  let stalled: Timed;
  try {
    stalled = await timedCall(`${coordinator.url}/api/checks`, 'GET', undefined, 10_000);
  } finally {
    process.kill(ctx.redis.pid, 'SIGCONT');
  }
  figures.push(figure(`GET /api/checks with Redis SIGSTOPped → ${stalled.status} ${stalled.code ?? ''}`.trim(), round(stalled.ms, 1), 'ms'));

  const wide = answers['a check with 10,000 regions']!;
  return {
    figures,
    targets: [
      target('a check with too many regions refused in < 100 ms', wide.status === 400 ? wide.medianMs : null, 'ms', (v) => v < 100),
      target(`a deploy of a check with ${MAX_REGIONS_PER_CHECK} regions answers in < 5 s`, deployed.status === 200 ? deployed.ms : null, 'ms', (v) => v < 5_000),
      target('a ReDoS pattern against a 64 KB header in < 50 ms', redosMs, 'ms', (v) => v < 50),
      target('GET /api/checks answers 503 within 1 s with Redis SIGSTOPped', stalled.status === 503 ? stalled.ms : null, 'ms', (v) => v < 1_000),
    ],
    notes: [`answers: ${JSON.stringify(answers)}`],
    data: { answers, deployMs: deployed.ms, readWhileDeployingMs: readWhileDeploying.ms, redosMs, stalledMs: stalled.ms, stalledStatus: stalled.status },
  };
}

export const badInput: Section = { id: 'bad-input', title: 'Bad input: refusals, timed', run };
