/**
 * Timing accuracy: Lookout's phase timings (dns, connect, tls, firstByte) against curl's `-w` timings for
 * the same loopback target, over HTTP and over HTTPS (a self-made CA and certificate). Runs alternate
 * (Lookout, curl, Lookout, ...) so that drift in the machine's load hits both alike; the first runs of
 * each are warm-up and dropped. Both resolve the same name through getaddrinfo (/etc/hosts).
 */
import { execFile } from 'node:child_process';
import { lookup } from 'node:dns/promises';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { connect as connectTcp, type Socket } from 'node:net';
import { connect as connectTls, createSecureContext, type SecureContext } from 'node:tls';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { createHttpRunner } from '../../agent/runners/http/index.ts';
import type { Timings } from '../../checks/contract.ts';
import { makeCertificates } from '../lib/certs.ts';
import { httpCheck } from '../lib/payloads.ts';
import { figure, target, type Figure, type Target } from '../lib/report.ts';
import type { Section, SectionContext, SectionOutput } from '../lib/section.ts';
import { median } from '../lib/stats.ts';
import { startTarget } from './http-throughput.ts';

const run = promisify(execFile);
const PHASES = ['dns', 'connect', 'tls', 'firstByte'] as const;
type Phase = typeof PHASES[number];
type PhaseTimes = Record<Phase, number | null>;

/**
 * A name other than `localhost` that resolves to a loopback address through getaddrinfo (curl answers
 * `localhost` itself without resolving, which would leave its DNS phase empty), with the address it
 * resolves to: the targets listen on that address. It need not be 127.0.0.1: a standard Debian
 * /etc/hosts puts the machine's own name on 127.0.1.1.
 */
export async function loopbackName(): Promise<{ name: string; address: string; viaResolver: boolean }> {
  for (const name of [hostname(), 'vm', 'runsc', 'ip6-localhost']) {
    if (!name || name === 'localhost') continue;
    try {
      const { address } = await lookup(name, { family: 4 });
      if (address.startsWith('127.')) return { name, address, viaResolver: true };
    } catch { /* try the next */ }
  }
  return { name: 'localhost', address: '127.0.0.1', viaResolver: false };
}

/** curl's cumulative `-w` times (seconds) turned into phase durations (ms), as Lookout defines them. */
export function curlPhases(w: { namelookup: number; connect: number; appconnect: number; starttransfer: number }, secure: boolean): PhaseTimes {
  const ms = (s: number): number => s * 1000;
  const ready = secure ? w.appconnect : w.connect;
  return {
    dns: ms(w.namelookup),
    connect: ms(w.connect - w.namelookup),
    tls: secure ? ms(w.appconnect - w.connect) : null,
    firstByte: ms(w.starttransfer - ready),
  };
}

export function lookoutPhases(t: Timings): PhaseTimes {
  return { dns: t.dnsMs, connect: t.connectMs, tls: t.tlsMs, firstByte: t.firstByteMs };
}

async function curlOnce(url: string, caFile: string): Promise<PhaseTimes> {
  const { stdout } = await run('curl', ['-s', '-o', '/dev/null', '--cacert', caFile, '--max-time', '5',
    '-w', '%{time_namelookup} %{time_connect} %{time_appconnect} %{time_starttransfer} %{http_code}', url]);
  const [namelookup, connect, appconnect, starttransfer, code] = stdout.trim().split(' ').map(Number);
  if (code !== 200) throw new Error(`BENCH_CURL: curl got HTTP ${code} from ${url}`);
  return curlPhases({ namelookup: namelookup!, connect: connect!, appconnect: appconnect!, starttransfer: starttransfer! }, url.startsWith('https:'));
}

/**
 * A second reference: the same request with bare node:net and node:tls (TCP connect, then TLS over the
 * connected socket, a secure context built once), timing each event. No HTTP client, no undici.
 */
async function rawNodeOnce(url: URL, secureContext: SecureContext): Promise<PhaseTimes> {
  const t0 = performance.now();
  const { address } = await lookup(url.hostname, { family: 4 });
  const t1 = performance.now();
  const tcp = connectTcp({ host: address, port: Number(url.port) });
  tcp.setNoDelay(true);
  await once(tcp, 'connect');
  const t2 = performance.now();
  let socket: Socket = tcp;
  let t3: number | null = null;
  if (url.protocol === 'https:') {
    socket = connectTls({ socket: tcp, host: url.hostname, servername: url.hostname, secureContext, ALPNProtocols: ['http/1.1'] });
    await once(socket, 'secureConnect');
    t3 = performance.now();
  }
  const firstData = once(socket, 'data');
  socket.write(`GET ${url.pathname} HTTP/1.1\r\nhost: ${url.host}\r\nconnection: close\r\n\r\n`);
  await firstData;
  const t4 = performance.now();
  socket.destroy();
  return { dns: t1 - t0, connect: t2 - t1, tls: t3 === null ? null : t3 - t2, firstByte: t4 - (t3 ?? t2) };
}

interface Comparison { protocol: string; samples: number; lookout: PhaseTimes; curl: PhaseTimes; difference: PhaseTimes; rawNode: PhaseTimes }

