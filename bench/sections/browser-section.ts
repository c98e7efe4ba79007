/**
 * The browser benchmark is another script (`bench/browser.ts`, written separately). When it exists, it is
 * run here as `node bench/browser.ts` (tiny in smoke mode, see {@link smokeArgs}) (with `LOOKOUT_BENCH_RESULTS_DIR` set to the results
 * folder) and the JSON it writes (`browser.json`, in that folder or in bench/results) is included: its
 * own `figures`/`targets`/`notes` when it uses this report's shapes, else every number in it.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT, spawnNode } from '../lib/proc.ts';
import { figure, type Figure, type Target } from '../lib/report.ts';
import type { Section, SectionContext, SectionOutput } from '../lib/section.ts';

export const BROWSER_SCRIPT = 'bench/browser.ts';

/** Every finite number in `value`, keyed by its dotted path (arrays by index), at most `limit` of them. */
export function numericLeaves(value: unknown, limit = 40, path = ''): Array<{ path: string; value: number }> {
  const out: Array<{ path: string; value: number }> = [];
  const walk = (v: unknown, p: string): void => {
    if (out.length >= limit) return;
    if (typeof v === 'number' && Number.isFinite(v)) out.push({ path: p, value: v });
    else if (Array.isArray(v)) v.forEach((item, i) => walk(item, `${p}[${i}]`));
    else if (v !== null && typeof v === 'object') for (const [k, item] of Object.entries(v)) walk(item, p ? `${p}.${k}` : k);
  };
  walk(value, path);
  return out;
}

/**
 * How to make the browser script tiny: `--smoke` when it declares that option, else one second per cell
 * when it declares `--seconds-per-cell`, else no flag (it then runs as it is).
 */
export function smokeArgs(source: string): string[] {
  if (/\bsmoke['"]?\s*:\s*\{/.test(source)) return ['--smoke'];
  if (/['"]seconds-per-cell['"]\s*:/.test(source)) return ['--seconds-per-cell', '1'];
  return [];
}

interface Cell { impl: string; concurrency: number; perSecond?: number; pssMeanMiB?: number; pssPeakMiB?: number; failures?: number }

/**
 * Figures from `cells` of {impl: 'lookout' | 'raw', concurrency, perSecond, pssMeanMiB, pssPeakMiB} (the
 * shape bench/browser.ts writes): Lookout's browser runner beside raw Playwright at each concurrency.
 * Empty when the JSON has no such cells.
 */
export function cellFigures(json: unknown): Figure[] {
  const cells = (json as { cells?: unknown }).cells;
  if (!Array.isArray(cells)) return [];
  const valid = cells.filter((c): c is Cell => typeof c === 'object' && c !== null && typeof (c as Cell).impl === 'string' && typeof (c as Cell).concurrency === 'number');
  const figures: Figure[] = [];
  for (const concurrency of [...new Set(valid.map((c) => c.concurrency))].sort((a, b) => a - b)) {
    const ours = valid.find((c) => c.concurrency === concurrency && c.impl === 'lookout');
    const raw = valid.find((c) => c.concurrency === concurrency && c.impl === 'raw');
    if (!ours) continue;
    const limit = (value: number | undefined) => ({ name: 'raw Playwright', value: typeof value === 'number' ? value : null });
    figures.push(figure(`journeys/s at concurrency ${concurrency}`, ours.perSecond ?? null, 'journeys/s', limit(raw?.perSecond)));
    figures.push(figure(`browser PSS mean at concurrency ${concurrency}`, ours.pssMeanMiB ?? null, 'MiB', limit(raw?.pssMeanMiB)));
    figures.push(figure(`browser PSS peak at concurrency ${concurrency}`, ours.pssPeakMiB ?? null, 'MiB', limit(raw?.pssPeakMiB)));
  }
  return figures;
}

const isFigure = (f: unknown): f is Figure => typeof f === 'object' && f !== null && typeof (f as Figure).name === 'string' && 'value' in f;
const isTarget = (t: unknown): t is Target => typeof t === 'object' && t !== null && typeof (t as Target).goal === 'string' && 'met' in t;

export const browser: Section = {
  id: 'browser',
  title: 'Browser checks',
  async run(ctx: SectionContext): Promise<SectionOutput> {
    if (!existsSync(join(ROOT, BROWSER_SCRIPT))) {
      return { figures: [], targets: [], notes: [], absent: `${BROWSER_SCRIPT} does not exist yet` };
    }
    const startedAt = Date.now();
    const child = spawnNode('browser-bench', BROWSER_SCRIPT, ctx.smoke ? smokeArgs(readFileSync(join(ROOT, BROWSER_SCRIPT), 'utf8')) : [], {
      logDir: ctx.logDir, env: { LOOKOUT_BENCH_RESULTS_DIR: ctx.resultsDir, REDIS_URL: ctx.redis.url },
    });
    ctx.defer(() => child.stop(10_000));
    const code = await child.exited;
    if (code !== 0) throw new Error(`BENCH_BROWSER: ${BROWSER_SCRIPT} exited with ${code}; see ${child.logFile}`);
    const candidates = [join(ctx.resultsDir, 'browser.json'), join(ROOT, 'bench', 'results', 'browser.json')]
      .filter((file) => existsSync(file) && statSync(file).mtimeMs >= startedAt - 1_000);
    if (candidates.length === 0) throw new Error(`BENCH_BROWSER: ${BROWSER_SCRIPT} finished but wrote no browser.json in ${ctx.resultsDir} or bench/results`);
    const json: unknown = JSON.parse(readFileSync(candidates[0]!, 'utf8'));
    const own = json as { figures?: unknown[]; targets?: unknown[]; notes?: unknown[] };
    const fromCells = cellFigures(json);
    const figures = Array.isArray(own.figures) && own.figures.every(isFigure) ? own.figures
      : fromCells.length > 0 ? fromCells
        : numericLeaves(json).map((leaf) => ({ name: leaf.path, value: leaf.value, unit: '' }));
    const targets = Array.isArray(own.targets) && own.targets.every(isTarget) ? own.targets : [];
    const notes = Array.isArray(own.notes) ? own.notes.filter((n): n is string => typeof n === 'string') : [];
    return { figures, targets, notes: [`From ${candidates[0]} (written by ${BROWSER_SCRIPT}).`, ...notes], data: json };
  },
};
