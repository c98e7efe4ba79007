/**
 * Every Redis key the coordinator owns, in one place. All of them live under the BullMQ prefix (so a
 * `{hash tag}` prefix keeps them in one Redis Cluster slot, which multi-key transactions need), in a
 * `lookout:` namespace that cannot collide with BullMQ's own `${prefix}:${queueName}:*` keys (queue
 * names are `checks.<region>` and `results`).
 */

const ns = (prefix: string): string => `${prefix}:lookout`;

/** Hash: check id → {@link StoredCheck} JSON. */
export const registryKey = (prefix: string): string => `${ns(prefix)}:registry`;
/** Counter bumped by every registry change, so schedulers can tell when to reconcile. */
export const registryRevisionKey = (prefix: string): string => `${ns(prefix)}:registry:rev`;
/** List (newest first, capped) of JSON {@link DeploymentRecord}s: the deployment history (deployments.ts). */
export const deploymentsKey = (prefix: string): string => `${ns(prefix)}:deployments`;
/** Hash: token id → JSON {@link TokenRecord} (only a SHA-256 of each token is kept; tokens.ts). */
export const tokensKey = (prefix: string): string => `${ns(prefix)}:tokens`;
/** Set of every region Lookout has ever scheduled into: where reconcile looks for stray schedulers. */
export const scheduledRegionsKey = (prefix: string): string => `${ns(prefix)}:scheduler:regions`;

/** String: JSON {@link CheckState} (per-region verdicts and the open incident) of one check. */
export const checkStateKey = (prefix: string, checkId: string): string => `${ns(prefix)}:state:${checkId}`;
/** Hash: check id → JSON of its open incident (a copy of the one in the check state, for listing). */
export const openIncidentsKey = (prefix: string): string => `${ns(prefix)}:incidents:open`;
/** List (newest first) of resolved incidents, capped. */
export const resolvedIncidentsKey = (prefix: string): string => `${ns(prefix)}:incidents:resolved`;
/** List of emitted alert events not yet handed to delivery (pushed left, moved from the right). */
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

/** String: JSON {@link StoredAgent}, what the coordinators remember about one agent. */
export const agentStateKey = (prefix: string, agentId: string): string => `${ns(prefix)}:agent:${agentId}`;

/** Hash: region → JSON {@link StoredRegionCanary}, what the coordinators remember about each watched region (canary-state.ts). */
export const canaryStateKey = (prefix: string): string => `${ns(prefix)}:canary:regions`;
/** String with expiry: JSON {@link CanarySent}, the newest canary sent to one region; gone when no coordinator sends any. */
export const canarySentKey = (prefix: string, region: string): string => `${ns(prefix)}:canary:sent:${region}`;

/** Hash: maintenance window id → JSON {@link MaintenanceWindow} (maintenance-store.ts). */
export const maintenanceKey = (prefix: string): string => `${ns(prefix)}:maintenance`;
/** Counter bumped by every maintenance change, so readers can cache the windows. */
export const maintenanceRevisionKey = (prefix: string): string => `${ns(prefix)}:maintenance:rev`;
/** Hash: check id → JSON of its firing SLO burn-rate alerts (slo-monitor.ts). */
export const sloAlertsKey = (prefix: string): string => `${ns(prefix)}:slo:alerts`;
