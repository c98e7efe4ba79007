/**
 * The benchmarks must never rot: run `bench/run.ts --smoke` (every benchmark, tiny) into a temporary
 * folder and check that the report has every section, each with measured numbers, in JSON and Markdown.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Report } from '../../bench/lib/report.ts';
import { SECTIONS } from '../../bench/sections/index.ts';

const ROOT = join(import.meta.dirname, '../..');

describe('bench/run.ts --smoke', () => {
  const dir = mkdtempSync(join(tmpdir(), 'lookout-bench-smoke-'));
  let exit: { code: number | null; stderr: string };
  let report: Report;

  beforeAll(async () => {
    exit = await new Promise((resolve) => {
      execFile(process.execPath, ['--disable-warning=ExperimentalWarning', join(ROOT, 'bench/run.ts'), '--smoke', '--results-dir', dir],
        // ~50 s alone; the whole suite beside it on 2 cores can make it several times slower.
        { cwd: ROOT, timeout: 280_000, maxBuffer: 16 * 1024 * 1024 },
        (error, _stdout, stderr) => resolve({ code: error ? (typeof error.code === 'number' ? error.code : null) : 0, stderr }));
    });
    if (!existsSync(join(dir, 'report.json'))) {
      throw new Error(`bench/run.ts --smoke wrote no report (exit ${exit.code}):\n${exit.stderr.slice(-3000)}`);
    }
    report = JSON.parse(readFileSync(join(dir, 'report.json'), 'utf8')) as Report;
  }, 300_000);

  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('exits 0 with every section run', () => {
    expect(exit.code, exit.stderr.slice(-3000)).toBe(0);
    expect(report.mode).toBe('smoke');
    expect(report.sections.map((s) => s.id)).toEqual(SECTIONS.map((s) => s.id));
  });

  it('has measured numbers in every section that ran, and says why one did not', () => {
    for (const section of report.sections) {
      if (section.status === 'absent') {
        // Only the separately written browser benchmark may be missing, and then it says so.
        expect(section.id).toBe('browser');
        expect(section.error).toMatch(/does not exist/);
        continue;
      }
      expect(section.status, `${section.id}: ${section.error}`).toBe('ok');
      const numbers = section.figures.map((f) => f.value).filter((v) => typeof v === 'number' && Number.isFinite(v));
      expect(numbers.length, `${section.id} has no measured figure`).toBeGreaterThan(0);
      for (const t of section.targets) {
        // A target is either measured or explicitly missed (e.g. a webhook that never came). Every peer a
        // benchmark compares with is installed by `scripts/bootstrap.sh test`, so none may be missing here;
        // when one is, the report says why, and so does this failure.
        expect(typeof t.measured === 'number' || t.met === false, `${section.id}: ${t.goal}${t.notMeasured ? ` (not measured: ${t.notMeasured})` : ''}`).toBe(true);
      }
    }
  });

  it('puts each headline figure beside the limit measured in the same run', () => {
    const byId = new Map(report.sections.map((s) => [s.id, s]));
    const limited = (id: string, name: RegExp): number | null | undefined =>
      byId.get(id)?.figures.find((f) => name.test(f.name) && f.limit)?.limit?.value;
    expect(limited('httpThroughput', /^agent checks\/s$/)).toBeGreaterThan(0); // raw undici
    expect(limited('timingAccuracy', /connect/)).toBeGreaterThan(0); // curl
    expect(limited('ingest', /^coordinator ingest$/)).toBeGreaterThan(0); // raw BullMQ
    expect(limited('memory', /HTTP-only agent idle RSS vs bare Node/)).toBeGreaterThan(0); // bare Node
  });

  it('writes a Markdown report naming every section and every target', () => {
    const markdown = readFileSync(join(dir, 'report.md'), 'utf8');
    for (const section of report.sections) {
      expect(markdown).toContain(`## ${section.title}`);
      for (const t of section.targets) expect(markdown).toContain(t.goal);
    }
  });
});
