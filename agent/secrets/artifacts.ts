/**
 * Keeps secrets and credentials out of browser run artifacts before they are stored (in Redis, for
 * agents): credentials a journey picked up (cookies, bearer tokens) are removed from the HAR and the
 * trace first (credentials.ts); then text artifacts (the HAR, JSON, text) are scrubbed like results
 * (`[secret:NAME]`, every encoded form), and a binary artifact whose bytes contain any form of a value
 * (a ZIP such as Playwright's trace is searched entry by entry, inflated) is not stored at all, with a
 * note saying so, since it cannot be edited safely.
 */
import { createScrubber } from '../../checks/secrets.ts';
import type { Artifact, ArtifactSink } from '../artifacts/sink.ts';
import { withoutCredentials } from './credentials.ts';
import type { Secrets } from './load.ts';
import { readZip } from './zip.ts';

const TEXT_TYPES = /^(text\/|application\/(json|har\+json|xml))/;

/** What to store instead of `artifacts`, and notes for those left out. Pure. */
export function cleanArtifacts(artifacts: Artifact[], secrets: Secrets): { keep: Artifact[]; notes: string[] } {
  const scrub = createScrubber(secrets);
  const needles = scrub.needles;
  const keep: Artifact[] = [];
  const notes: string[] = [];
  for (const original of artifacts) {
    const artifact = withoutCredentials(original);
    if (artifact === null) notes.push(`${original.name} not stored: it could not be read to remove credentials from it`);
    else if (needles.length === 0) keep.push(artifact);
    else if (TEXT_TYPES.test(artifact.contentType) || artifact.name.endsWith('.har')) {
      keep.push({ ...artifact, data: Buffer.from(scrub(artifact.data.toString('utf8'))) });
    } else if (containsAny(artifact.data, needles) || (readZip(artifact.data)?.entries ?? []).some((entry) => containsAny(entry.data, needles))) {
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

function containsAny(data: Buffer, values: readonly Buffer[]): boolean {
  return values.some((value) => data.includes(value));
}

/** The uncompressed entries of a ZIP archive (see zip.ts); empty for anything that is not a readable ZIP. */
export function zipEntries(data: Buffer): Buffer[] {
  return (readZip(data)?.entries ?? []).map((entry) => entry.data);
}
