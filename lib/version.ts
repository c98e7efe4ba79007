/** Lookout's version, from package.json: in heartbeats, probes' user-agent, `lookout --version`. */
import { readFileSync } from 'node:fs';

function readVersion(): string {
  try {
    const manifest = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version?: unknown };
    return typeof manifest.version === 'string' ? manifest.version : 'unknown';
  } catch {
    return 'unknown';
  }
}

export const LOOKOUT_VERSION: string = readVersion();
