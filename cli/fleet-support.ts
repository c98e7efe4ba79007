/** Small pieces of the fleet command, kept apart so they can be tested alone. */
import { createServer } from 'node:net';
import { once } from 'node:events';
import { setTimeout as delay } from 'node:timers/promises';

export async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  server.close();
  if (typeof address !== 'object' || address === null) throw new Error('could not get a free port');
  return address.port;
}

/** Polls `condition` every 100 ms until it returns true; throws what it throws, or a timeout naming `what`. */
export async function waitFor(what: string, timeoutMs: number, condition: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await condition()) return;
    await delay(100);
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}

const COLOR: Record<string, string> = { up: '\x1b[32m', degraded: '\x1b[33m', down: '\x1b[31m', 'no-data': '\x1b[90m' };

interface ChecksBody {
  checks?: { id: string; regions?: { region: string; status: string }[]; incident?: { scope: string } | null }[];
}

/** One line per check: `demo-homepage   us-east up   eu-west up   ap-south down`. */
export function renderSummary(body: unknown, regions: string[], color = process.stdout.isTTY === true): string[] {
  const checks = (body as ChecksBody | null)?.checks;
  if (!Array.isArray(checks)) return ['(coordinator not answering)'];
  if (checks.length === 0) return ['(no checks deployed)'];
  const width = Math.max(...checks.map((c) => c.id.length));
  return checks.map((check) => {
    const cells = regions.map((region) => {
      const status = check.regions?.find((r) => r.region === region)?.status ?? '-';
      const text = `${region} ${status.padEnd(8)}`;
      return color && COLOR[status] ? `${COLOR[status]}${text}\x1b[0m` : text;
    });
    const incident = check.incident ? `  ${check.incident.scope.toUpperCase()} INCIDENT` : '';
    return `${check.id.padEnd(width)}  ${cells.join('  ')}${incident}`;
  });
}
