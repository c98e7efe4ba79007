/**
 * HTTP routes for the registry (in the route table, http/routes.ts):
 *
 * DELETE /api/checks/:id          removes one check (recorded in the history like a deployment)
 * POST /api/deployments/plan      { checks, prune?, maxDeleteShare?, force? } → the plan, nothing applied
 * POST /api/deployments           { checks, prune?, expectedRevision?, maxDeleteShare?, force? } → applied
 * POST /api/deployments/rollback  { dryRun?, expectedTarget? } → undoes the newest deployment not yet rolled back
 * GET  /api/deployments           the history, newest first (who, when, what changed)
 *
 * `prune` removes the registered checks absent from `checks` (the CLI always deploys the whole project
 * as the desired state); the delete guard refuses to remove more than `maxDeleteShare` (default 0.5) of
 * them unless `force`. Every change is recorded with the token that made it.
 */
import { DEPLOY_SCHEDULING_WAIT_MS, MAX_CHECKS_PER_DEPLOYMENT, MAX_DEPLOYMENT_BYTES, atMost } from '../../checks/limits.ts';
import { DEFAULT_MAX_DELETE_SHARE, checkDeleteGuard, shortenPlan } from '../../checks/plan.ts';
import type { Principal } from '../http/auth.ts';
import type { Actor } from './deployments.ts';
import { HttpError, checkIdParam, readJsonBody, sendJson } from '../http/json.ts';
import { RegistryError, type CheckRegistry, type RegistryErrorCode } from './store.ts';
import { deploy, read, type Handler, type Route } from '../http/route.ts';

export interface DeploymentApiDeps {
  registry: CheckRegistry;
  /** Called after checks were deployed or removed; resolves with what the scheduler did. */
  afterRegistryChange: (removedCheckIds: string[]) => Promise<unknown>;
  /** How long an answer waits for `afterRegistryChange`. @defaultValue {@link DEPLOY_SCHEDULING_WAIT_MS} */
  schedulingWaitMs?: number;
}

/**
 * What the scheduler did after a change, or, when it takes longer than `waitMs`, that the change is
 * applied and the schedules are still being brought in line: a deploy never waits on scheduling for
 * longer than that (the work goes on, and its failure is logged by the caller).
 */
export async function schedulingWithin(work: Promise<unknown>, waitMs: number): Promise<unknown> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<unknown>((resolve) => {
    timer = setTimeout(() => resolve({ state: 'scheduling', message: `applied, scheduling: the schedules are still being updated after ${waitMs} ms; they follow by themselves` }), waitMs);
  });
  work.catch(() => {}); // a late failure is the caller's to log; it must not go unhandled here
  try {
    return await Promise.race([work, late]);
  } finally {
    clearTimeout(timer);
  }
}

/** HTTP status of the registry's refusals. */
const STATUS: Record<RegistryErrorCode, number> = {
  REGISTRY_CHANGED: 409, DELETE_GUARD: 409, NOTHING_TO_ROLL_BACK: 409, ROLLBACK_CONFLICT: 409, DEPLOY_FAILED: 500,
};

/** Runs `work`, turning the registry's coded refusals into HTTP errors with the same code. */
async function mapped<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (error instanceof RegistryError) throw new HttpError(STATUS[error.code], error.code, error.message);
    throw error;
  }
}

export const actorOf = (principal: Principal): Actor => ({ tokenId: principal.tokenId, name: principal.name });

interface DeploymentBody {
  checks: unknown[];
  prune: boolean;
  force: boolean;
  maxDeleteShare: number;
  expectedRevision?: number;
}

/** Validates a deployment or plan body; every problem at once (`INVALID_BODY`, 400). */
export function parseDeploymentBody(body: unknown, options: { allowRevision: boolean }): DeploymentBody {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw new HttpError(400, 'INVALID_BODY', 'expected a JSON object { checks: CheckDefinition[], prune?: boolean }');
  }
  const { checks, prune, force, maxDeleteShare, expectedRevision, ...rest } = body as Record<string, unknown>;
  const problems: Array<{ field: string; message: string }> = [];
  if (!Array.isArray(checks)) problems.push({ field: 'checks', message: 'must be an array of check definitions' });
  else if (checks.length > MAX_CHECKS_PER_DEPLOYMENT) {
    problems.push({ field: 'checks', message: `${checks.length} checks: a deployment has ${atMost(MAX_CHECKS_PER_DEPLOYMENT, 'checks', 'MAX_CHECKS_PER_DEPLOYMENT')}` });
  }
  if (prune !== undefined && typeof prune !== 'boolean') problems.push({ field: 'prune', message: 'must be a boolean' });
  if (force !== undefined && typeof force !== 'boolean') problems.push({ field: 'force', message: 'must be a boolean' });
  if (maxDeleteShare !== undefined && !(typeof maxDeleteShare === 'number' && maxDeleteShare >= 0 && maxDeleteShare <= 1)) {
    problems.push({ field: 'maxDeleteShare', message: 'must be a number from 0 to 1' });
  }
  if (expectedRevision !== undefined && !(options.allowRevision && Number.isInteger(expectedRevision) && (expectedRevision as number) >= 0)) {
    problems.push({ field: 'expectedRevision', message: options.allowRevision ? 'must be a non-negative integer' : 'unknown field' });
  }
  for (const key of Object.keys(rest)) problems.push({ field: key, message: 'unknown field' });
  if (problems.length > 0) throw new HttpError(400, 'INVALID_BODY', 'the deployment body is invalid', { problems });
  return {
    checks: checks as unknown[], prune: prune === true, force: force === true,
    maxDeleteShare: (maxDeleteShare as number | undefined) ?? DEFAULT_MAX_DELETE_SHARE,
    ...(expectedRevision !== undefined ? { expectedRevision: expectedRevision as number } : {}),
  };
}

