/**
 * Dead letters through the coordinator's HTTP API, with alerting configured the way users do it: a
 * JSON file given to the coordinator, secrets from the environment.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCoordinatorService, type CoordinatorService } from '../../../coordinator/service.ts';
import { startRedis, uniquePrefix, type TestRedis } from '../../support/redis.ts';
import { waitUntil } from '../../support/wait.ts';
import { sampleEvents, startRecorder, type Recorder } from './support.ts';
import { json, memoryLogger, testConfig } from '../support.ts';

let redis: TestRedis;
let slack: Recorder;
let service: CoordinatorService;
let dir: string;
let accept = false;

beforeAll(async () => {
  [redis, slack] = await Promise.all([startRedis(), startRecorder((_n, request) =>
    (accept || request.path === '/audit' ? { status: 200, body: 'ok' } : { status: 404, body: 'no_service' }))]);
  dir = mkdtempSync(join(tmpdir(), 'lookout-alerting-'));
  const file = join(dir, 'alerting.json');
  writeFileSync(file, JSON.stringify({
    dashboardUrl: 'https://lookout.example.com/',
    channels: [
      { type: 'slack', name: 'chat', webhookUrl: { env: 'TEST_SLACK_WEBHOOK_URL' }, attempts: 2 },
      { type: 'webhook', name: 'audit', url: `${slack.base}/audit` },
    ],
    routes: { rules: [{ match: { events: 'incident.*' }, channels: ['chat'] }], default: ['audit'] },
  }));
  service = await startCoordinatorService(testConfig(redis.url, uniquePrefix('dlq'), { alertingConfigFile: file }), {
    logger: memoryLogger().logger,
    env: { TEST_SLACK_WEBHOOK_URL: `${slack.base}/services/T0/B0/XYZ` },
  });
});
afterAll(async () => {
  await service?.stop();
  await Promise.all([redis?.stop(), slack?.close()]);
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const api = (path: string, init?: RequestInit) => fetch(`${service.url}${path}`, init);

describe('dead letters through the API', () => {
  it('configures channels and routes from the file, with the secret from the environment', () => {
    expect(service.delivery?.channels.map((c) => `${c.type}:${c.name}`)).toEqual(['slack:chat', 'webhook:audit']);
    expect(service.delivery?.routes.default).toEqual(['audit']);
  });

  it('lists a delivery that failed for good, re-sends it on request, and refuses what is not dead', async () => {
    const { opened, offline } = sampleEvents('inc-dead');
    await service.delivery!.deliver(opened);
    await service.delivery!.deliver(offline);

    const listed = await waitUntil('the dead letter to be listed', async () => {
      const body = await json(await api('/api/alerts/dead-letters'));
      return body.deadLetters.length > 0 ? body : undefined;
    });
    expect(listed).toEqual({
      limit: 100, offset: 0,
      deadLetters: [{
        deliveryId: 'chat.inc-dead%3A1', channel: 'chat', eventId: 'inc-dead:1', eventType: 'incident.opened',
        summary: 'Homepage is down in eu-west (regional; passing: ap-south, us-east) — CONNECT_REFUSED',
        attemptsMade: 1, lastError: 'RECEIVER_REJECTED: receiver answered 404 Not Found: no_service', failedAt: expect.any(Number),
      }],
    });
    // The probe event went to the default route; the secret webhook URL is never shown.
    await waitUntil('the probe event to reach the audit webhook', () => slack.requests.some((r) => r.path === '/audit') || undefined);
    expect(JSON.parse(slack.requests.find((r) => r.path === '/audit')!.body)).toMatchObject({ event: 'probe.offline' });
    expect(JSON.stringify(listed)).not.toContain('/services/T0');

    accept = true;
    const retried = await api(`/api/alerts/dead-letters/${encodeURIComponent('chat.inc-dead%3A1')}/retry`, { method: 'POST' });
    expect(retried.status).toBe(202);
    expect(await json(retried)).toEqual({ retried: 'chat.inc-dead%3A1' });
    await waitUntil('the re-sent delivery to arrive', () => slack.requests.filter((r) => r.path === '/services/T0/B0/XYZ').length === 2 || undefined);
    const message = JSON.parse(slack.requests.filter((r) => r.path === '/services/T0/B0/XYZ')[1]!.body);
    expect(message.blocks).toContainEqual({ type: 'actions', elements: [{ type: 'button', text: { type: 'plain_text', text: 'Open Lookout' }, url: 'https://lookout.example.com' }] });
    await waitUntil('the dead letter to be gone', async () => (await json(await api('/api/alerts/dead-letters'))).deadLetters.length === 0 || undefined);

    // The id as listed (not encoded again) works too; it is no longer dead.
    const again = await api('/api/alerts/dead-letters/chat.inc-dead%3A1/retry', { method: 'POST' });
    expect(again.status).toBe(409);
    expect(await json(again)).toMatchObject({ error: { code: 'NOT_A_DEAD_LETTER' } });
    const unknown = await api('/api/alerts/dead-letters/chat.nothing/retry', { method: 'POST' });
    expect(unknown.status).toBe(404);
    expect(await json(unknown)).toMatchObject({ error: { code: 'DEAD_LETTER_NOT_FOUND' } });
  });

  it('validates paging and methods', async () => {
    const bad = await api('/api/alerts/dead-letters?limit=9999');
    expect(bad.status).toBe(400);
    expect(await json(bad)).toMatchObject({ error: { code: 'INVALID_QUERY' } });
    expect(await json(await api('/api/alerts/dead-letters?limit=0'))).toEqual({ deadLetters: [], limit: 0, offset: 0 });
    expect((await api('/api/alerts/dead-letters', { method: 'DELETE' })).status).toBe(405);
  });
});
