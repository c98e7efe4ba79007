/**
 * `lookout deploy [paths…]`: load and validate the whole project (config and every check; every problem
 * at once, nothing deployed), ask the coordinator for the plan (added, removed, changed by property),
 * print it, refuse it when it removes too much (delete guard), ask (or `--yes`), and apply it in one
 * step at the revision the plan was made at. The files are the desired state: deployed checks absent
 * from them are removed (`--no-prune` keeps them).
 *
 * `lookout deploy --rollback` (or `lookout rollback`) undoes the newest deployment not yet rolled back;
 * `lookout deploy --history` lists the deployments.
 */
import { createInterface } from 'node:readline/promises';
import type { CheckDefinition } from '../checks/contract.ts';
import { formatDiagnostic } from '../checks/diagnostics.ts';
import type { DeleteGuardVerdict, DeploymentPlan } from '../checks/plan.ts';
import { DEFAULT_MAX_DELETE_PERCENT } from '../checks/project.ts';
import { ApiError, callApi, type ApiTarget } from './api-client.ts';
import { parseFlags } from '../lib/options.ts';
import { formatPlan, planSummary } from './plan-format.ts';
import { loadProject, splitArguments } from './project.ts';

export const deployHelp = `Usage: lookout deploy [paths…] [options]
       lookout deploy --rollback [--dry-run] [--yes]      (also: lookout rollback)
       lookout deploy --history

Loads every *.check.ts file under the given files and folders (default: the checks of the nearest
lookout.config.ts, else checks/examples) and validates them all with the project configuration; if
anything is invalid, every problem is listed (file, line, check id, field) and nothing is deployed.
Then shows the plan against the coordinator — checks added (+), changed (~, property by property) and
removed (-) — and applies it in one step after you confirm. The files are the desired state: deployed
checks that are not in them are removed.

Options:
  --coordinator <url>  Coordinator API URL (env LOOKOUT_COORDINATOR_URL; lookout.config.ts deploy.coordinator)
                       [default: http://127.0.0.1:8080]
  --token <token>      API token with the deploy scope (env LOOKOUT_TOKEN); see lookout token create
  --dry-run            Show the plan; apply nothing
  -y, --yes            Apply without asking (required when not on a terminal, as in CI)
  --max-delete <pct>   Refuse to remove more than this percentage of the deployed checks
                       [default: lookout.config.ts deploy.maxDeletePercent, else ${DEFAULT_MAX_DELETE_PERCENT}]
  --force              Remove more than --max-delete all the same
  --no-prune           Only add and change checks; keep deployed checks absent from the files
  --config <file>      Project configuration [default: the nearest lookout.config.ts]
  --rollback           Undo the newest deployment not yet rolled back (shows what changes, asks)
  --history            List the deployment history (who, when, what changed)
  -h, --help           Show this help

Exit status: 0 applied (or nothing to do, or a dry run); 1 refused, invalid or failed; 2 bad usage.
`;

export interface DeploySummary { added: string[]; changed: string[]; removed: string[]; unchanged: string[] }

/**
 * Sends a set of definitions to the coordinator in one deployment (no plan, no questions: for
 * programs such as the local fleet). Throws {@link ApiError} with the coordinator's code on refusal.
 */
export async function deployDefinitions(coordinatorUrl: string, checks: CheckDefinition[], prune: boolean, token?: string): Promise<DeploySummary> {
  const body = await callApi<{ summary: DeploySummary }>({ url: coordinatorUrl, ...(token ? { token } : {}) }, 'POST', '/api/deployments', { checks, prune });
  return body.summary;
}

interface PlanResponse { plan: DeploymentPlan; revision: number; registered: number; guard: DeleteGuardVerdict }
interface ApplyResponse {
  summary: DeploySummary & { revision: number };
  deployment: { id: string } | null;
  schedulers: { error?: { code: string; message: string } } | null;
}
interface RollbackResponse { rolledBack: string; plan: DeploymentPlan; deployment: { id: string } | null; schedulers: ApplyResponse['schedulers'] }
interface HistoryResponse {
  deployments: Array<{ id: string; kind: string; at: number; actor: { name: string; tokenId: string | null }; summary: { added: string[]; changed: string[]; removed: string[] }; rollbackOf: string | null; rolledBack: boolean }>;
}

