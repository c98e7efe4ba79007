/**
 * Prints deployment plans the way `terraform plan` does: `+` added, `-` removed, `~` changed with one
 * line per changed property (`frequency: 1m → 30s`). Pure: returns lines.
 */
import type { CheckDefinition } from '../checks/contract.ts';
import { formatDuration } from '../checks/duration.ts';
import type { DeploymentPlan, PropertyChange } from '../checks/plan.ts';

const COLORS = { '+': '\x1b[32m', '-': '\x1b[31m', '~': '\x1b[33m' } as const;
const RESET = '\x1b[0m';

/** `frequencyMs` → `frequency`, shown as a duration: the way check files spell it. */
function displayPath(path: string): { path: string; duration: boolean } {
  const match = /^(frequency|timeout)Ms$/.exec(path);
  return match ? { path: match[1]!, duration: true } : { path, duration: false };
}

function show(value: unknown, duration: boolean): string {
  if (value === undefined) return '(unset)';
  if (duration && typeof value === 'number') return formatDuration(value);
  return typeof value === 'string' ? JSON.stringify(value) : JSON.stringify(value) ?? String(value);
}

export function formatChange(change: PropertyChange): string {
  const { path, duration } = displayPath(change.path);
  if (!('before' in change)) return `${path}: ${show(change.after, duration)} (added)`;
  if (!('after' in change)) return `${path}: ${show(change.before, duration)} (removed)`;
  return `${path}: ${show(change.before, duration)} → ${show(change.after, duration)}`;
}

/**
 * The plan as lines. `definitions` (the deployed set) describe added checks; `color` adds ANSI colours.
 */
export function formatPlan(plan: DeploymentPlan, options: { definitions?: readonly CheckDefinition[]; color?: boolean } = {}): string[] {
  const paint = (sign: keyof typeof COLORS, text: string): string => (options.color ? `${COLORS[sign]}${text}${RESET}` : text);
  const byId = new Map((options.definitions ?? []).map((d) => [d.id, d]));
  const lines: string[] = [];
  for (const id of plan.added) {
    const d = byId.get(id);
    lines.push(paint('+', `  + ${id}${d ? `  (${d.type}, every ${formatDuration(d.frequencyMs)}, ${d.regions.join(', ')})` : ''}`));
  }
  for (const { id, changes } of plan.changed) {
    lines.push(paint('~', `  ~ ${id}`));
    for (const change of changes) lines.push(paint('~', `      ${formatChange(change)}`));
  }
  for (const id of plan.removed) lines.push(paint('-', `  - ${id}`));
  return lines;
}

/** `Plan: 1 to add, 2 to change, 1 to remove (4 unchanged).` or `No changes.` */
export function planSummary(plan: DeploymentPlan): string {
  const counts = [plan.added.length, plan.changed.length, plan.removed.length];
  if (counts.every((n) => n === 0)) return `No changes: the ${plan.unchanged.length} deployed check(s) already match.`;
  return `Plan: ${counts[0]} to add, ${counts[1]} to change, ${counts[2]} to remove (${plan.unchanged.length} unchanged).`;
}
