/**
 * A failed run's HAR, made from its Playwright trace: the trace's `trace.network` entry holds one HAR
 * entry per request (`{"type":"resource-snapshot","snapshot":{…}}` lines), so the HAR costs nothing on
 * runs that pass. (Recording a HAR through Playwright from a sandbox process would zip and transfer it at
 * every context close, passing runs included.) Bodies are not in it, as with `content: 'omit'`. Pure.
 */
import { inflateRawSync } from 'node:zlib';

const END = 0x06054b50;
const CENTRAL = 0x02014b50;
const LOCAL = 0x04034b50;
/** Largest network log read from a trace (a trace itself is capped by the artifact caps). */
const MAX_NETWORK_BYTES = 64 * 1024 * 1024;

/** The named entry of a ZIP archive (stored or deflated), or undefined. */
export function zipEntry(zip: Buffer, name: string): Buffer | undefined {
  let end = -1;
  for (let i = zip.length - 22; i >= Math.max(0, zip.length - 22 - 65_535); i--) {
    if (zip.readUInt32LE(i) === END) { end = i; break; }
  }
  if (end < 0) return undefined;
  const count = zip.readUInt16LE(end + 10);
  let offset = zip.readUInt32LE(end + 16);
  for (let n = 0; n < count && offset + 46 <= zip.length && zip.readUInt32LE(offset) === CENTRAL; n++) {
    const method = zip.readUInt16LE(offset + 10);
    const compressedSize = zip.readUInt32LE(offset + 20);
    const nameLength = zip.readUInt16LE(offset + 28);
    const entryName = zip.toString('utf8', offset + 46, offset + 46 + nameLength);
    const local = zip.readUInt32LE(offset + 42);
    offset += 46 + nameLength + zip.readUInt16LE(offset + 30) + zip.readUInt16LE(offset + 32);
    if (entryName !== name) continue;
    if (local + 30 > zip.length || zip.readUInt32LE(local) !== LOCAL) return undefined;
    const start = local + 30 + zip.readUInt16LE(local + 26) + zip.readUInt16LE(local + 28);
    const raw = zip.subarray(start, Math.min(zip.length, start + compressedSize));
    try { return method === 0 ? raw : inflateRawSync(raw, { maxOutputLength: MAX_NETWORK_BYTES }); } catch { return undefined; }
  }
  return undefined;
}

/** The HAR (JSON) of the requests a trace recorded, or undefined when the trace has none readable. */
export function harFromTrace(trace: Buffer): Buffer | undefined {
  const network = zipEntry(trace, 'trace.network');
  if (!network) return undefined;
  const entries: unknown[] = [];
  for (const line of network.toString('utf8').split('\n')) {
    if (line.trim() === '') continue;
    try {
      const event = JSON.parse(line) as { type?: unknown; snapshot?: unknown };
      if (event.type === 'resource-snapshot' && event.snapshot !== null && typeof event.snapshot === 'object') entries.push(event.snapshot);
    } catch { /* a torn line: skip it */ }
  }
  return Buffer.from(JSON.stringify({ log: { version: '1.2', creator: { name: 'Lookout', version: '1' }, pages: [], entries } }));
}
