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
import { accept, duration, httpUrl, nonEmpty, optionsHelp, parseOptions, refuse, toggle, value, type OptionTable } from '../lib/options.ts';
import { DEFAULT_IMPORT_TIMEOUT_MS } from '../checks/limits.ts';
import { formatPlan, planSummary } from './plan-format.ts';
import { loadProject, splitArguments } from './project.ts';

/** `lookout deploy`'s options. */
export const DEPLOY_OPTIONS = {
  coordinator: value({
    flag: '--coordinator', env: ['LOOKOUT_COORDINATOR_URL'], help: 'Coordinator API URL', optional: true, parse: httpUrl, placeholder: '<url>',
    defaultText: 'lookout.config.ts deploy.coordinator, else http://127.0.0.1:8080',
  }),
  token: value({ flag: '--token', env: ['LOOKOUT_TOKEN'], help: 'API token with the deploy scope; see lookout token create', optional: true, secret: true, parse: nonEmpty('a token'), placeholder: '<token>' }),
  dryRun: toggle({ flag: '--dry-run', help: 'Show the plan; apply nothing' }),
  yes: toggle({ flag: '--yes', short: '-y', help: 'Apply without asking (required when not on a terminal, as in CI)' }),
  maxDeletePercent: value({
    flag: '--max-delete', help: 'Refuse to remove more than this percentage of the deployed checks', optional: true, placeholder: '<pct>',
    defaultText: `lookout.config.ts deploy.maxDeletePercent, else ${DEFAULT_MAX_DELETE_PERCENT}`,
    parse: (text: string) => (/^\d+(\.\d+)?$/.test(text) && Number(text) <= 100 ? accept(Number(text)) : refuse('expected a percentage from 0 to 100')),
  }),
  force: toggle({ flag: '--force', help: 'Remove more than --max-delete all the same' }),
  prune: toggle({ flag: '--prune', help: 'Remove deployed checks absent from the files (the default)' }),
  noPrune: toggle({ flag: '--no-prune', help: 'Only add and change checks; keep deployed checks absent from the files' }),
  config: value({ flag: '--config', help: 'Project configuration', defaultText: 'the nearest lookout.config.ts', optional: true, parse: nonEmpty('a file'), placeholder: '<file>' }),
  rollback: toggle({ flag: '--rollback', help: 'Undo the newest deployment not yet rolled back (shows what changes, asks)' }),
  history: toggle({ flag: '--history', help: 'List the deployment history (who, when, what changed)' }),
  importTimeout: value({
    flag: '--import-timeout', help: 'How long one check file may take to load (IMPORT_TIMEOUT past it)', placeholder: '<duration>',
    default: DEFAULT_IMPORT_TIMEOUT_MS, defaultText: '10s', parse: duration(100, 600_000),
  }),
} satisfies OptionTable;

