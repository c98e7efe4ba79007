/**
 * A self-made CA and a leaf certificate for loopback names (made with the `openssl` CLI, EC P-256), for
 * the HTTPS target of the timing benchmark. Written to a folder: `ca.pem`, `key.pem`, `cert.pem`.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const EC_KEY = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

/** Makes the files in `dir` for the given DNS names (and 127.0.0.1); returns the CA's path. */
export function makeCertificates(dir: string, dnsNames: readonly string[]): { ca: string; key: string; cert: string } {
  mkdirSync(dir, { recursive: true });
  const openssl = (...args: string[]): void => {
    try {
      execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
    } catch (error) {
      throw new Error(`BENCH_CERTS: openssl ${args[0]} failed (is the openssl CLI installed?): ${(error as { stderr?: Buffer }).stderr?.toString() ?? String(error)}`);
    }
  };
  openssl('req', '-x509', ...EC_KEY, '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=Lookout Bench CA',
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign');
  openssl('req', '-new', ...EC_KEY, '-keyout', 'key.pem', '-out', 'leaf.csr', '-subj', `/CN=${dnsNames[0] ?? 'localhost'}`);
  writeFileSync(join(dir, 'leaf.ext'), `subjectAltName=${[...dnsNames.map((n) => `DNS:${n}`), 'IP:127.0.0.1'].join(',')}\n`);
  openssl('x509', '-req', '-in', 'leaf.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-set_serial', '1', '-days', '2', '-extfile', 'leaf.ext', '-out', 'cert.pem');
  return { ca: join(dir, 'ca.pem'), key: join(dir, 'key.pem'), cert: join(dir, 'cert.pem') };
}
