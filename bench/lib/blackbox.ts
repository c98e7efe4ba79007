/**
 * Prometheus blackbox_exporter (Debian package `prometheus-blackbox-exporter`) on loopback, with a
 * config of its own: module `http_2xx` (the http prober, IPv4, 2xx is success). Found on PATH; when it is
 * missing and we are root, a full run installs the package with apt-get (the smoke run never installs).
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort } from './redis.ts';
import { spawnChild, type Child } from './proc.ts';
import { waitUntil } from './wait.ts';

const BINARIES = ['prometheus-blackbox-exporter', 'blackbox_exporter'];

const CONFIG = `modules:
  http_2xx:
    prober: http
    timeout: 5s
    http:
      preferred_ip_protocol: ip4
      ip_protocol_fallback: false
`;

/** The exporter's path on PATH, or null. */
export function findBlackbox(): string | null {
  for (const name of BINARIES) {
    try {
      return execFileSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' }).trim() || null;
    } catch { /* not this name */ }
  }
  return null;
}

/** Finds the exporter, installing the Debian package when allowed; returns the path or why there is none. */
export function ensureBlackbox(allowInstall: boolean, log: (message: string) => void): { path: string } | { missing: string } {
  const found = findBlackbox();
  if (found) return { path: found };
  if (!allowInstall) return { missing: 'prometheus-blackbox-exporter is not installed (scripts/bootstrap.sh test or bench installs it; the smoke run itself does not, a full run does as root)' };
  if (process.getuid?.() !== 0) return { missing: 'prometheus-blackbox-exporter is not installed and installing it needs root (apt-get install prometheus-blackbox-exporter)' };
  log('installing prometheus-blackbox-exporter with apt-get');
  try {
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    try {
      execFileSync('apt-get', ['install', '-y', '-qq', 'prometheus-blackbox-exporter'], { stdio: 'ignore', env, timeout: 180_000 });
    } catch {
      execFileSync('apt-get', ['update', '-qq'], { stdio: 'ignore', env, timeout: 180_000 });
      execFileSync('apt-get', ['install', '-y', '-qq', 'prometheus-blackbox-exporter'], { stdio: 'ignore', env, timeout: 180_000 });
    }
  } catch (error) {
    return { missing: `apt-get install prometheus-blackbox-exporter failed: ${(error as Error).message}` };
  }
  const installed = findBlackbox();
  return installed ? { path: installed } : { missing: 'prometheus-blackbox-exporter installed but not found on PATH' };
}

export interface RunningBlackbox {
  url: string;
  child: Child;
}

export async function startBlackbox(binary: string, workDir: string, logDir: string): Promise<RunningBlackbox> {
  mkdirSync(workDir, { recursive: true });
  const config = join(workDir, 'blackbox.yml');
  writeFileSync(config, CONFIG);
  const port = await freePort();
  const child = spawnChild('blackbox-exporter', binary, [`--config.file=${config}`, `--web.listen-address=127.0.0.1:${port}`, '--log.level=warn'], { logDir });
  const url = `http://127.0.0.1:${port}`;
  try {
    await waitUntil('blackbox_exporter to listen', async () => {
      if (child.process.exitCode !== null) throw new Error(`blackbox_exporter exited; see ${child.logFile}`);
      const response = await fetch(`${url}/-/healthy`).catch(() => null);
      return response?.status === 200;
    }, 10_000);
  } catch (error) {
    await child.stop(2_000);
    throw error;
  }
  return { url, child };
}
