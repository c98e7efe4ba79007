/**
 * The channel between the agent and a sandbox process: frames of `v8.serialize`d messages, each after
 * its 4-byte length, over the child's fd 3 (a socket pair). A frame over `maxFrameBytes` ends the
 * channel (`onError`): the other side is not trusted to be well-behaved (the sandbox runs user code,
 * which can write to fd 3 too), so what it sends is bounded here and validated by the receiver.
 */
import type { Duplex } from 'node:stream';
import { deserialize, serialize } from 'node:v8';

/** Largest frame either side accepts (a failed run's screenshot, trace and HAR travel in one). */
export const MAX_FRAME_BYTES = 64 * 1024 * 1024;

export interface Channel {
  send(message: unknown): void;
  close(): void;
}

export function openChannel(stream: Duplex, options: { maxFrameBytes: number; onMessage(message: unknown): void; onError(reason: string): void }): Channel {
  let buffer: Buffer = Buffer.alloc(0);
  let failed = false;
  const fail = (reason: string): void => {
    if (failed) return;
    failed = true;
    stream.destroy();
    options.onError(reason);
  };
  stream.on('data', (chunk: Buffer) => {
    if (failed) return;
    buffer = buffer.length === 0 ? chunk : Buffer.concat([buffer, chunk]);
    while (buffer.length >= 4) {
      const length = buffer.readUInt32BE(0);
      if (length > options.maxFrameBytes) return fail(`a message of ${length} bytes is over the ${options.maxFrameBytes}-byte limit`);
      if (buffer.length < 4 + length) return;
      const frame = buffer.subarray(4, 4 + length);
      buffer = buffer.subarray(4 + length);
      let message: unknown;
      try { message = deserialize(frame); } catch { return fail('a message could not be read'); }
      options.onMessage(message);
    }
  });
  stream.on('error', () => fail('the channel broke'));
  stream.on('close', () => fail('the channel closed'));
  return {
    send(message) {
      if (failed) return;
      const body = serialize(message);
      const header = Buffer.alloc(4);
      header.writeUInt32BE(body.length, 0);
      stream.write(Buffer.concat([header, body]));
    },
    close() { failed = true; stream.destroy(); },
  };
}
