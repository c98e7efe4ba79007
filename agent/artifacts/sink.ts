/**
 * What a browser run's artifacts (screenshot, trace, HAR) are, and where they go: an `ArtifactSink`.
 * Agents store them in Redis (store.ts), where the coordinator serves them; `lookout test` writes them to
 * a folder (here). Either way, size caps are applied first (`planArtifacts`) and what is left out is
 * noted in the run's result rather than failing it.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { ArtifactRef } from '../../checks/contract.ts';

export interface Artifact {
  /** `screenshot.png`, `trace.zip`, `network.har`. */
  name: string;
  contentType: string;
  data: Buffer;
}

/** Which run the artifacts belong to. */
export interface ArtifactOwner {
  runId: string;
  checkId: string;
  region: string;
}

export interface StoredArtifacts {
  stored: ArtifactRef[];
  /** One line per artifact not stored, saying why. */
  notes: string[];
}

export interface ArtifactSink {
  store(owner: ArtifactOwner, artifacts: Artifact[]): Promise<StoredArtifacts>;
}

const MiB = 1024 * 1024;

/** What to store of `artifacts` under the per-artifact and per-run caps. Pure. */
export function planArtifacts(artifacts: Artifact[], maxArtifactBytes: number, maxRunBytes: number): { keep: Artifact[]; notes: string[] } {
  const keep: Artifact[] = [];
  const notes: string[] = [];
  let total = 0;
  for (const artifact of artifacts) {
    const bytes = artifact.data.byteLength;
    if (bytes > maxArtifactBytes) notes.push(`${artifact.name} not stored: ${bytes} bytes is over the ${maxArtifactBytes}-byte cap`);
    else if (total + bytes > maxRunBytes) notes.push(`${artifact.name} not stored: the run's artifacts would pass ${maxRunBytes} bytes`);
    else {
      keep.push(artifact);
      total += bytes;
    }
  }
  return { keep, notes };
}

/** For local runs (`lookout test`): writes artifacts to `<dir>/<runId>/<name>`; `key` is the file path. */
export function createDirectoryArtifactSink(dir: string, maxArtifactBytes = 50 * MiB): ArtifactSink {
  return {
    async store(owner, artifacts) {
      const { keep, notes } = planArtifacts(artifacts, maxArtifactBytes, Number.POSITIVE_INFINITY);
      const folder = resolve(dir, owner.runId);
      mkdirSync(folder, { recursive: true });
      const stored = keep.map((artifact) => {
        const path = join(folder, artifact.name);
        writeFileSync(path, artifact.data);
        return { name: artifact.name, key: path, bytes: artifact.data.byteLength, contentType: artifact.contentType };
      });
      return { stored, notes };
    },
  };
}