const invalidDefinitions = (problems: unknown[]): HttpError =>
  new HttpError(400, 'INVALID_DEFINITIONS', `${problems.length} problem(s) in the check definitions; nothing was deployed`, { problems });

export function registryRoutes(deps: DeploymentApiDeps): Route[] {
  const waitMs = deps.schedulingWaitMs ?? DEPLOY_SCHEDULING_WAIT_MS;
  const afterChange = (removed: string[]): Promise<unknown> => schedulingWithin(deps.afterRegistryChange(removed), waitMs);
  const handlers = deploymentHandlers({ ...deps, afterRegistryChange: afterChange });
  return [
    { pattern: /^\/api\/checks\/([^/]+)$/, methods: {
      DELETE: deploy(async (req, res, [rawId], _url, { principal }) => {
        req.resume();
        const id = checkIdParam(rawId!);
        if (!(await deps.registry.removeCheck(id, actorOf(principal)))) throw new HttpError(404, 'CHECK_NOT_FOUND', `no check with id "${id}"`);
        const schedulers = await afterChange([id]);
        sendJson(res, 200, { removed: id, schedulers });
      }),
    } },
    { pattern: /^\/api\/deployments$/, methods: { GET: read(handlers.history), POST: deploy(handlers.apply) } },
    { pattern: /^\/api\/deployments\/plan$/, methods: { POST: deploy(handlers.plan) } },
    { pattern: /^\/api\/deployments\/rollback$/, methods: { POST: deploy(handlers.rollback) } },
  ];
}

function deploymentHandlers(deps: DeploymentApiDeps): { plan: Handler; apply: Handler; rollback: Handler; history: Handler } {
  return {
    plan: async (req, res) => {
      const body = parseDeploymentBody(await readJsonBody(req, { limit: MAX_DEPLOYMENT_BYTES }), { allowRevision: false });
      const result = await deps.registry.plan(body.checks, { prune: body.prune });
      if ('problems' in result) throw invalidDefinitions(result.problems);
      const guard = checkDeleteGuard(result.plan, result.registered, body.maxDeleteShare, body.force);
      sendJson(res, 200, { plan: shortenPlan(result.plan), revision: result.revision, registered: result.registered, guard });
    },
    apply: async (req, res, _params, _url, { principal }) => {
      const body = parseDeploymentBody(await readJsonBody(req, { limit: MAX_DEPLOYMENT_BYTES }), { allowRevision: true });
      const result = await mapped(() => deps.registry.deploy(body.checks, {
        prune: body.prune, actor: actorOf(principal), maxDeleteShare: body.maxDeleteShare, force: body.force,
        ...(body.expectedRevision !== undefined ? { expectedRevision: body.expectedRevision } : {}),
      }));
      if ('problems' in result) throw invalidDefinitions(result.problems);
      const schedulers = await deps.afterRegistryChange(result.summary.removed);
      sendJson(res, 200, { summary: result.summary, plan: shortenPlan(result.plan), deployment: result.deployment, schedulers });
    },
    rollback: async (req, res, _params, _url, { principal }) => {
      const raw = await readJsonBody(req, { limit: MAX_DEPLOYMENT_BYTES, emptyAs: {} });
      if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw new HttpError(400, 'INVALID_BODY', 'expected a JSON object { dryRun?: boolean, expectedTarget?: string }');
      const { dryRun, expectedTarget, ...rest } = raw as Record<string, unknown>;
      const problems = [
        ...(dryRun !== undefined && typeof dryRun !== 'boolean' ? [{ field: 'dryRun', message: 'must be a boolean' }] : []),
        ...(expectedTarget !== undefined && typeof expectedTarget !== 'string' ? [{ field: 'expectedTarget', message: 'must be a deployment id' }] : []),
        ...Object.keys(rest).map((field) => ({ field, message: 'unknown field' })),
      ];
      if (problems.length > 0) throw new HttpError(400, 'INVALID_BODY', 'the rollback body is invalid', { problems });
      const result = await mapped(() => deps.registry.rollback({
        actor: actorOf(principal), dryRun: dryRun === true, ...(typeof expectedTarget === 'string' ? { expectedTarget } : {}),
      }));
      const schedulers = result.deployment ? await deps.afterRegistryChange(result.plan.removed) : null;
      sendJson(res, 200, { rolledBack: result.rolledBack, dryRun: dryRun === true, plan: shortenPlan(result.plan), deployment: result.deployment, revision: result.revision, schedulers });
    },
    history: async (_req, res) => {
      sendJson(res, 200, { deployments: await deps.registry.history() });
    },
  };
}
