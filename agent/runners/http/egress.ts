/**
 * Where HTTP runs may connect. A target controls its redirects and its DNS answers, so without a policy
 * a check of `https://example.com/` can be sent on to the cloud's metadata service (169.254.169.254,
 * which hands out the machine's credentials) or to any other address the agent reaches. The policy is
 * checked on every hop, after DNS, on the addresses the socket is about to connect to (so a name that
 * resolves differently the second time, DNS rebinding, gains nothing), and a refused address fails the
 * run with `TARGET_DENIED`.
 *
 * Default: link-local addresses (169.254.0.0/16, fe80::/10) and the cloud metadata addresses are
 * denied; loopback and private ranges are allowed, since private agents probe internal services.
 * `--deny-cidr` adds ranges, `--allow-cidr` makes exceptions (an allowed range wins over a denied one).
 *
 * `isDenied` is pure; `guardLookup` and `deniedLiteral` are the hooks the connector calls.
 */
import { BlockList, isIP } from 'node:net';
import type { LookupAddress } from 'node:dns';
import type { Lookup } from './connector.ts';

/** Ranges denied unless allowed: link-local, and the metadata services of the large clouds outside it. */
export const DEFAULT_DENIED_CIDRS: readonly string[] = [
  '169.254.0.0/16',      // IPv4 link-local; AWS, GCP, Azure, Oracle, DigitalOcean metadata (169.254.169.254)
  'fe80::/10',           // IPv6 link-local
  'fd00:ec2::254/128',   // AWS metadata over IPv6
  '100.100.100.200/32',  // Alibaba Cloud metadata
  '168.63.129.16/32',    // Azure wire server
];

export interface EgressPolicy {
  denied: readonly string[];
  allowed: readonly string[];
}

export const DEFAULT_EGRESS_POLICY: EgressPolicy = { denied: DEFAULT_DENIED_CIDRS, allowed: [] };

/** `a.b.c.d/n` or `v6/n` (or a single address): the problem with it, or null. Pure. */
export function cidrProblem(text: string): string | null {
  const [address, bits, ...rest] = text.split('/');
  const family = isIP(address ?? '');
  if (family === 0 || rest.length > 0) return `${JSON.stringify(text)} is not an address or CIDR range`;
  if (bits === undefined) return null;
  const max = family === 4 ? 32 : 128;
  return /^\d{1,3}$/.test(bits) && Number(bits) <= max ? null : `${JSON.stringify(text)}: the prefix length must be 0-${max}`;
}

interface CompiledPolicy { deny: BlockList; allow: BlockList }
const compiled = new WeakMap<EgressPolicy, CompiledPolicy>();

function compile(policy: EgressPolicy): CompiledPolicy {
  let lists = compiled.get(policy);
  if (!lists) {
    const build = (cidrs: readonly string[]): BlockList => {
      const list = new BlockList();
      for (const cidr of cidrs) {
        const [address, bits] = cidr.split('/') as [string, string | undefined];
        const family = isIP(address) === 6 ? 'ipv6' : 'ipv4';
        if (bits === undefined) list.addAddress(address, family);
        else list.addSubnet(address, Number(bits), family);
      }
      return list;
    };
    lists = { deny: build(policy.denied), allow: build(policy.allowed) };
    compiled.set(policy, lists);
  }
  return lists;
}

/**
 * Whether the policy refuses a connection to `address` (an IP literal; anything else is refused). An
 * IPv4 address written as IPv6 (`::ffff:169.254.169.254`) is judged as the IPv4 address. Pure.
 */
export function isDenied(address: string, policy: EgressPolicy): boolean {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address)?.[1];
  const ip = mapped ?? address.replace(/^\[|\]$/g, '');
  const family = isIP(ip);
  if (family === 0) return true;
  const { deny, allow } = compile(policy);
  const type = family === 4 ? 'ipv4' : 'ipv6';
  return deny.check(ip, type) && !allow.check(ip, type);
}

/** The error a refused connection fails with; the HTTP runner reports it as `TARGET_DENIED`. */
export function deniedError(host: string, address: string): Error {
  return Object.assign(new Error(`${host} resolves to ${address}, which this agent's egress policy denies (--deny-cidr / --allow-cidr)`), { code: 'TARGET_DENIED', address });
}

/** A lookup that fails with {@link deniedError} when any address it answers is denied. */
export function guardLookup(lookup: Lookup, policy: EgressPolicy): Lookup {
  return (hostname, options, callback) => {
    lookup(hostname, options, (error, address, family) => {
      if (error) return callback(error, address, family);
      const answers: LookupAddress[] = Array.isArray(address) ? address : [{ address, family: family ?? 4 }];
      const denied = answers.find((answer) => isDenied(answer.address, policy));
      if (denied) return callback(deniedError(hostname, denied.address) as NodeJS.ErrnoException, '');
      callback(null, address, family);
    });
  };
}

/** For a URL whose host is an IP literal (no lookup happens): the refusal, or null. */
export function deniedLiteral(hostname: string, policy: EgressPolicy): Error | null {
  const ip = hostname.replace(/^\[|\]$/g, '');
  return isIP(ip) !== 0 && isDenied(ip, policy) ? deniedError(hostname, ip) : null;
}
