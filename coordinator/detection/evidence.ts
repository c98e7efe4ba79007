/**
 * Why a region fails: what the failing regions' latest results saw differently from the passing ones',
 * stated most telling first. Pure and table-tested; store.ts keeps the latest facts per (check, region)
 * (written with every result, in the check's transaction) and attaches the comparison to the open
 * incident (`incident.evidence`), updated as results come in.
 *
 * The differences, in order:
 * 1. `blocked`: the failing regions are refused by the target (BLOCKED_BY_TARGET): another fix than an outage;
 * 2. `addresses`: they resolve the host to other addresses than the passing regions (sharing one, or none:
 *    a DNS failure);
 * 3. `edge`: they reach another CDN edge (point of presence);
 * 4. `certificate`: they get another certificate;
 * 5. `path`: their path traces end at a common hop (nothing answers beyond it);
 * 6. `resolver`: a failing region's diagnostic resolver answers otherwise than its own (telling, but public
 *    resolvers often answer CDN names otherwise anyway, so after the rest);
 * 7. `status`: another status or error code: always there when regions split, so the least telling.
 * A difference is stated only when it holds for every failing region against every passing one.
 */
import { z } from 'zod';
import { DeepEvidence, NetworkFacts, type RunResult } from '../../checks/contract.ts';

/** The latest facts of one (check, region), as kept by the coordinator. */
export const RegionEvidence = z.object({
  /** The slot of the result they come from. */
  at: z.number().int().nonnegative(),
  outcome: z.enum(['pass', 'fail']),
  code: z.string().max(40).nullable(),
  /** The start of the error message (the block reason of BLOCKED_BY_TARGET is in it). */
  message: z.string().max(300).nullable(),
  statusCode: z.number().int().nullable(),
  network: NetworkFacts.nullable(),
  /** Deeper evidence of the current failure streak (a failing region only). */
  evidence: DeepEvidence.nullable(),
});
export type RegionEvidence = z.infer<typeof RegionEvidence>;

export const DifferenceKind = z.enum(['blocked', 'addresses', 'edge', 'certificate', 'path', 'resolver', 'status']);
export type DifferenceKind = z.infer<typeof DifferenceKind>;

export const Difference = z.object({
  kind: DifferenceKind,
  /** One line, e.g. `eu-west resolves shop.example.com to 203.0.113.9, the passing regions to 198.51.100.7`. */
  text: z.string().max(500),
  /** What each failing region saw. */
  failing: z.record(z.string(), z.string().max(300)),
  /** What each passing region saw (empty for `path`: passing regions trace nothing). */
  passing: z.record(z.string(), z.string().max(300)),
});
export type Difference = z.infer<typeof Difference>;

/** Caps of an incident's evidence. */
export const INCIDENT_EVIDENCE_LIMITS = { differences: 8, regions: 50 } as const;

/** An incident's evidence: the differences that explain the split, and each region's latest facts. */
export const IncidentEvidence = z.object({
  differences: z.array(Difference).max(INCIDENT_EVIDENCE_LIMITS.differences),
  perRegion: z.record(z.string(), RegionEvidence),
});
export type IncidentEvidence = z.infer<typeof IncidentEvidence>;

/** The evidence one result gives its region (agent errors give none: they say nothing about the target). */
export function regionEvidenceOf(result: RunResult): RegionEvidence | null {
  if (result.outcome === 'error') return null;
  return {
    at: result.scheduledAt,
    outcome: result.outcome,
    code: result.error?.code ?? null,
    message: result.error ? result.error.message.slice(0, 300) : null,
    statusCode: result.statusCode,
    network: result.network ?? null,
    evidence: result.evidence ?? null,
  };
}

/**
 * Each region's latest facts, from what is stored (`latest` per region, and the newest deep evidence per
 * region) and the verdicts: deep evidence is kept only for a failing region, and only when it belongs to
 * its current failure streak (captured by a run at or after the streak began).
 */
