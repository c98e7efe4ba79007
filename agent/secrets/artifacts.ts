/**
 * Keeps secret values out of browser run artifacts before they are stored (in Redis, for agents):
 * text artifacts (the HAR, JSON, text) are scrubbed like results (`[secret:NAME]`); a binary artifact
 * whose bytes contain a value (a ZIP such as Playwright's trace is searched entry by entry, inflated)
 * is not stored at all, with a note saying so, since it cannot be edited safely.
 */
import { inflateRawSync } from 'node:zlib';
import { createScrubber } from '../../checks/secrets.ts';
import type { Artifact, ArtifactSink } from '../artifacts/sink.ts';
import type { Secrets } from './load.ts';

const TEXT_TYPES = /^(text\/|application\/(json|har\+json|xml))/;

/** What to store instead of `artifacts`, and notes for those left out. Pure. */
export function cleanArtifacts(artifacts: Artifact[], secrets: Secrets): { keep: Artifact[]; notes: string[] } {
  const values = Object.values(secrets).filter((v) => v !== '').map((v) => Buffer.from(v));
  if (values.length === 0) return { keep: artifacts, notes: [] };
  const scrub = createScrubber(secrets);
  const keep: Artifact[] = [];
  const notes: string[] = [];
  for (const artifact of artifacts) {
    if (TEXT_TYPES.test(artifact.contentType) || artifact.name.endsWith('.har')) {
      keep.push({ ...artifact, data: Buffer.from(scrub(artifact.data.toString('utf8'))) });
    } else if (containsAny(artifact.data, values) || zipEntries(artifact.data).some((entry) => containsAny(entry, values))) {
      notes.push(`${artifact.name} not stored: it contains a secret value`);
    } else keep.push(artifact);
  }
  return { keep, notes };
}

/** An artifact sink that stores only {@link cleanArtifacts}' output, and adds its notes. */
export function secretSafeArtifactSink(sink: ArtifactSink, secrets: Secrets): ArtifactSink {
  return {
    async store(owner, artifacts) {
      const { keep, notes } = cleanArtifacts(artifacts, secrets);
      const stored = keep.length > 0 ? await sink.store(owner, keep) : { stored: [], notes: [] };
      return { stored: stored.stored, notes: [...notes, ...stored.notes] };
    },
  };
}

function containsAny(data: Buffer, values: Buffer[]): boolean {
  return values.some((value) => data.includes(value));
}

/**
 * The uncompressed entries of a ZIP archive (stored or deflated), read through its central directory;
 * empty for anything that is not a readable ZIP. An entry that cannot be inflated is returned as its
 * raw bytes (searched as they are).
 */
export function zipEntries(data: Buffer): Buffer[] {
  const END = 0x06054b50;
  const CENTRAL = 0x02014b50;
  const LOCAL = 0x04034b50;
  let end = -1;
  for (let i = data.length - 22; i >= Math.max(0, data.length - 22 - 65_535); i--) {
    if (data.readUInt32LE(i) === END) { end = i; break; }
  }
  if (end < 0) return [];
  const count = data.readUInt16LE(end + 10);
  let offset = data.readUInt32LE(end + 16);
  const entries: Buffer[] = [];
  for (let n = 0; n < count && offset + 46 <= data.length && data.readUInt32LE(offset) === CENTRAL; n++) {
    const method = data.readUInt16LE(offset + 10);
    const compressedSize = data.readUInt32LE(offset + 20);
    const nameLength = data.readUInt16LE(offset + 28);
    const extraLength = data.readUInt16LE(offset + 30);
    const commentLength = data.readUInt16LE(offset + 32);
    const local = data.readUInt32LE(offset + 42);
    offset += 46 + nameLength + extraLength + commentLength;
    if (local + 30 > data.length || data.readUInt32LE(local) !== LOCAL) continue;
    const start = local + 30 + data.readUInt16LE(local + 26) + data.readUInt16LE(local + 28);
    const raw = data.subarray(start, Math.min(data.length, start + compressedSize));
    if (method === 0) entries.push(raw);
    else {
      try { entries.push(inflateRawSync(raw)); } catch { entries.push(raw); }
    }
  }
  return entries;
}
