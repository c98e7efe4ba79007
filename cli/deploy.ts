/**
 * `lookout deploy <paths…>`: load and validate every check under the paths, report every problem at
 * once (and deploy nothing), else send the whole set to the coordinator in one deployment.
 */
import type { CheckDefinition } from '../checks/contract.ts';
import { formatDiagnostic } from '../checks/diagnostics.ts';
import { loadChecks } from '../checks/loader.ts';
import { parseFlags } from './args.ts';

export const deployHelp = `Usage: lookout deploy [paths…] [options]

Loads every *.check.ts file under the given files and folders (default: checks/examples), validates
them all, and deploys them to the coordinator in one step. If any check is invalid, every problem is
listed (file, line, check id, field) and nothing is deployed.

Options:
  --coordinator <url>  Coordinator API URL (env LOOKOUT_COORDINATOR_URL) [default: http://127.0.0.1:8080]
  --prune              Also remove deployed checks that are not in these files
  --dry-run            Validate and show what would be deployed; send nothing
  -h, --help           Show this help
`;

export interface DeploySummary { added: string[]; changed: string[]; removed: string[]; unchanged: string[] }

/** Sends a set of definitions to the coordinator; throws with the coordinator's own message on refusal. */
export async function deployDefinitions(coordinatorUrl: string, checks: CheckDefinition[], prune: boolean): Promise<DeploySummary> {
  const response = await fetch(new URL('/api/deployments', coordinatorUrl), {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ checks, prune }),
  });
  const body = await response.json().catch(() => null) as { summary?: DeploySummary; error?: { code: string; message?: string; problems?: { checkId?: string; field?: string; message: string }[] } } | null;
  if (!response.ok) {
    const problems = body?.error?.problems?.map((p) => `  ${p.checkId ?? ''} ${p.field ?? ''}: ${p.message}`).join('\n') ?? '';
    throw new Error(`coordinator refused the deployment (${response.status} ${body?.error?.code ?? ''}) ${body?.error?.message ?? ''}\n${problems}`.trim());
  }
  return body?.summary ?? (body as unknown as DeploySummary);
}

export async function deployCommand(argv: string[], env: NodeJS.ProcessEnv, out = process.stdout, err = process.stderr): Promise<number> {
  const parsed = parseFlags(argv, {
    coordinator: { type: 'string' }, prune: { type: 'boolean' }, 'dry-run': { type: 'boolean' }, help: { type: 'boolean', short: 'h' },
  });
  if ('error' in parsed) { err.write(`lookout deploy: ${parsed.error}\n\n${deployHelp}`); return 2; }
  if (parsed.values.help) { out.write(deployHelp); return 0; }
  const coordinator = String(parsed.values.coordinator ?? env.LOOKOUT_COORDINATOR_URL ?? 'http://127.0.0.1:8080');
  try { new URL(coordinator); } catch { err.write(`lookout deploy: --coordinator: not a URL: ${coordinator}\n`); return 2; }

  const paths = parsed.positionals.length > 0 ? parsed.positionals : ['checks/examples'];
  const loaded = await loadChecks(paths);
  if (loaded.problems.length > 0) {
    err.write(`lookout deploy: ${loaded.problems.length} problem(s) in ${loaded.files.length} file(s); nothing deployed:\n`);
    for (const problem of loaded.problems) err.write(`  ${formatDiagnostic(problem)}\n`);
    return 1;
  }
  const definitions = loaded.checks.map((c) => c.definition);
  if (parsed.values['dry-run']) {
    out.write(`${definitions.length} valid check(s) in ${loaded.files.length} file(s); dry run, nothing sent:\n`);
    for (const c of loaded.checks) out.write(`  ${c.definition.id}  (${c.definition.type}, ${c.definition.regions.join(', ')})  ${c.file}\n`);
    return 0;
  }
  try {
    const summary = await deployDefinitions(coordinator, definitions, Boolean(parsed.values.prune));
    out.write(`deployed to ${coordinator}: ${summary.added.length} added, ${summary.changed.length} changed, ${summary.removed.length} removed, ${summary.unchanged.length} unchanged\n`);
    for (const [label, ids] of [['+', summary.added], ['~', summary.changed], ['-', summary.removed]] as const) {
      for (const id of ids) out.write(`  ${label} ${id}\n`);
    }
    return 0;
  } catch (error) {
    const cause = (error as { cause?: { code?: string } }).cause;
    err.write(cause?.code === 'ECONNREFUSED'
      ? `lookout deploy: no coordinator at ${coordinator} (connection refused). Start one with \`lookout coordinator\` or pass --coordinator.\n`
      : `lookout deploy: ${(error as Error).message}\n`);
    return 1;
  }
}
