/**
 * Events the coordinator emits for delivery to alert channels. Every event has a deterministic `id`,
 * so that a replay (a coordinator crashing between deciding and delivering, or two coordinators
 * racing) can be recognised and delivered once.
 */
import type { Incident, IncidentEventType } from './incident.ts';

export type ProbeEventType = 'probe.offline' | 'probe.online';
export type AlertEventType = IncidentEventType | ProbeEventType;

export interface IncidentAlertEvent {
  /** `${incident.id}:${incident.seq}` */
  id: string;
  type: IncidentEventType;
  at: number;
  check: { id: string; name: string };
  incident: Incident;
}

export interface ProbeAlertEvent {
  /** `${type}:${agentId}:${at}` */
  id: string;
  type: ProbeEventType;
  at: number;
  agent: { agentId: string; region: string; lastSeenAt: number };
}

export type AlertEvent = IncidentAlertEvent | ProbeAlertEvent;

export const incidentEventId = (incident: Incident): string => `${incident.id}:${incident.seq}`;
export const probeEventId = (type: ProbeEventType, agentId: string, at: number): string => `${type}:${agentId}:${at}`;
