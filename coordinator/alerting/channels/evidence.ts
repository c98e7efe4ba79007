/**
 * An incident's evidence as channels show it (detection/evidence.ts decides it): the top difference in one
 * line ("eu-west resolves shop.example.com to 203.0.113.9, the passing regions to 198.51.100.7"), and a
 * compact per-region comparison for payloads. The evidence travels inside the event's incident, which
 * delivery validates only loosely: it is checked here, and anything malformed is shown as no evidence.
 * Pure.
 */
import { IncidentEvidence, type RegionEvidence } from '../../detection/evidence.ts';
import type { EventView } from '../../events/view.ts';

/** The incident's evidence, when the event carries a well-formed one. */
export function evidenceOf(view: EventView): IncidentEvidence | null {
  if (view.kind !== 'incident') return null;
  const parsed = IncidentEvidence.safeParse((view.event.incident as { evidence?: unknown }).evidence);
  return parsed.success ? parsed.data : null;
}

/** The most telling difference, in one line, while the incident is open (null when resolved or none is known). */
export function whyLine(view: EventView): string | null {
  if (view.kind !== 'incident' || !view.firing) return null;
  return evidenceOf(view)?.differences[0]?.text ?? null;
}

/** One region's facts in a few words each, for tables and payloads. */
export interface RegionRow {
  region: string;
  outcome: 'pass' | 'fail';
  /** `status 200`, `CONNECT_TIMEOUT`, `status 403 (BLOCKED_BY_TARGET)`. */
  result: string;
  addresses: string;
  connected: string | null;
  edge: string | null;
  certificate: string | null;
  /** Where a failing region's trace ends, when it has one. */
  path: string | null;
}

export function regionRows(evidence: IncidentEvidence): RegionRow[] {
  return Object.entries(evidence.perRegion).sort(([a], [b]) => a.localeCompare(b)).map(([region, facts]) => regionRow(region, facts));
}

function regionRow(region: string, facts: RegionEvidence): RegionRow {
  const network = facts.network;
  const edge = network?.edge.find((e) => e.pop !== null) ?? network?.edge[0];
  const tls = network?.tls;
  const trace = facts.evidence?.trace;
  let path: string | null = null;
  if (trace?.status === 'done') {
    const answered = trace.hops.filter((hop) => hop.address !== null);
    path = trace.reachedTarget ? `reaches ${trace.target}:${trace.port} in ${trace.hops.length} hops` : `ends at hop ${answered.at(-1)?.ttl ?? 0} (${answered.at(-1)?.address ?? 'none'})`;
  } else if (trace) {
    path = `no trace: ${trace.reason}`;
  }
  return {
    region,
    outcome: facts.outcome,
    result: facts.outcome === 'pass'
      ? (facts.statusCode !== null ? `status ${facts.statusCode}` : 'pass')
      : facts.statusCode !== null ? `status ${facts.statusCode}${facts.code && facts.code !== 'ASSERTION_FAILED' ? ` (${facts.code})` : ''}` : (facts.code ?? 'fail'),
    addresses: network ? (network.addresses.join(', ') || 'none') : 'unknown',
    connected: network?.connectedAddress ?? null,
    edge: edge ? `${edge.provider}${edge.pop ? ` ${edge.pop}` : ''}` : null,
    certificate: tls?.fingerprint256 ? `${tls.subject ?? '?'} (${tls.issuer ?? '?'}, ${tls.fingerprint256.slice(0, 11)}…)` : null,
    path,
  };
}
