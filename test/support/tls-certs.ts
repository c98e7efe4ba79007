/**
 * Certificates for TLS tests, made with the `openssl` CLI in a temporary folder: a test CA and leaves
 * for `localhost` / 127.0.0.1 that are valid, expired, for another host name, or self-signed.
 * EC P-256 keys, so that making them all takes a few tens of milliseconds.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface KeyAndCert {
  key: string;
  cert: string;
}

export interface TestCertificates {
  /** PEM of the CA that signed `valid`, `expired` and `wrongHost`. */
  ca: string;
  /** For `localhost` and 127.0.0.1, signed by `ca`, valid for two days. */
  valid: KeyAndCert;
  /** As `valid`, but its validity ended a day before it began (OpenSSL's `-days -1`): expired now. */
  expired: KeyAndCert;
  /** Signed by `ca`, valid, but only for `other.invalid`. */
  wrongHost: KeyAndCert;
  /** For `localhost` and 127.0.0.1, signed by itself. */
  selfSigned: KeyAndCert;
}

const LOCAL_NAMES = 'subjectAltName=DNS:localhost,IP:127.0.0.1';
const EC_KEY = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

/** Makes every certificate; throws with openssl's own words if the CLI is missing or fails. */
export function makeTestCertificates(): TestCertificates {
  const dir = mkdtempSync(join(tmpdir(), 'lookout-certs-'));
  const path = (name: string): string => join(dir, name);
  const openssl = (...args: string[]): void => {
    try {
      execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
    } catch (error) {
      const stderr = (error as { stderr?: Buffer }).stderr?.toString() ?? '';
      throw new Error(`openssl ${args[0]} failed (is the openssl CLI installed?): ${stderr || String(error)}`);
    }
  };
  try {
    openssl('req', '-x509', ...EC_KEY, '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=Lookout Test CA',
      '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign');
    openssl('req', '-new', ...EC_KEY, '-keyout', 'leaf.key', '-out', 'leaf.csr', '-subj', '/CN=localhost');
    writeFileSync(path('local.ext'), `${LOCAL_NAMES}\n`);
    writeFileSync(path('other.ext'), 'subjectAltName=DNS:other.invalid\n');
    const sign = (out: string, days: string, ext: string, serial: string): void =>
      openssl('x509', '-req', '-in', 'leaf.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-set_serial', serial, '-days', days, '-extfile', ext, '-out', out);
    sign('valid.pem', '2', 'local.ext', '1');
    sign('expired.pem', '-1', 'local.ext', '2');
    sign('other.pem', '2', 'other.ext', '3');
    openssl('req', '-x509', ...EC_KEY, '-keyout', 'self.key', '-out', 'self.pem', '-days', '2', '-subj', '/CN=localhost', '-addext', LOCAL_NAMES);

    const read = (name: string): string => readFileSync(path(name), 'utf8');
    const leafKey = read('leaf.key');
    return {
      ca: read('ca.pem'),
      valid: { key: leafKey, cert: read('valid.pem') },
      expired: { key: leafKey, cert: read('expired.pem') },
      wrongHost: { key: leafKey, cert: read('other.pem') },
      selfSigned: { key: read('self.key'), cert: read('self.pem') },
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
