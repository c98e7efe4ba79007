/**
 * Real receivers for the alert channel tests, all on loopback: an HTTP recorder (stands in for Slack,
 * PagerDuty and webhook receivers, which cannot be reached from here), an SMTP server (the npm package
 * `smtp-server`), and a real Prometheus Alertmanager (Debian package `prometheus-alertmanager`) with
 * its own config and storage in a temporary folder, stopped by pid. Plus event fixtures.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SMTPServer } from 'smtp-server';
import type { AlertEvent } from '../../../coordinator/events/events.ts';
import type { Incident } from '../../../coordinator/detection/incident.ts';
import { freePort } from '../../support/redis.ts';
import { waitUntil } from '../../support/wait.ts';

export const T0 = Date.UTC(2025, 0, 15, 12, 0, 0);
export const iso = (ms: number): string => new Date(ms).toISOString();

export function incident(patch: Partial<Incident> = {}): Incident {
  return {
    id: 'inc-1', checkId: 'homepage', scope: 'regional', failingRegions: ['eu-west'], passingRegions: ['ap-south', 'us-east'],
    noDataRegions: [], firstFailureAt: T0 - 60_000, openedAt: T0, updatedAt: T0, resolvedAt: null,
    lastErrors: { 'eu-west': { code: 'CONNECT_REFUSED', message: 'connect ECONNREFUSED 10.0.0.1:443', at: T0 - 1_000 } }, seq: 1,
    ...patch,
  };
}

export const check = { id: 'homepage', name: 'Homepage' };

/** One incident's life (regional, then global, then resolved), a probe going offline and back, and a type added later. */
export function sampleEvents(incidentId = 'inc-1') {
  const opened: AlertEvent = { id: `${incidentId}:1`, type: 'incident.opened', at: T0, check, incident: incident({ id: incidentId }) };
  const updated: AlertEvent = {
    id: `${incidentId}:2`, type: 'incident.updated', at: T0 + 30_000, check,
    incident: incident({
      id: incidentId, scope: 'global', failingRegions: ['eu-west', 'us-east'], passingRegions: [], noDataRegions: ['ap-south'], updatedAt: T0 + 30_000, seq: 2,
      lastErrors: {
        'eu-west': { code: 'CONNECT_REFUSED', message: 'refused', at: T0 + 29_000 },
        'us-east': { code: 'TIMEOUT', message: 'no response within 5s', at: T0 + 28_000 },
      },
    }),
  };
  const resolved: AlertEvent = {
    id: `${incidentId}:3`, type: 'incident.resolved', at: T0 + 750_000, check,
    incident: incident({
      id: incidentId, scope: 'global', failingRegions: [], passingRegions: ['ap-south', 'eu-west', 'us-east'], lastErrors: {},
      resolvedAt: T0 + 750_000, updatedAt: T0 + 750_000, seq: 3,
    }),
  };
  const offline: AlertEvent = { id: 'probe.offline:agent-7:1736942400000', type: 'probe.offline', at: T0, agent: { agentId: 'agent-7', region: 'eu-west', lastSeenAt: T0 - 7_000 } };
  const online: AlertEvent = { id: 'probe.online:agent-7:1736942460000', type: 'probe.online', at: T0 + 60_000, agent: { agentId: 'agent-7', region: 'eu-west', lastSeenAt: T0 + 60_000 } };
  /** A type no channel was written for, as another part of the coordinator may add. */
  const future = {
    id: 'certificate.expiring:homepage:1', type: 'certificate.expiring', at: T0, check: { id: 'homepage', name: 'Homepage' },
    severity: 'error', message: 'the TLS certificate expires in 6 days', issuer: 'Example CA', daysLeft: 6,
  } as const;
  return { opened, updated, resolved, offline, online, future };
}

// ---------------------------------------------------------------------------------------------
// HTTP recorder
// ---------------------------------------------------------------------------------------------

export interface Recorded {
  /** When the request arrived. */
  at: number;
  /** When the answer was sent (undefined while pending or hanging). */
  answeredAt?: number;
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
}
/** `delayMs` holds the answer back, so a test can have a send in flight. */
export type Reply = { status: number; body?: string; headers?: Record<string, string>; delayMs?: number } | 'hang';

export interface Recorder {
  /** `http://127.0.0.1:<port>`, no trailing slash. */
  base: string;
  requests: Recorded[];
  reply: (index: number, request: Recorded) => Reply;
  close(): Promise<void>;
}

export async function startRecorder(reply: (index: number, request: Recorded) => Reply = () => ({ status: 200, body: 'ok' })): Promise<Recorder> {
  const hanging: ServerResponse[] = [];
  const recorder: Recorder = { base: '', requests: [], reply, close: async () => {} };
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const recorded: Recorded = { at: Date.now(), path: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString('utf8') };
      const index = recorder.requests.length;
      recorder.requests.push(recorded);
      const decided = recorder.reply(index, recorded);
      if (decided === 'hang') { hanging.push(res); return; }
      const answer = () => {
        recorded.answeredAt = Date.now();
        res.writeHead(decided.status, decided.headers).end(decided.body ?? '');
      };
      if (decided.delayMs) setTimeout(answer, decided.delayMs); else answer();
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  recorder.base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  recorder.close = async () => {
    server.closeAllConnections();
    server.close();
    await once(server, 'close');
  };
  return recorder;
}

// ---------------------------------------------------------------------------------------------
// SMTP server
// ---------------------------------------------------------------------------------------------

