/**
 * Every Redis key and queue name Lookout uses, in one place: agents, coordinators, alert delivery and the
 * CLI build them here and nowhere else. Everything lives under one prefix (`--prefix`, default `lookout`),
 * which is also BullMQ's prefix, so a BullMQ queue `q` owns `${prefix}:q:*`. Queue names
 * (`checks.<region>`, `results`, `alerts`) never contain `:`, so no queue's keys can collide with the
 * `${prefix}:lookout:*` namespace of the coordinators' own state or with the agents' keys.
 *
 * Who writes what (the README's Security model says who may):
 * - agents: their heartbeats and the agent index, canary answers, browser artifacts; they consume their
 *   region's check queue and publish into the results queue;
 * - coordinators: everything else (registry, tokens, check state, incidents, outbox, rollups, alert
 *   deliveries), and the check and canary jobs.
 */
import type { RegionName } from './contract.ts';

export const DEFAULT_PREFIX = 'lookout';

// Queues ----------------------------------------------------------------------------------------

/** The queue of check runs for one region; only that region's agents consume it. */
export const checkQueueName = (region: RegionName): string => `checks.${region}`;
/** The queue of one region's run results: its agents publish, coordinators consume (and take the region from it). */
export const resultsQueueName = (region: RegionName): string => `results.${region}`;
/** The queue of alert deliveries, one job per (event, channel). */
export const ALERTS_QUEUE = 'alerts';

// Written by a region's agents, under `${prefix}:agents.<region>:` -----------------------------

const agentsNs = (prefix: string, region: string): string => `${prefix}:agents.${region}`;

/** A string with expiry holding one agent's latest `Heartbeat`. */
export const heartbeatKey = (prefix: string, region: string, agentId: string): string => `${agentsNs(prefix, region)}:hb:${agentId}`;
/** A set of every agent id of the region ever seen, so coordinators can find expired heartbeats. */
export const agentIndexKey = (prefix: string, region: string): string => `${agentsNs(prefix, region)}:index`;
/** A string (expiring after `CANARY_STALL_FACTOR` canary intervals) holding the region's latest `CanaryAnswer`. */
export const canaryAnswerKey = (prefix: string, region: string): string => `${agentsNs(prefix, region)}:canary`;
/**
 * Browser run ids start with their region (`<region>.<random>`), so the coordinator finds a run's
 * artifacts from its id alone, and an agent can store artifacts only for runs of its own region.
 */
export const regionOfRunId = (runId: string): string | null => /^([a-z0-9][a-z0-9-]{0,31})\./.exec(runId)?.[1] ?? null;
/** A hash (data, contentType, bytes, createdAt; with expiry) of one artifact of one browser run. */
export const artifactKey = (prefix: string, region: string, runId: string, name: string): string => `${agentsNs(prefix, region)}:artifact:${runId}:${name}`;
/** A set (with expiry) of the artifact names stored for one run. */
export const artifactIndexKey = (prefix: string, region: string, runId: string): string => `${agentsNs(prefix, region)}:artifact-index:${runId}`;
/** A string with expiry: at most one artifact upload per (check, region) per interval. */
export const artifactGateKey = (prefix: string, region: string, checkId: string): string => `${agentsNs(prefix, region)}:artifact-gate:${checkId}`;
/** A counter of the region's artifact bytes stored in one hour, for the hourly budget. */
export const artifactBytesKey = (prefix: string, region: string, hour: number): string => `${agentsNs(prefix, region)}:artifact-bytes:${hour}`;

/**
 * The Redis key patterns an agent of `region` may use, and nothing else: its check queue (consume), its
 * results queue (publish), its agent namespace (heartbeats, canary answers, artifacts).
 */
export function regionKeyPatterns(prefix: string, region: string): string[] {
  return [`${prefix}:${checkQueueName(region)}:*`, `${prefix}:${resultsQueueName(region)}:*`, `${agentsNs(prefix, region)}:*`];
}

// Written by coordinators -----------------------------------------------------------------------
// Under `${prefix}:lookout:` unless noted; a `{hash tag}` prefix keeps them in one Redis Cluster slot,
// which the coordinators' multi-key transactions need.

const ns = (prefix: string): string => `${prefix}:lookout`;

/** Hash: check id → {@link StoredCheck} JSON. */
export const registryKey = (prefix: string): string => `${ns(prefix)}:registry`;
/** Counter bumped by every registry change, so schedulers can tell when to reconcile. */
export const registryRevisionKey = (prefix: string): string => `${ns(prefix)}:registry:rev`;
/** List (newest first, capped) of JSON {@link DeploymentRecord}s: the deployment history (deployments.ts). */
export const deploymentsKey = (prefix: string): string => `${ns(prefix)}:deployments`;
/** Hash: token id → JSON {@link TokenRecord} (only a SHA-256 of each token is kept; tokens.ts). */
export const tokensKey = (prefix: string): string => `${ns(prefix)}:tokens`;
/**
 * A set of the regions the coordinators watch (agents, canaries, results queues): every region a check
 * runs in or that was registered (`lookout region add`); pruned when neither is true any more.
 */