export function mergeRegionEvidence(
  latest: Readonly<Record<string, RegionEvidence>>,
  deep: Readonly<Record<string, { at: number; evidence: DeepEvidence }>>,
  failingSince: Readonly<Record<string, number | null>>,
): Record<string, RegionEvidence> {
  const out: Record<string, RegionEvidence> = {};
  for (const [region, facts] of Object.entries(latest)) {
    if (!(region in failingSince)) continue;
    const since = failingSince[region];
    const kept = deep[region];
    const evidence = facts.evidence ?? (facts.outcome === 'fail' && kept && since !== null && since !== undefined && kept.at >= since ? kept.evidence : null);
    out[region] = { ...facts, evidence: facts.outcome === 'fail' ? evidence : null };
  }
  return out;
}

const join = (regions: readonly string[]): string => (regions.length <= 2 ? regions.join(' and ') : `${regions.slice(0, -1).join(', ')} and ${regions.at(-1)}`);
const verb = (regions: readonly string[], one: string, many: string): string => (regions.length === 1 ? one : many);
const sameValue = (values: Record<string, string>): string | null => {
  const distinct = [...new Set(Object.values(values))];
  return distinct.length === 1 ? distinct[0]! : null;
};
/** `a: x; b: y`, or just `x` when every region saw the same. */
const describe = (values: Record<string, string>): string => sameValue(values) ?? Object.entries(values).map(([r, v]) => `${r}: ${v}`).join('; ');
const cut = (text: string, max = 300): string => (text.length <= max ? text : `${text.slice(0, max - 1)}…`);

/**
 * The differences between the failing and the passing regions' latest facts that explain the split,
 * most telling first (see the module comment). Regions without facts are left out of each comparison;
 * with no passing region there is nothing to compare against but a block or a common break in the path.
 */
