/**
 * The facts a person reading an alert wants, as labelled lines, shared by the message channels (Slack
 * fields, email bodies): for an incident its scope, regions, start and per-region errors; for a probe
 * event the agent; for any other type its own fields. Pure.
 */
import { formatDuration } from '../../../checks/duration.ts';
import { flattenFields, type EventView } from '../../events/view.ts';
import { whyLine } from './evidence.ts';

export interface RegionError { region: string; code: string; message: string; at: number }

export interface EventFacts {
  /** Short title, e.g. `Homepage: DOWN (regional)`, `Homepage: RECOVERED`, `Agent agent-7: OFFLINE`. */
  title: string;
  /** Labelled values in display order. */
  facts: Array<[label: string, value: string]>;
  /** Last error per failing region (incidents only), in region order. */
  errors: RegionError[];
  /** Why the failing regions fail, in one line: the incident's top difference (open incidents with evidence only). */
  why: string | null;
}

const iso = (ms: number): string => new Date(ms).toISOString();
const list = (regions: readonly string[]): string => (regions.length > 0 ? regions.join(', ') : '—');

export function eventFacts(view: EventView): EventFacts {
  if (view.kind === 'incident') {
    const { event } = view;
    const { incident } = event;
    const name = event.check.name || event.check.id;
    const state = !view.firing ? 'RECOVERED' : `DOWN (${incident.scope})`;
    const facts: Array<[string, string]> = [
      ['Check', name === event.check.id ? name : `${name} (${event.check.id})`],
      ['Scope', incident.scope],
    ];
    if (view.firing) facts.push(['Failing', list(incident.failingRegions)], ['Passing', list(incident.passingRegions)]);
    if (incident.noDataRegions.length > 0) facts.push(['No data', list(incident.noDataRegions)]);
    facts.push(['Failing since', iso(incident.firstFailureAt)]);
    if (incident.resolvedAt !== null) facts.push(['Resolved at', iso(incident.resolvedAt), ], ['Duration', formatDuration(Math.max(0, incident.resolvedAt - incident.firstFailureAt))]);
    facts.push(['Severity', view.severity], ['Incident', incident.id]);
    const errors = incident.failingRegions.flatMap((region) => {
      const failure = incident.lastErrors[region];
      return failure ? [{ region, code: failure.code, message: failure.message, at: failure.at }] : [];
    });
    return { title: `${name}: ${state}`, facts, errors, why: whyLine(view) };
  }
  if (view.kind === 'probe') {
    const { agent } = view.event;
    return {
      title: `Probe agent ${agent.agentId}: ${view.firing ? 'OFFLINE' : 'ONLINE'}`,
      facts: [['Agent', agent.agentId], ['Region', agent.region], ['Last seen', iso(agent.lastSeenAt)], ['Severity', view.severity]],
      errors: [],
      why: null,
    };
  }
  const subject = view.check ? `${view.check.name}: ` : '';
  return {
    title: `${subject}${view.event.type}`,
    facts: [['Event', view.event.type], ...flattenFields(view.fields)],
    errors: [],
    why: null,
  };
}

/** Cuts `text` to at most `max` characters, marking the cut with an ellipsis. */
export function truncate(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, Math.max(0, max - 1))}…`;
}
