/** Flags of `bench/run.ts`, parsed and validated at once (pure). */

export interface BenchOptions {
  /** Each benchmark tiny, in seconds. @defaultValue false */
  smoke: boolean;
  /** Run only these section ids. @defaultValue every section */
  only: string[] | null;
  /** Where report.json, report.md, logs and profiles go. @defaultValue `bench/results` */
  resultsDir: string | null;
  /** Run Lookout's processes with `--cpu-prof` (profiles under `<results>/profiles`). @defaultValue false */
  profile: boolean;
  /** Concurrency of the agent, the raw undici loop and the blackbox load loop. @defaultValue 10 */
  concurrency: number;
}

export type ParseBenchArgsResult = { options: BenchOptions } | { errors: string[] } | { help: true };

export function parseBenchArgs(argv: readonly string[], sectionIds: readonly string[]): ParseBenchArgsResult {
  const options: BenchOptions = { smoke: false, only: null, resultsDir: null, profile: false, concurrency: 10 };
  const errors: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const eq = arg.indexOf('=');
    const flag = eq > 0 ? arg.slice(0, eq) : arg;
    const value = (): string | undefined => (eq > 0 ? arg.slice(eq + 1) : argv[i + 1] !== undefined && !argv[i + 1]!.startsWith('--') ? argv[++i] : undefined);
    switch (flag) {
      case '-h': case '--help': return { help: true };
      case '--smoke': options.smoke = true; break;
      case '--profile': options.profile = true; break;
      case '--only': {
        const text = value();
        if (!text) { errors.push('--only: expected a comma-separated list of sections'); break; }
        const ids = text.split(',').map((s) => s.trim()).filter(Boolean);
        const unknown = ids.filter((id) => !sectionIds.includes(id));
        if (unknown.length > 0) errors.push(`--only: unknown section ${unknown.map((u) => JSON.stringify(u)).join(', ')} (known: ${sectionIds.join(', ')})`);
        options.only = ids;
        break;
      }
      case '--results-dir': {
        const text = value();
        if (!text) errors.push('--results-dir: expected a folder');
        else options.resultsDir = text;
        break;
      }
      case '--concurrency': {
        const text = value();
        const n = Number(text);
        if (!text || !/^\d+$/.test(text) || n < 1 || n > 500) errors.push(`--concurrency: expected an integer from 1 to 500, got ${JSON.stringify(text ?? '')}`);
        else options.concurrency = n;
        break;
      }
      default: errors.push(`${flag}: unknown flag (see --help)`);
    }
  }
  return errors.length > 0 ? { errors } : { options };
}

export function benchHelp(sectionIds: readonly string[]): string {
  return `Usage: node bench/run.ts [options]

Benchmarks Lookout against the machine's limits (raw undici, blackbox_exporter, curl, raw BullMQ),
on loopback only, and writes report.md and report.json.

Options:
  --smoke               Run each benchmark tiny (seconds), as the smoke test does
  --only <a,b>          Run only these sections: ${sectionIds.join(', ')}
  --results-dir <dir>   Where reports, logs and profiles go (default bench/results)
  --profile             Run Lookout's processes with --cpu-prof (profiles in <results>/profiles)
  --concurrency <n>     Concurrency of the throughput comparison (default 10)
  -h, --help            Show this help
`;
}