export function explainSplit(failing: readonly string[], passing: readonly string[], perRegion: Readonly<Record<string, RegionEvidence>>): Difference[] {
  const fail = failing.filter((region) => perRegion[region]?.outcome === 'fail');
  const pass = passing.filter((region) => perRegion[region]?.outcome === 'pass');
  if (fail.length === 0) return [];
  const differences: Difference[] = [];
  const add = (kind: DifferenceKind, text: string, failValues: Record<string, string>, passValues: Record<string, string>): void => {
    differences.push({ kind, text: cut(text, 500), failing: mapValues(failValues, cut), passing: mapValues(passValues, cut) });
  };
  const passingWord = pass.length === 1 ? pass[0]! : 'the passing regions';
  const facts = (region: string): NetworkFacts | null => perRegion[region]!.network;

  // 1. Blocked by the target.
  if (fail.every((region) => perRegion[region]!.code === 'BLOCKED_BY_TARGET')) {
    const reasons = Object.fromEntries(fail.map((region) => [region, blockReason(perRegion[region]!)]));
    const passValues = Object.fromEntries(pass.map((region) => [region, statusText(perRegion[region]!)]));
    add('blocked', `the target blocks the probes of ${join(fail)} (${describe(reasons)})${pass.length > 0 ? `; ${passingWord} ${verb(pass, 'gets', 'get')} ${describe(passValues)}` : ''}`, reasons, passValues);
  }

  // 2. Addresses (and the diagnostic resolver).
  const host = fail.map(facts).find((f) => f !== null)?.host ?? pass.map(facts).find((f) => f !== null)?.host ?? 'the host';
  const addressesOf = (region: string): string[] | null => facts(region)?.addresses ?? null;
  const failAddresses = fail.filter((region) => addressesOf(region) !== null);
  const passAddresses = pass.filter((region) => addressesOf(region) !== null && addressesOf(region)!.length > 0);
  if (failAddresses.length === fail.length && passAddresses.length > 0) {
    const passSet = new Set(passAddresses.flatMap((region) => addressesOf(region)!));
    const disjoint = fail.every((region) => addressesOf(region)!.every((address) => !passSet.has(address)));
    if (disjoint) {
      const failValues = Object.fromEntries(fail.map((region) => [region, addressesOf(region)!.length > 0 ? addressesOf(region)!.join(', ') : `nothing (${perRegion[region]!.code ?? 'no address'})`]));
      const passValues = Object.fromEntries(passAddresses.map((region) => [region, addressesOf(region)!.join(', ')]));
      const unresolved = fail.every((region) => addressesOf(region)!.length === 0);
      const shared = fail.length > 1 ? sharedAddress(fail.map((region) => addressesOf(region)!)) : null;
      const text = unresolved
        ? `${join(fail)} cannot resolve ${host} (${describe(Object.fromEntries(fail.map((r) => [r, perRegion[r]!.code ?? 'no address'])))}), ${passingWord} ${verb(pass, 'resolves', 'resolve')} it to ${describe(passValues)}`
        : `${join(fail)} ${verb(fail, 'resolves', 'resolve')} ${host} to ${describe(failValues)}${shared ? ` (all share ${shared})` : ''}, ${passingWord} to ${describe(passValues)}`;
      add('addresses', text, failValues, passValues);
    }
  }
  // 3. Edge point of presence.
  const popOf = (region: string): string | null => {
    const edge = facts(region)?.edge.find((e) => e.pop !== null);
    return edge ? `${edge.provider} ${edge.pop}` : null;
  };
  if (fail.every((region) => popOf(region) !== null) && pass.length > 0 && pass.every((region) => facts(region) !== null && facts(region)!.httpVersion !== null)) {
    const failValues = Object.fromEntries(fail.map((region) => [region, popOf(region)!]));
    const passValues = Object.fromEntries(pass.map((region) => [region, popOf(region) ?? 'no CDN edge']));
    const passPops = new Set(Object.values(passValues));
    if (Object.values(failValues).every((pop) => !passPops.has(pop))) {
      add('edge', `${join(fail)} ${verb(fail, 'reaches', 'reach')} the edge ${describe(failValues)}, ${passingWord} ${describe(passValues)}`, failValues, passValues);
    }
  }

  // 4. Certificate.
  const certOf = (region: string): string | null => {
    const tls = facts(region)?.tls;
    return tls?.fingerprint256 ? `${tls.subject ?? '?'} from ${tls.issuer ?? '?'}, expires ${tls.notAfter?.slice(0, 10) ?? '?'}, SHA-256 ${tls.fingerprint256.slice(0, 23)}…` : null;
  };
  const fingerprint = (region: string): string | null => facts(region)?.tls?.fingerprint256 ?? null;
  const passCerts = pass.filter((region) => fingerprint(region) !== null);
  if (fail.every((region) => fingerprint(region) !== null) && passCerts.length > 0) {
    const passPrints = new Set(passCerts.map(fingerprint));
    if (fail.every((region) => !passPrints.has(fingerprint(region)))) {
      const failValues = Object.fromEntries(fail.map((region) => [region, certOf(region)!]));
      const passValues = Object.fromEntries(passCerts.map((region) => [region, certOf(region)!]));
      add('certificate', `${join(fail)} ${verb(fail, 'gets', 'get')} another certificate (${describe(failValues)}) than ${passingWord} (${describe(passValues)})`, failValues, passValues);
    }
  }

  // 5. A common break in the path.
  const breakOf = (region: string): { hop: number; address: string; target: string } | null => {
    const trace = perRegion[region]!.evidence?.trace;
    if (!trace || trace.status !== 'done' || trace.reachedTarget) return null;
    const answered = trace.hops.filter((hop) => hop.address !== null);
    const last = answered.at(-1);
    return last ? { hop: last.ttl, address: last.address!, target: `${trace.target}:${trace.port}` } : { hop: 0, address: 'the agent', target: `${trace.target}:${trace.port}` };
  };
  const breaks = fail.map(breakOf);
  if (breaks.every((b) => b !== null) && new Set(breaks.map((b) => b!.address)).size === 1) {
    const first = breaks[0]!;
    const failValues = Object.fromEntries(fail.map((region, i) => [region, `ends at hop ${breaks[i]!.hop} (${breaks[i]!.address}) on the way to ${breaks[i]!.target}`]));
    const where = first.hop === 0 ? 'at the agent: no hop answers' : `at hop ${first.hop} (${first.address}): nothing answers beyond it`;
    add('path', `${join(fail)}'s path to ${first.target} ${fail.length > 1 ? 'breaks at a common hop, ' : 'ends '}${where}`, failValues, {});
  }

  // 6. The diagnostic resolver disagrees with the region's own.
  for (const region of fail) {
    const second = perRegion[region]!.evidence?.diagnosticDns;
    const own = addressesOf(region);
    if (!second || own === null || second.addresses.length === 0) continue;
    if (second.addresses.some((address) => own.includes(address))) continue;
    add('resolver', `${region}'s resolver (${facts(region)!.resolver}) answers ${own.length > 0 ? own.join(', ') : 'nothing'} for ${host}; its diagnostic resolver (${second.resolver}) answers ${second.addresses.join(', ')}`,
      { [region]: own.join(', ') || 'nothing' }, { [`${region} (${second.resolver})`]: second.addresses.join(', ') });
  }

  // 7. Status or error code.
  if (pass.length > 0) {
    const failValues = Object.fromEntries(fail.map((region) => [region, statusText(perRegion[region]!)]));
    const passValues = Object.fromEntries(pass.map((region) => [region, statusText(perRegion[region]!)]));
    const passStatus = new Set(Object.values(passValues));
    if (Object.values(failValues).every((value) => !passStatus.has(value)) && !differences.some((d) => d.kind === 'blocked')) {
      add('status', `${join(fail)} ${verb(fail, 'gets', 'get')} ${describe(failValues)}, ${passingWord} ${describe(passValues)}`, failValues, passValues);
    }
  }
  return differences.slice(0, 8);
}

