/**
 * Removes credentials a browser journey picked up from its recordings before they are stored: the
 * session cookies and bearer tokens a login sets travel in `Cookie`, `Set-Cookie`, `Authorization` and
 * similar headers, which a HAR and a Playwright trace (its `*.network` and `*.trace` entries, JSON lines)
 * record on every request. Whoever may download artifacts must not be able to take the session over.
 * Pure: bytes in, bytes out.
 */
import type { Artifact } from '../artifacts/sink.ts';
import { readZip, writeZip } from './zip.ts';

/** Header names whose values are credentials, in lower case. */
export const CREDENTIAL_HEADERS: ReadonlySet<string> = new Set([
  'authorization', 'proxy-authorization', 'cookie', 'set-cookie', 'x-api-key', 'api-key', 'x-auth-token',
  'x-access-token', 'x-csrf-token', 'x-xsrf-token', 'x-amz-security-token',
]);

const isCredential = (name: unknown): boolean => typeof name === 'string' && CREDENTIAL_HEADERS.has(name.toLowerCase());

/**
 * A copy of a recording's JSON without credentials: `{ name, value }` header entries with a credential
 * name are left out, every `cookies` list is emptied, and header maps lose their credential keys.
 * Iterative, so a hostile nesting depth cannot overflow the stack. Returns whether anything was removed.
 */
export function stripCredentials(root: unknown): { value: unknown; removed: number } {
  let removed = 0;
  const stack: unknown[] = [root];
  while (stack.length > 0) {
    const item = stack.pop();
    if (Array.isArray(item)) {
      for (let i = item.length - 1; i >= 0; i--) {
        const entry = item[i] as { name?: unknown; value?: unknown } | null;
        if (entry !== null && typeof entry === 'object' && !Array.isArray(entry) && 'value' in entry && isCredential(entry.name)) {
          item.splice(i, 1);
          removed++;
        } else stack.push(entry);
      }
    } else if (item !== null && typeof item === 'object') {
      const record = item as Record<string, unknown>;
      for (const key of Object.keys(record)) {
        if (key === 'cookies' && Array.isArray(record[key])) {
          removed += (record[key] as unknown[]).length;
          record[key] = [];
        } else if (isCredential(key) && typeof record[key] === 'string') {
          delete record[key];
          removed++;
        } else stack.push(record[key]);
      }
    }
  }
  return { value: root, removed };
}

/** JSON text (one document, or JSON lines) without credentials; lines that are not JSON are kept. */
export function stripCredentialsFromJsonText(text: string): string {
  const strip = (doc: string): string => {
    try {
      const { value, removed } = stripCredentials(JSON.parse(doc));
      return removed > 0 ? JSON.stringify(value) : doc;
    } catch {
      return doc;
    }
  };
  try {
    const { value, removed } = stripCredentials(JSON.parse(text));
    return removed > 0 ? JSON.stringify(value) : text;
  } catch { /* not one document: JSON lines */ }
  return text.split('\n').map((line) => (line.trim() === '' ? line : strip(line))).join('\n');
}

const JSON_ENTRY = /\.(trace|network|json|har)$/;

/**
 * The artifact without credentials: a HAR or JSON artifact rewritten, a ZIP (a trace) rewritten entry by
 * entry; `null` when it is a ZIP that cannot be read faithfully (it is then not stored). Other
 * artifacts (screenshots) are returned as they are.
 */
export function withoutCredentials(artifact: Artifact): Artifact | null {
  if (artifact.name.endsWith('.har') || /json/.test(artifact.contentType)) {
    return { ...artifact, data: Buffer.from(stripCredentialsFromJsonText(artifact.data.toString('utf8'))) };
  }
  if (artifact.name.endsWith('.zip') || artifact.contentType === 'application/zip') {
    const zip = readZip(artifact.data);
    if (!zip || !zip.intact) return null;
    const entries = zip.entries.map((entry) => (JSON_ENTRY.test(entry.name)
      ? { name: entry.name, data: Buffer.from(stripCredentialsFromJsonText(entry.data.toString('utf8'))) }
      : entry));
    return { ...artifact, data: writeZip(entries) };
  }
  return artifact;
}
