/**
 * What signed jobs cost: signing a run's slot (a coordinator, once per run), verifying it and checking the
 * definition's digest (an agent, once per job; ingest verifies the slot again per result). Measured in
 * process, in a tight loop, beside the limit of the same run: a plain SHA-256 of the same definition, the
 * least any integrity check of a job could cost.
 */
import { createHash } from 'node:crypto';
import { canonicalJson } from '../../lib/canonical-json.ts';
import { JobVerifier, definitionDigest } from '../../checks/signing.ts';
import { httpCheck } from '../lib/payloads.ts';
import { figure, target } from '../lib/report.ts';
import type { Section, SectionContext, SectionOutput } from '../lib/section.ts';
import { benchSigner } from '../lib/signing.ts';

/** Microseconds per call of `work`, the median of `rounds` timed loops of `n` calls. */
function microsPer(work: (i: number) => unknown, n: number, rounds: number): number {
  const samples: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const start = process.hrtime.bigint();
    for (let i = 0; i < n; i++) work(i);
    samples.push(Number(process.hrtime.bigint() - start) / 1_000 / n);
  }
  return samples.sort((a, b) => a - b)[Math.floor(samples.length / 2)]!;
}

export const signing: Section = {
  id: 'signing',
  title: 'Signed jobs',
  async run(ctx: SectionContext): Promise<SectionOutput> {
    const n = ctx.smoke ? 200 : 5_000;
    const rounds = ctx.smoke ? 3 : 7;
    const check = httpCheck({ id: 'signed', url: 'https://shop.example.com/api/checkout', regions: ['us-east', 'eu-west', 'ap-south'], headers: { authorization: '{{secret:TOKEN}}' } });
    const digest = definitionDigest(check);
    const slot = (i: number) => ({ region: 'eu-west', checkId: check.id, checkVersion: 3, trigger: 'schedule', scheduledAt: 1_700_000_000_000 + i, expiresAt: 1_700_000_030_000 + i, definitionDigest: digest });
    const signatures = Array.from({ length: n }, (_, i) => benchSigner.signRun(slot(i)));
    const verifier = new JobVerifier(benchSigner.publicKey);
    const signUs = microsPer((i) => benchSigner.signRun(slot(i)), n, rounds);
    const verifyUs = microsPer((i) => verifier.verifyRun(slot(i), signatures[i]!), n, rounds);
    const digestUs = microsPer(() => definitionDigest(check), n, rounds);
    const plainHashUs = microsPer(() => createHash('sha256').update(canonicalJson(check)).digest('hex'), n, rounds);
    const rawHashUs = microsPer((i) => createHash('sha256').update(String(i)).digest('hex'), n, rounds);
    return {
      figures: [
        figure('sign one run (coordinator)', signUs, 'µs', { name: 'a SHA-256 of 12 bytes', value: rawHashUs }),
        figure('verify one job or result (agent, ingest)', verifyUs, 'µs', { name: 'a SHA-256 of 12 bytes', value: rawHashUs }),
        figure('digest of the job\'s definition (agent)', digestUs, 'µs', { name: 'canonical JSON + SHA-256 by hand', value: plainHashUs }),
      ],
      targets: [
        target('verifying a job costs under 1 ms', verifyUs, 'µs', (v) => v < 1_000),
      ],
      notes: [
        `Ed25519 (node:crypto), ${n} calls × ${rounds} rounds, median round. The agent verifies each job once (signature + the digest of its definition) and ingest verifies each result's slot once: ${(verifyUs + digestUs).toFixed(0)} µs per run on the agent, ${verifyUs.toFixed(0)} µs per result on the coordinator.`,
      ],
      data: { n, rounds, signUs, verifyUs, digestUs, plainHashUs, rawHashUs },
    };
  },
};