/** `status 503`, `CONNECT_TIMEOUT`, `status 403 (BLOCKED_BY_TARGET)`. */
function statusText(facts: RegionEvidence): string {
  if (facts.outcome === 'pass') return facts.statusCode !== null ? `status ${facts.statusCode}` : 'a pass';
  if (facts.statusCode !== null) return facts.code && facts.code !== 'ASSERTION_FAILED' ? `status ${facts.statusCode} (${facts.code})` : `status ${facts.statusCode}`;
  return facts.code ?? 'a failure';
}

/** The reason part of a BLOCKED_BY_TARGET message (`Cloudflare challenge (cf-mitigated: challenge)`). */
function blockReason(facts: RegionEvidence): string {
  const match = /^the target blocked this probe: ([^;]+)/.exec(facts.message ?? '');
  return match ? match[1]! : facts.statusCode !== null ? `status ${facts.statusCode}` : 'blocked';
}

function sharedAddress(lists: readonly string[][]): string | null {
  const [first, ...rest] = lists;
  return first?.find((address) => rest.every((list) => list.includes(address))) ?? null;
}

function mapValues(values: Record<string, string>, map: (value: string) => string): Record<string, string> {
  return Object.fromEntries(Object.entries(values).map(([key, value]) => [key, map(value)]));
}

/** The newest deep evidence kept per region: the slot of the run that carried it, and the evidence. */
export interface KeptDeepEvidence { at: number; evidence: DeepEvidence }

/**
 * The incident with its evidence: the differences between its failing and passing regions, and the latest
 * facts of each of its regions (failing, passing, no data), at most {@link INCIDENT_EVIDENCE_LIMITS.regions}.
 */
export function incidentEvidence(
  incident: { failingRegions: readonly string[]; passingRegions: readonly string[]; noDataRegions: readonly string[] },
  perRegion: Readonly<Record<string, RegionEvidence>>,
): IncidentEvidence {
  const regions = [...new Set([...incident.failingRegions, ...incident.passingRegions, ...incident.noDataRegions])]
    .filter((region) => perRegion[region] !== undefined).slice(0, INCIDENT_EVIDENCE_LIMITS.regions);
  return {
    differences: explainSplit(incident.failingRegions, incident.passingRegions, perRegion),
    perRegion: Object.fromEntries(regions.map((region) => [region, perRegion[region]!])),
  };
}
