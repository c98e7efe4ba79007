/**
 * Reads a response body, decoding `gzip`, `deflate` and `br` as it streams in (undici's `request`
 * does not decode), and stops as soon as the decoded size passes the cap. A compression bomb (50 MB of
 * zeros in 50 KB of gzip) therefore costs at most the cap plus one decoder chunk (16 KiB) of memory.
 *
 * Errors of the transport (reset, abort at the deadline) are thrown for the runner to classify; a body
 * that cannot be decoded is a result of its own.
 */
import { pipeline, type Readable, type Transform } from 'node:stream';
import { createBrotliDecompress, createGunzip, createInflate } from 'node:zlib';

export type BodyRead =
  /** `chunks` is null when the caller did not ask to keep the body. */
  | { kind: 'complete'; bytes: number; chunks: Buffer[] | null }
  | { kind: 'too-large'; bytes: number }
  | { kind: 'undecodable'; bytes: number; message: string };

const DECODERS: Record<string, () => Transform> = {
  gzip: () => createGunzip(),
  'x-gzip': () => createGunzip(),
  deflate: () => createInflate(),
  br: () => createBrotliDecompress(),
};

/**
 * Decoders for a `content-encoding` header, in the order to apply them (the reverse of the listed
 * order). `identity` is skipped. Null when an encoding is unknown: the body is then read as it came.
 */
export function decodersFor(contentEncoding: string | undefined): Array<() => Transform> | null {
  if (contentEncoding === undefined || contentEncoding === '' || contentEncoding === 'identity') return [];
  const factories: Array<() => Transform> = [];
  for (const token of contentEncoding.split(',')) {
    const name = token.trim().toLowerCase();
    if (name === '' || name === 'identity') continue;
    const factory = DECODERS[name];
    if (factory === undefined) return null;
    factories.unshift(factory);
  }
  return factories;
}

/** Decoded bytes read so far; readable by the caller when reading is cut short by an error. */
export interface BodyProgress {
  bytes: number;
}

/**
 * Reads `raw` to its end, or until more than `maxBytes` decoded bytes arrived.
 * @param keep whether to keep the decoded bytes (only body and JSON assertions need them).
 */
export async function readBody(
  raw: Readable, contentEncoding: string | undefined, maxBytes: number, keep: boolean, progress: BodyProgress = { bytes: 0 },
): Promise<BodyRead> {
  const factories = decodersFor(contentEncoding) ?? [];
  const chunks: Buffer[] | null = keep ? [] : null;
  if (factories.length === 0) {
    for await (const chunk of raw as AsyncIterable<Buffer>) {
      progress.bytes += chunk.length;
      if (progress.bytes > maxBytes) return { kind: 'too-large', bytes: progress.bytes };
      chunks?.push(chunk);
    }
    return { kind: 'complete', bytes: progress.bytes, chunks };
  }

  // Remember which stream failed first: pipeline forwards one stream's error to all the others.
  let firstFailure: { decoder: boolean; error: Error } | null = null;
  raw.once('error', (error) => { firstFailure ??= { decoder: false, error }; });
  const decoders = factories.map((make) => {
    const decoder = make();
    decoder.once('error', (error) => { firstFailure ??= { decoder: true, error }; });
    return decoder;
  });
  const decoded = pipeline([raw, ...decoders], ignore) as unknown as Readable;
  try {
    for await (const chunk of decoded as AsyncIterable<Buffer>) {
      progress.bytes += chunk.length;
      if (progress.bytes > maxBytes) return { kind: 'too-large', bytes: progress.bytes };
      chunks?.push(chunk);
    }
  } catch (error) {
    const failure = firstFailure as { decoder: boolean; error: Error } | null;
    if (failure?.decoder) {
      return { kind: 'undecodable', bytes: progress.bytes, message: `could not decode the ${contentEncoding} body: ${failure.error.message}` };
    }
    throw failure?.error ?? error;
  }
  return { kind: 'complete', bytes: progress.bytes, chunks };
}

function ignore(): void {}