type Io = { out: NodeJS.WritableStream & { isTTY?: boolean }; err: NodeJS.WritableStream; stdin: NodeJS.ReadableStream & { isTTY?: boolean } };

export async function deployCommand(
  argv: string[], env: NodeJS.ProcessEnv,
  out: Io['out'] = process.stdout, err: Io['err'] = process.stderr, stdin: Io['stdin'] = process.stdin,
): Promise<number> {
  const io: Io = { out, err, stdin };
  const parsed = parseFlags(argv, {
    coordinator: { type: 'string' }, token: { type: 'string' }, 'dry-run': { type: 'boolean' }, yes: { type: 'boolean', short: 'y' },
    'max-delete': { type: 'string' }, force: { type: 'boolean' }, prune: { type: 'boolean' }, 'no-prune': { type: 'boolean' },
    config: { type: 'string' }, rollback: { type: 'boolean' }, history: { type: 'boolean' }, help: { type: 'boolean', short: 'h' },
  });
  const usage = (message: string): number => { err.write(`lookout deploy: ${message}\n\n${deployHelp}`); return 2; };
  if ('error' in parsed) return usage(parsed.error);
  const v = parsed.values;
  if (v.help) { out.write(deployHelp); return 0; }
  if (v.prune && v['no-prune']) return usage('--prune and --no-prune contradict each other');
  if (v.rollback && v.history) return usage('--rollback and --history are separate commands');
  if ((v.rollback || v.history) && parsed.positionals.length > 0) return usage(`--${v.rollback ? 'rollback' : 'history'} takes no paths`);
  const maxDeleteText = v['max-delete'] as string | undefined;
  if (maxDeleteText !== undefined && !(/^\d+(\.\d+)?$/.test(maxDeleteText) && Number(maxDeleteText) <= 100)) {
    return usage(`--max-delete: expected a percentage from 0 to 100, got "${maxDeleteText}"`);
  }
  const token = (v.token as string | undefined) ?? (env.LOOKOUT_TOKEN || undefined);
  const targetFor = (configured?: string): ApiTarget | null => {
    const url = String(v.coordinator ?? (env.LOOKOUT_COORDINATOR_URL || undefined) ?? configured ?? 'http://127.0.0.1:8080');
    if (!URL.canParse(url) || !/^https?:$/.test(new URL(url).protocol)) { err.write(`lookout deploy: --coordinator: not an http(s) URL: ${url}\n`); return null; }
    return { url, ...(token ? { token } : {}) };
  };

  try {
    if (v.history) {
      const target = targetFor();
      return target ? await showHistory(target, io) : 2;
    }
    if (v.rollback) {
      const target = targetFor();
      return target ? await rollback(target, { dryRun: v['dry-run'] === true, yes: v.yes === true }, io) : 2;
    }

    // Deploy takes files and folders only: a pattern would deploy part of the project, and pruning would
    // then remove the rest.
    const missing = splitArguments(parsed.positionals).patterns;
    if (missing.length > 0) {
      err.write(`lookout deploy: ${missing.length} problem(s); nothing deployed:\n${missing.map((m) => `  ${m} no such file or folder\n`).join('')}`);
      return 1;
    }
    const project = await loadProject(parsed.positionals, v.config !== undefined ? { config: String(v.config) } : {});
    if (project.problems.length > 0) {
      err.write(`lookout deploy: ${project.problems.length} problem(s) in ${Math.max(project.files.length, 1)} file(s); nothing deployed:\n`);
      for (const problem of project.problems) err.write(`  ${formatDiagnostic(problem)}\n`);
      return 1;
    }
    const target = targetFor(project.config?.deploy.coordinator);
    if (!target) return 2;
    const definitions = project.checks.map((c) => c.definition);
    const prune = v['no-prune'] !== true;
    const maxDeleteShare = (maxDeleteText !== undefined ? Number(maxDeleteText) : project.config?.deploy.maxDeletePercent ?? DEFAULT_MAX_DELETE_PERCENT) / 100;
    const force = v.force === true;

    const planned = await callApi<PlanResponse>(target, 'POST', '/api/deployments/plan', { checks: definitions, prune, maxDeleteShare, force });
    out.write(`${definitions.length} check(s) in ${project.files.length} file(s)${project.config ? ` (config ${project.config.file})` : ''}; plan against ${target.url}:\n`);
    for (const line of formatPlan(planned.plan, { definitions, color: out.isTTY === true })) out.write(`${line}\n`);
    out.write(`${planSummary(planned.plan)}\n`);
    const changes = planned.plan.added.length + planned.plan.changed.length + planned.plan.removed.length;
    if (changes === 0) return 0;
    if (!planned.guard.allowed) { err.write(`lookout deploy: refused: ${planned.guard.message}\n`); return 1; }
    if (v['dry-run']) { out.write('Dry run: nothing applied.\n'); return 0; }
    if (!(await confirm('Apply these changes?', v.yes === true, io))) return 1;

    const applied = await callApi<ApplyResponse>(target, 'POST', '/api/deployments', { checks: definitions, prune, maxDeleteShare, force, expectedRevision: planned.revision });
    const s = applied.summary;
    out.write(`Applied ${applied.deployment?.id ?? '(no change)'}: ${s.added.length} added, ${s.changed.length} changed, ${s.removed.length} removed, ${s.unchanged.length} unchanged.\n`);
    warnAboutSchedulers(applied.schedulers, err);
    return 0;
  } catch (error) {
    if (!(error instanceof ApiError)) throw error;
    err.write(`lookout deploy: ${error.code}: ${error.message}\n`);
    for (const p of error.problems) err.write(`  ${p.checkId ?? (p.index !== undefined ? `#${p.index}` : '')} ${p.field ?? ''}: ${p.message}\n`);
    return 1;
  }
}

async function rollback(target: ApiTarget, options: { dryRun: boolean; yes: boolean }, io: Io): Promise<number> {
  const preview = await callApi<RollbackResponse>(target, 'POST', '/api/deployments/rollback', { dryRun: true });
  io.out.write(`Rolling back ${preview.rolledBack} on ${target.url}:\n`);
  for (const line of formatPlan(preview.plan, { color: io.out.isTTY === true })) io.out.write(`${line}\n`);
  io.out.write(`${planSummary(preview.plan)}\n`);
  if (options.dryRun) { io.out.write('Dry run: nothing applied.\n'); return 0; }
  if (!(await confirm(`Roll back ${preview.rolledBack}?`, options.yes, io))) return 1;
  const done = await callApi<RollbackResponse>(target, 'POST', '/api/deployments/rollback', { expectedTarget: preview.rolledBack });
  io.out.write(`Rolled back ${done.rolledBack}${done.deployment ? ` as ${done.deployment.id}` : ''}.\n`);
  warnAboutSchedulers(done.schedulers, io.err);
  return 0;
}

async function showHistory(target: ApiTarget, io: Io): Promise<number> {
  const { deployments } = await callApi<HistoryResponse>(target, 'GET', '/api/deployments');
  if (deployments.length === 0) { io.out.write('No deployments yet.\n'); return 0; }
  for (const d of deployments) {
    const counts = `+${d.summary.added.length} ~${d.summary.changed.length} -${d.summary.removed.length}`;
    const by = d.actor.tokenId ? `${d.actor.name} (${d.actor.tokenId})` : d.actor.name;
    const note = d.kind === 'rollback' ? ` (rollback of ${d.rollbackOf})` : d.rolledBack ? ' (rolled back)' : '';
    io.out.write(`${d.id.padEnd(8)} ${new Date(d.at).toISOString()}  ${d.kind.padEnd(8)} ${counts.padEnd(12)} by ${by}${note}\n`);
  }
  return 0;
}

/** Asks on a terminal; elsewhere only `--yes` applies (a CI job must say so explicitly). */
async function confirm(question: string, yes: boolean, io: Io): Promise<boolean> {
  if (yes) return true;
  if (io.stdin.isTTY !== true) {
    io.err.write('lookout deploy: not applied: standard input is not a terminal; pass --yes to apply without asking\n');
    return false;
  }
  const rl = createInterface({ input: io.stdin, output: io.out });
  try {
    const answer = (await rl.question(`${question} Only "yes" applies them: `)).trim();
    if (answer === 'yes') return true;
    io.err.write('lookout deploy: not applied.\n');
    return false;
  } finally {
    rl.close();
  }
}

function warnAboutSchedulers(schedulers: ApplyResponse['schedulers'], err: NodeJS.WritableStream): void {
  if (schedulers?.error) {
    err.write(`lookout deploy: note: the checks are stored, but the coordinator could not update the run schedules yet (${schedulers.error.code}: ${schedulers.error.message}); it retries by itself.\n`);
  }
}