export const knownRegionsKey = (prefix: string): string => `${ns(prefix)}:regions:known`;
/** A hash: region → JSON `RegionRecord` (its ACL user and password hashes; coordinator/regions/). */
export const regionRecordsKey = (prefix: string): string => `${ns(prefix)}:regions`;
/** A string: the job signing key (PEM), made once by the first coordinator that needs it (SET NX). */
export const signingKeyKey = (prefix: string): string => `${ns(prefix)}:signing-key`;
/** A hash: `<check>@<region>` → the newest slot issued for it (a slot is claimed here before its job is added). */
export const issuedSlotsKey = (prefix: string): string => `${ns(prefix)}:slots:issued`;
/** A sorted set of runs to add to their region's queue later (confirmation runs after a back-off), by due time. */
export const dueRunsKey = (prefix: string): string => `${ns(prefix)}:slots:due`;

/** String: JSON {@link CheckState} (per-region verdicts and the open incident) of one check. */
export const checkStateKey = (prefix: string, checkId: string): string => `${ns(prefix)}:state:${checkId}`;
/** Hash: check id → JSON of its open incident (a copy of the one in the check state, for listing). */
export const openIncidentsKey = (prefix: string): string => `${ns(prefix)}:incidents:open`;
/** List (newest first) of resolved incidents, capped. */
export const resolvedIncidentsKey = (prefix: string): string => `${ns(prefix)}:incidents:resolved`;
/** A list of emitted alert events not yet handed to delivery (pushed left, moved from the right); `${prefix}:outbox`. */
export const outboxKey = (prefix: string): string => `${prefix}:outbox`;

/** String with expiry marking one result as ingested: (check, region, scheduled slot, trigger). */
export const dedupeKey = (prefix: string, checkId: string, region: string, scheduledAt: number, trigger: string): string =>
  `${ns(prefix)}:seen:${checkId}:${region}:${scheduledAt}:${trigger}`;
/** List (newest first) of recent runs of one (check, region), capped. */
export const recentRunsKey = (prefix: string, checkId: string, region: string): string => `${ns(prefix)}:runs:${checkId}:${region}`;
/** Hash of the per-minute rollups of one (check, region) within one hour (see rollups.ts). */
export const minuteRollupKey = (prefix: string, checkId: string, region: string, hourStart: number): string =>
  `${ns(prefix)}:roll:m:${checkId}:${region}:${hourStart}`;
/** Hash of the per-hour rollups of one (check, region) within one UTC day (see rollups.ts). */
export const hourRollupKey = (prefix: string, checkId: string, region: string, dayStart: number): string =>
  `${ns(prefix)}:roll:h:${checkId}:${region}:${dayStart}`;

/**
 * Sorted set of runs issued and not answered yet (member `<checkId> <region> <scheduledAt> <trigger>`,
 * score: when a coordinator should next look at it); see detection/unanswered-store.ts.
 */
export const unansweredRunsKey = (prefix: string): string => `${ns(prefix)}:unanswered`;
/** Hash: region → JSON of the latest evidence of one check in that region (detection/evidence-store.ts). */
export const regionEvidenceKey = (prefix: string, checkId: string): string => `${ns(prefix)}:evidence:${checkId}`;

/** String: JSON {@link StoredAgent}, what the coordinators remember about one agent. */
export const agentStateKey = (prefix: string, region: string, agentId: string): string => `${ns(prefix)}:agent:${region}:${agentId}`;

/** Hash: region → JSON {@link StoredRegionCanary}, what the coordinators remember about each watched region (canary-state.ts). */
export const canaryStateKey = (prefix: string): string => `${ns(prefix)}:canary:regions`;
/** String with expiry: JSON {@link CanarySent}, the newest canary sent to one region; gone when no coordinator sends any. */
export const canarySentKey = (prefix: string, region: string): string => `${ns(prefix)}:canary:sent:${region}`;

/** String: JSON `StoredMonitoring`, the monitoring's own degradations and the Redis primary last seen (platform/degraded.ts). */
export const monitoringStateKey = (prefix: string): string => `${ns(prefix)}:monitoring`;

/** Hash: maintenance window id → JSON {@link MaintenanceWindow} (maintenance-store.ts). */
export const maintenanceKey = (prefix: string): string => `${ns(prefix)}:maintenance`;
/** Counter bumped by every maintenance change, so readers can cache the windows. */
export const maintenanceRevisionKey = (prefix: string): string => `${ns(prefix)}:maintenance:rev`;
/** Hash: check id → JSON of its firing SLO burn-rate alerts (slo-monitor.ts). */
export const sloAlertsKey = (prefix: string): string => `${ns(prefix)}:slo:alerts`;

// Written by alert delivery (a coordinator process) ---------------------------------------------

/** A string with expiry marking a delivery (a job of the alerts queue) as sent. */
export const sentMarkerKey = (prefix: string, jobId: string): string => `${prefix}:deliveries:sent:${jobId}`;
/** A set of the channels that got an event of one thread (an incident, an agent's offline/online pair). */
export const threadChannelsKey = (prefix: string, thread: string): string => `${prefix}:deliveries:thread:${thread}:channels`;
/** A sorted set: the newest event position queued per `latest-state` channel of one thread. */
export const threadLatestKey = (prefix: string, thread: string): string => `${prefix}:deliveries:thread:${thread}:latest`;
/** A string with expiry: the send lock of one (thread, channel). */
export const threadLockKey = (prefix: string, thread: string, channel: string): string => `${prefix}:deliveries:thread:${thread}:lock:${channel}`;