export const deployHelp = [
  'Usage: lookout deploy [paths…] [options]',
  '       lookout deploy --rollback [--dry-run] [--yes]      (also: lookout rollback)',
  '       lookout deploy --history',
  '',
  'Loads every *.check.ts file under the given files and folders (default: the checks of the nearest',
  'lookout.config.ts, else checks/examples) and validates them all with the project configuration; if',
  'anything is invalid, every problem is listed (file, line, check id, field) and nothing is deployed.',
  'Then shows the plan against the coordinator — checks added (+), changed (~, property by property) and',
  'removed (-) — and applies it in one step after you confirm. The files are the desired state: deployed',
  'checks that are not in them are removed.',
  '',
  'Options:',
  ...optionsHelp(DEPLOY_OPTIONS, 23),
  '',
  'Exit status: 0 applied (or nothing to do, or a dry run); 1 refused, invalid or failed; 2 bad usage.',
  '',
].join('\n');

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
  schedulers: { error?: { code: string; message: string }; state?: string; message?: string } | null;
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
  const parsed = parseOptions(DEPLOY_OPTIONS, argv, env, { positionals: true });
  const usage = (message: string): number => { err.write(`lookout deploy: ${message}\n\n${deployHelp}`); return 2; };
  if ('help' in parsed) { out.write(deployHelp); return 0; }
  if ('errors' in parsed) return usage(parsed.errors.join('\nlookout deploy: '));
  const v = parsed.values;
  if (v.prune && v.noPrune) return usage('--prune and --no-prune contradict each other');
  if (v.rollback && v.history) return usage('--rollback and --history are separate commands');
  if ((v.rollback || v.history) && parsed.positionals.length > 0) return usage(`--${v.rollback ? 'rollback' : 'history'} takes no paths`);
  const token = v.token;
  const targetFor = (configured?: string): ApiTarget | null => {
    const url = v.coordinator ?? configured ?? 'http://127.0.0.1:8080';
    if (!URL.canParse(url) || !/^https?:$/.test(new URL(url).protocol)) { err.write(`lookout deploy: deploy.coordinator in lookout.config.ts: not an http(s) URL: ${url}\n`); return null; }
    return { url, ...(token ? { token } : {}) };
  };

  try {
    if (v.history) {
      const target = targetFor();
      return target ? await showHistory(target, io) : 2;
    }
    if (v.rollback) {
      const target = targetFor();
      return target ? await rollback(target, { dryRun: v.dryRun, yes: v.yes }, io) : 2;
    }

    // Deploy takes files and folders only: a pattern would deploy part of the project, and pruning would
    // then remove the rest.
    const missing = splitArguments(parsed.positionals).patterns;
    if (missing.length > 0) {
      err.write(`lookout deploy: ${missing.length} problem(s); nothing deployed:\n${missing.map((m) => `  ${m} no such file or folder\n`).join('')}`);
      return 1;
    }
    const project = await loadProject(parsed.positionals, { importTimeoutMs: v.importTimeout, ...(v.config !== undefined ? { config: v.config } : {}) });
    if (project.problems.length > 0) {
      err.write(`lookout deploy: ${project.problems.length} problem(s) in ${Math.max(project.files.length, 1)} file(s); nothing deployed:\n`);
      for (const problem of project.problems) err.write(`  ${formatDiagnostic(problem)}\n`);
      return 1;
    }
    const target = targetFor(project.config?.deploy.coordinator);
    if (!target) return 2;
    const definitions = project.checks.map((c) => c.definition);
    const prune = !v.noPrune;
    const maxDeleteShare = (v.maxDeletePercent ?? project.config?.deploy.maxDeletePercent ?? DEFAULT_MAX_DELETE_PERCENT) / 100;
    const force = v.force;

    const planned = await callApi<PlanResponse>(target, 'POST', '/api/deployments/plan', { checks: definitions, prune, maxDeleteShare, force });
    out.write(`${definitions.length} check(s) in ${project.files.length} file(s)${project.config ? ` (config ${project.config.file})` : ''}; plan against ${target.url}:\n`);
    for (const line of formatPlan(planned.plan, { definitions, color: out.isTTY === true })) out.write(`${line}\n`);
    out.write(`${planSummary(planned.plan)}\n`);
    const changes = planned.plan.added.length + planned.plan.changed.length + planned.plan.removed.length;
    if (changes === 0) return 0;
    if (!planned.guard.allowed) { err.write(`lookout deploy: refused: ${planned.guard.message}\n`); return 1; }
    if (v.dryRun) { out.write('Dry run: nothing applied.\n'); return 0; }
    if (!(await confirm('Apply these changes?', v.yes, io))) return 1;

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
  if (schedulers?.state === 'scheduling') {
    err.write(`lookout deploy: note: ${schedulers.message ?? 'applied, scheduling'}\n`);
  }
  if (schedulers?.error) {
    err.write(`lookout deploy: note: the checks are stored, but the coordinator could not update the run schedules yet (${schedulers.error.code}: ${schedulers.error.message}); it retries by itself.\n`);
  }
}
