/**
 * One job signing key for every benchmark process, as an installation has one: coordinators read it from
 * a file, agents take its public key, benchmarks that play a coordinator or an agent sign with it.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { JobSigner, generateSigningKey } from '../../checks/signing.ts';

export const benchSigner = new JobSigner(generateSigningKey());

/** The key as a file, for coordinators' `--job-signing-key`. */
export const benchSigningKeyFile = ((): string => {
  const file = join(mkdtempSync(join(tmpdir(), 'lookout-bench-key-')), 'job-signing-key.pem');
  writeFileSync(file, benchSigner.pem, { mode: 0o600 });
  return file;
})();