export interface ReceivedMail {
  from: string;
  to: string[];
  raw: string;
  /** Header name (lower case) → unfolded value. */
  headers: Record<string, string>;
}

export interface TestSmtp {
  port: number;
  messages: ReceivedMail[];
  /** Decides the reply to the n-th message: accept (null) or an error with an SMTP reply code. */
  reject: (index: number) => { responseCode: number; message: string } | null;
  close(): Promise<void>;
}

/** Decodes RFC 2047 encoded words (`=?UTF-8?Q?...?=`, `=?UTF-8?B?...?=`), as mail clients show them. */
export function decodeHeader(value: string): string {
  return value
    .replace(/(\?=)\s+(=\?)/g, '$1$2')
    .replace(/=\?([^?]+)\?([QqBb])\?([^?]*)\?=/g, (_all, _charset: string, encoding: string, text: string) => {
      if (encoding.toUpperCase() === 'B') return Buffer.from(text, 'base64').toString('utf8');
      const bytes = text.replace(/_/g, ' ').replace(/=([0-9A-Fa-f]{2})/g, (_m, hex: string) => String.fromCharCode(parseInt(hex, 16)));
      return Buffer.from(bytes, 'latin1').toString('utf8');
    });
}

function parseHeaders(raw: string): Record<string, string> {
  const head = raw.split(/\r?\n\r?\n/)[0] ?? '';
  const headers: Record<string, string> = {};
  for (const line of head.replace(/\r?\n[ \t]+/g, ' ').split(/\r?\n/)) {
    const colon = line.indexOf(':');
    if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = decodeHeader(line.slice(colon + 1).trim());
  }
  return headers;
}

export async function startSmtp(options: { user?: string; password?: string } = {}): Promise<TestSmtp> {
  const smtp: TestSmtp = { port: 0, messages: [], reject: () => null, close: async () => {} };
  let dataIndex = 0;
  const server = new SMTPServer({
    logger: false,
    secure: false,
    disabledCommands: options.user ? ['STARTTLS'] : ['STARTTLS', 'AUTH'],
    allowInsecureAuth: true,
    authOptional: !options.user,
    onAuth(auth, _session, callback) {
      if (auth.username === options.user && auth.password === options.password) callback(null, { user: auth.username });
      else callback(Object.assign(new Error('Invalid username or password'), { responseCode: 535 }));
    },
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('end', () => {
        const index = dataIndex++;
        const rejection = smtp.reject(index);
        if (rejection) { callback(Object.assign(new Error(rejection.message), { responseCode: rejection.responseCode })); return; }
        const raw = Buffer.concat(chunks).toString('utf8');
        smtp.messages.push({
          from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
          to: session.envelope.rcptTo.map((rcpt) => rcpt.address),
          raw,
          headers: parseHeaders(raw),
        });
        callback(null);
      });
    },
  });
  await new Promise<void>((resolve, reject) => {
    server.server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  smtp.port = (server.server.address() as { port: number }).port;
  smtp.close = () => new Promise<void>((resolve) => server.close(() => resolve()));
  return smtp;
}

// ---------------------------------------------------------------------------------------------
// Prometheus Alertmanager
// ---------------------------------------------------------------------------------------------

export const ALERTMANAGER_BINARY = '/usr/bin/prometheus-alertmanager';

export interface TestAlertmanager {
  url: string;
  /** Alerts as `GET /api/v2/alerts` lists them (active, silenced, inhibited; not resolved). */
  alerts(): Promise<Array<{ labels: Record<string, string>; annotations: Record<string, string>; startsAt: string; endsAt: string; generatorURL?: string; status: { state: string } }>>;
  stop(): Promise<void>;
}

/**
 * Starts Alertmanager on a free loopback port with a config whose only receiver discards
 * notifications, a temporary storage folder, and clustering disabled.
 */
export async function startAlertmanager(): Promise<TestAlertmanager> {
  const dir = mkdtempSync(join(tmpdir(), 'lookout-alertmanager-'));
  const config = join(dir, 'alertmanager.yml');
  writeFileSync(config, 'route:\n  receiver: discard\nreceivers:\n  - name: discard\n');
  for (let attempt = 0; ; attempt++) {
    const port = await freePort();
    const child: ChildProcess = spawn(ALERTMANAGER_BINARY, [
      `--config.file=${config}`, `--storage.path=${join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`,
      '--cluster.listen-address=', '--log.level=warn',
    ], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr!.on('data', (chunk: Buffer) => { stderr = (stderr + chunk.toString()).slice(-4_000); });
    const exited = new Promise<null>((resolve) => child.once('exit', () => resolve(null)));
    child.once('error', () => {});
    const url = `http://127.0.0.1:${port}`;
    const ready = await Promise.race([
      waitUntil('alertmanager to be ready', async () => (await fetch(`${url}/-/ready`)).ok || undefined, 10_000, 50).then(() => true, () => false),
      exited.then(() => false),
    ]);
    const stop = async () => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        await exited;
      }
    };
    if (ready) {
      return {
        url,
        alerts: async () => (await fetch(`${url}/api/v2/alerts`)).json() as never,
        async stop() {
          await stop();
          rmSync(dir, { recursive: true, force: true });
        },
      };
    }
    await stop();
    if (attempt >= 2) {
      rmSync(dir, { recursive: true, force: true });
      throw new Error(`could not start ${ALERTMANAGER_BINARY} (apt-get install prometheus-alertmanager): ${stderr}`);
    }
  }
}