async function compare(ctx: SectionContext, protocol: 'http' | 'https', url: string, ca: string, samples: number): Promise<Comparison> {
  const runner = createHttpRunner({ ca: readFileSync(ca) });
  const definition = httpCheck({ id: `timing-${protocol}`, url, regions: ['bench'], assertions: [{ type: 'status', op: 'equals', value: 200 }] });
  const secureContext = createSecureContext({ ca: readFileSync(ca) });
  const ours: PhaseTimes[] = [];
  const theirs: PhaseTimes[] = [];
  const raw: PhaseTimes[] = [];
  const warmUp = ctx.smoke ? 1 : 3;
  for (let i = 0; i < samples + warmUp; i++) {
    const report = await runner(definition, { region: 'bench', agentId: 'bench', signal: new AbortController().signal, deadlineAt: Date.now() + 5_000 });
    if (report.outcome !== 'pass' || !report.timings) throw new Error(`BENCH_TIMING: Lookout's run of ${url} did not pass: ${JSON.stringify(report.error)}`);
    const theirsNow = await curlOnce(url, ca);
    const rawNow = await rawNodeOnce(new URL(url), secureContext);
    if (i < warmUp) continue;
    ours.push(lookoutPhases(report.timings));
    theirs.push(theirsNow);
    raw.push(rawNow);
  }
  const med = (list: PhaseTimes[], phase: Phase): number | null => median(list.map((p) => p[phase]).filter((v): v is number => v !== null));
  const lookout = Object.fromEntries(PHASES.map((p) => [p, med(ours, p)])) as PhaseTimes;
  const curl = Object.fromEntries(PHASES.map((p) => [p, med(theirs, p)])) as PhaseTimes;
  const rawNode = Object.fromEntries(PHASES.map((p) => [p, med(raw, p)])) as PhaseTimes;
  const difference = Object.fromEntries(PHASES.map((p) => [p, lookout[p] === null || curl[p] === null ? null : lookout[p]! - curl[p]!])) as PhaseTimes;
  ctx.log(`${protocol}: ${JSON.stringify(difference)}`);
  return { protocol, samples, lookout, curl, difference, rawNode };
}

export const timingAccuracy: Section = {
  id: 'timingAccuracy',
  title: 'Timing accuracy (vs curl)',
  async run(ctx): Promise<SectionOutput> {
    const samples = ctx.smoke ? 5 : 60;
    const { name, address, viaResolver } = await loopbackName();
    const certs = makeCertificates(join(ctx.logDir, 'certs'), [name, 'localhost']);
    // The targets listen on the address the name resolves to, and are requested by the name.
    const http = await startTarget(ctx, 'timing-http-target', ['--host', address]);
    const https = await startTarget(ctx, 'timing-https-target', ['--tls', join(ctx.logDir, 'certs'), '--host', address]);
    const withName = (url: string): string => {
      const named = new URL(url);
      named.hostname = name;
      return named.origin;
    };
    const comparisons = [
      await compare(ctx, 'http', `${withName(http.url)}/`, certs.ca, samples),
      await compare(ctx, 'https', `${withName(https.url)}/`, certs.ca, samples),
    ];
    const figures: Figure[] = [];
    const targets: Target[] = [];
    for (const c of comparisons) {
      const phases = PHASES.filter((p) => c.lookout[p] !== null || c.curl[p] !== null);
      for (const p of phases) {
        figures.push(figure(`${c.protocol} ${p} (median)`, c.lookout[p], 'ms', { name: 'curl', value: c.curl[p] }));
        figures.push(figure(`${c.protocol} ${p} (median) vs bare node:net/tls`, c.lookout[p], 'ms', { name: 'bare node:net/tls', value: c.rawNode[p] }));
      }
      for (const p of phases) {
        targets.push(target(`${c.protocol} ${p}: |Lookout − curl| median difference ≤ 0.5 ms`, c.difference[p] === null ? null : Math.abs(c.difference[p]!), 'ms', (v) => v <= 0.5));
      }
    }
    return {
      figures,
      targets,
      notes: [
        `${samples} alternating runs per protocol (after ${ctx.smoke ? 1 : 3} warm-up run(s) each), one target process per protocol on ${address}, requested as "${name}"${viaResolver ? ' (resolved by both through getaddrinfo and /etc/hosts)' : ' (curl answers "localhost" without a resolver: the DNS phases are not comparable)'}; EC P-256 certificate from a self-made CA; fresh connection and TLS session every run on both sides.`,
        'Phases as Lookout defines them; from curl: dns = time_namelookup, connect = time_connect − time_namelookup, tls = time_appconnect − time_connect, firstByte = time_starttransfer − (time_appconnect or time_connect).',
        'Second reference, same run: the same request made with bare node:net and node:tls (TCP connect, then TLS over the connected socket, secure context built once), to tell what Lookout measures from what curl spends: curl builds its OpenSSL context per connection inside its TLS phase (≈ 4 ms here even with -k), which node does once per process.',
        'Lookout runs in the benchmark process through the HTTP runner the agent uses (createHttpRunner); curl is a new process each run (its start-up is outside its timings).',
      ],
      data: comparisons,
    };
  },
};
