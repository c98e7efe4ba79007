/**
 * The answer of a second resolver (`--diagnostic-resolver`) for a host, beside what the system resolver
 * answered the run: a GeoDNS answer, a stale or poisoned cache, a split-horizon view show as a difference.
 * A and AAAA are asked at once, with one try and a timeout inside the evidence budget. Never throws.
 */
import { Resolver } from 'node:dns';
import { isIP } from 'node:net';
import { EVIDENCE_LIMITS, type ResolverAnswer } from '../../checks/contract.ts';

/** Checks a `--diagnostic-resolver` value: an IP address, optionally with a port (`9.9.9.9`, `[2620:fe::fe]:53`, `10.0.0.2:5353`). */
export function parseResolverAddress(text: string): { ok: true; server: string } | { ok: false; message: string } {
  const bracketed = /^\[([0-9a-fA-F:.]+)\](?::(\d{1,5}))?$/.exec(text);
  const plain = /^([0-9.]+)(?::(\d{1,5}))?$/.exec(text);
  const ip = bracketed?.[1] ?? plain?.[1] ?? (isIP(text) === 6 ? text : undefined);
  const port = bracketed?.[2] ?? plain?.[2];
  if (ip === undefined || isIP(ip) === 0) return { ok: false, message: 'expected an IP address, optionally with :port (e.g. 9.9.9.9 or 10.0.0.2:5353)' };
  if (port !== undefined && (Number(port) < 1 || Number(port) > 65_535)) return { ok: false, message: 'port must be 1-65535' };
  return { ok: true, server: text };
}

export async function askResolver(server: string, host: string, timeoutMs: number): Promise<ResolverAnswer> {
  const resolver = new Resolver({ timeout: Math.max(50, Math.round(timeoutMs)), tries: 1 });
  resolver.setServers([server]);
  const ask = (family: 4 | 6): Promise<{ addresses: string[]; code: string | null }> => new Promise((resolve) => {
    const done = (error: NodeJS.ErrnoException | null, addresses: string[]): void =>
      resolve(error ? { addresses: [], code: error.code ?? 'ERROR' } : { addresses, code: null });
    if (family === 4) resolver.resolve4(host, done); else resolver.resolve6(host, done);
  });
  try {
    const [v4, v6] = await Promise.all([ask(4), ask(6)]);
    const addresses = [...v4.addresses, ...v6.addresses].slice(0, EVIDENCE_LIMITS.addresses);
    // No address at all: the A question's error says why (AAAA's ENODATA is the usual case).
    const error = addresses.length > 0 ? null : v4.code ?? v6.code ?? 'ENODATA';
    return { resolver: `DNS ${server}`.slice(0, 200), addresses, error };
  } finally {
    resolver.cancel();
  }
}
