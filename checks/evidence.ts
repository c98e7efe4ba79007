/**
 * What a run saw of the network, beside its outcome: the wire contract of a result's `network` (facts of
 * every HTTP run, cheap and always on; the failing request of a browser run) and `evidence` (captured by the
 * agent on the first failure of a streak and its confirmation runs: a path trace, a second resolver's
 * answer). The coordinator compares them across regions to say why one region fails (detection/evidence.ts).
 * Exported from contract.ts. Every list is capped and every string bounded: agents cut what they send,
 * and ingest refuses a result that does not fit.
 */
import { z } from 'zod';

const Millis = z.number().int().nonnegative();
/** An IPv4 or IPv6 address (an IPv6 one may carry a zone). */
const Address = z.string().min(1).max(64);

/** Caps of the lists below, which agents apply before sending. */
export const EVIDENCE_LIMITS = {
  addresses: 16, sans: 20, edges: 8, headers: 50, headerName: 100, headerValue: 500, hops: 32,
} as const;

/** A CDN or proxy edge the response came through, from one well-known header (agent/runners/http/edge.ts). */
export const EdgeIdentity = z.object({
  /** Who runs it: `cloudflare`, `cloudfront`, `fastly`, `akamai`, `fly`, `vercel`, `bunny`, `varnish`, … or `server` (a `server` header naming no known edge). */
  provider: z.string().min(1).max(40),
  /** The point of presence the header names (`FRA`, `FRA56-P1`, `fra1`), when it names one. */
  pop: z.string().min(1).max(40).nullable(),
  /** The header it came from, lower case. */
  header: z.string().min(1).max(64),
  /** The header's value, cut to 200 characters. */
  value: z.string().max(200),
});
export type EdgeIdentity = z.infer<typeof EdgeIdentity>;

/** The certificate and session of a TLS connection. */
export const TlsFacts = z.object({
  /** `TLSv1.3`, … */
  protocol: z.string().max(20).nullable(),
  /** OpenSSL's cipher name. */
  cipher: z.string().max(100).nullable(),
  /** The leaf certificate's subject common name. */
  subject: z.string().max(300).nullable(),
  /** Its DNS names (subjectAltName), at most {@link EVIDENCE_LIMITS.sans}. */
  sans: z.array(z.string().max(256)).max(EVIDENCE_LIMITS.sans),
  /** The issuer's common name (or organisation). */
  issuer: z.string().max(300).nullable(),
  /** When the leaf expires, ISO 8601. */
  notAfter: z.string().max(40).nullable(),
  /** SHA-256 fingerprint of the leaf, `AB:CD:…`. */
  fingerprint256: z.string().max(100).nullable(),
});
export type TlsFacts = z.infer<typeof TlsFacts>;

/** The network facts of one request: always on for HTTP runs (of the last hop), the failing request of a browser run. */
export const NetworkFacts = z.object({
  /** The URL the facts are about (the last hop of an HTTP run; the failing request of a browser run). */
  url: z.string().max(2000),
  /** The host name resolved (or the IP literal of the URL). */
  host: z.string().max(253),
  /** The resolver that answered: `system (nameservers 10.0.0.2)`, `DNS 9.9.9.9`, `browser`. */
  resolver: z.string().max(200),
  /** Every address the lookup answered (A and AAAA), in its order. */
  addresses: z.array(Address).max(EVIDENCE_LIMITS.addresses),
  /** The address the connection was made to (null: none was). */
  connectedAddress: Address.nullable(),
  port: z.number().int().min(0).max(65_535).nullable(),
  /** Null for plain HTTP, or when no TLS session was established. */
  tls: TlsFacts.nullable(),
  /** `1.1`, `2`: the HTTP version spoken (null: no request was sent). */
  httpVersion: z.string().max(10).nullable(),
  /** Edges the response names, most specific first. */
  edge: z.array(EdgeIdentity).max(EVIDENCE_LIMITS.edges),
  /**
   * The response's headers, on failed runs only: `[name, value]`, names lower case, cookies and
   * credentials redacted.
   */
  responseHeaders: z.array(z.tuple([z.string().max(EVIDENCE_LIMITS.headerName), z.string().max(EVIDENCE_LIMITS.headerValue)]))
    .max(EVIDENCE_LIMITS.headers).optional(),
});
export type NetworkFacts = z.infer<typeof NetworkFacts>;

/** One hop of a path trace. */
export const TraceHop = z.object({
  /** 1-based distance from the agent. */
  ttl: z.number().int().min(1).max(64),
  /** Who answered; null: nobody did (`???`, `*`). */
  address: Address.nullable(),
  rttMs: z.number().nonnegative().nullable(),
  /** Share of probes lost, 0-100 (null when the tool does not say). */
  lossPct: z.number().min(0).max(100).nullable(),
});
export type TraceHop = z.infer<typeof TraceHop>;

/** A path trace from the agent to the target's address and port (TCP probes). */
export const PathTrace = z.discriminatedUnion('status', [
  z.object({
    status: z.literal('done'),
    tool: z.enum(['mtr', 'traceroute']),
    /** The address traced to, and the TCP port probed. */
    target: Address,
    port: z.number().int().min(1).max(65_535),
    hops: z.array(TraceHop).max(EVIDENCE_LIMITS.hops),
    /** Whether the target itself answered. */
    reachedTarget: z.boolean(),
    durationMs: z.number().nonnegative(),
  }),
  /** No trace tool on this agent: evidence missing, never a failure. */
  z.object({ status: z.literal('unavailable'), reason: z.string().max(300) }),
  /** The tool ran but gave nothing usable (or ran out of its time budget). */
  z.object({ status: z.literal('failed'), reason: z.string().max(500) }),
]);
export type PathTrace = z.infer<typeof PathTrace>;

/** What a second resolver (`--diagnostic-resolver`) answers for the host. */
export const ResolverAnswer = z.object({
  resolver: z.string().max(200),
  addresses: z.array(Address).max(EVIDENCE_LIMITS.addresses),
  /** The resolver's error code (`ENOTFOUND`, `ETIMEOUT`, …), null when it answered. */
  error: z.string().max(300).nullable(),
});
export type ResolverAnswer = z.infer<typeof ResolverAnswer>;

/** Deeper evidence from a failing region (agent/evidence/). */
export const DeepEvidence = z.object({
  /** When it was captured (the agent's clock). */
  capturedAt: Millis,
  /** Captured by an earlier run of the same target on this agent, seconds ago, and reused. */
  reused: z.boolean(),
  /** Null: not asked for (no destination, e.g. a browser run without a failing request). */
  trace: PathTrace.nullable(),
  /** Null: no diagnostic resolver configured. */
  diagnosticDns: ResolverAnswer.nullable(),
});
export type DeepEvidence = z.infer<typeof DeepEvidence>;
