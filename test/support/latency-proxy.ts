/**
 * A TCP proxy (on 127.0.0.1 unless told where) that makes its upstream far away: every chunk waits
 * `oneWayDelayMs` before it is passed on, in each direction, so a request and its answer take one round
 * trip of 2 × the delay more. In user space because this kernel has no `netem` qdisc. Order is kept (one FIFO per direction, and the
 * delay is the same for every chunk); a side's end or close reaches the other side after the same delay.
 *
 * Bounded: at most `maxConnections` connections, and a direction holding more than `maxBufferedBytes`
 * not yet passed on pauses its reading until it drains (as a slow link's window would).
 */
import { createServer, connect, type Server, type Socket } from 'node:net';
import { once } from 'node:events';

export interface LatencyProxyOptions {
  /** Where the proxy forwards to. */
  target: { host: string; port: number };
  /** Where it listens. @defaultValue 127.0.0.1, a free port */
  listen?: { host: string; port: number };
  /** Delay added to each direction; the round trip grows by twice this. */
  oneWayDelayMs: number;
  /** @defaultValue 256 */
  maxConnections?: number;
  /** @defaultValue 8 MiB */
  maxBufferedBytes?: number;
}

export interface LatencyProxy {
  readonly port: number;
  readonly host: string;
  /** Connections accepted so far. */
  readonly accepted: () => number;
  /** Changes the delay for chunks arriving from now on (a chunk already waiting keeps its time). */
  setOneWayDelay(ms: number): void;
  close(): Promise<void>;
}

export async function startLatencyProxy(options: LatencyProxyOptions): Promise<LatencyProxy> {
  let delayMs = options.oneWayDelayMs;
  const maxBuffered = options.maxBufferedBytes ?? 8 * 1024 * 1024;
  const sockets = new Set<Socket>();
  let accepted = 0;

  /** Passes what `from` sends to `to`, each chunk `delayMs` late. */
  const pipeDelayed = (from: Socket, to: Socket): void => {
    // A chunk, or `end` (half-close) / `close` of `from`, each passed on when due.
    const queue: { due: number; item: Buffer | 'end' | 'close' }[] = [];
    let buffered = 0;
    let timer: NodeJS.Timeout | undefined;
    const drain = (): void => {
      timer = undefined;
      const now = performance.now();
      while (queue.length > 0 && queue[0]!.due <= now) {
        const { item } = queue.shift()!;
        if (item === 'end') to.end();
        else if (item === 'close') to.destroy();
        else {
          buffered -= item.length;
          if (!to.destroyed) to.write(item);
        }
      }
      if (buffered <= maxBuffered && from.isPaused() && !from.destroyed) from.resume();
      if (queue.length > 0) timer = setTimeout(drain, Math.max(0, queue[0]!.due - performance.now()));
    };
    const push = (item: Buffer | 'end' | 'close'): void => {
      queue.push({ due: performance.now() + delayMs, item });
      if (typeof item !== 'string') {
        buffered += item.length;
        if (buffered > maxBuffered) from.pause();
      }
      timer ??= setTimeout(drain, Math.max(0, queue[0]!.due - performance.now()));
    };
    from.on('data', (chunk: Buffer) => push(chunk));
    from.on('end', () => push('end'));
    from.on('close', () => push('close'));
  };

  const server: Server = createServer({ allowHalfOpen: true, pauseOnConnect: false }, (client) => {
    if (sockets.size >= (options.maxConnections ?? 256)) { client.destroy(); return; }
    accepted++;
    const upstream = connect({ host: options.target.host, port: options.target.port, allowHalfOpen: true });
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.setNoDelay(true);
      // A reset on one side reaches the other as a close, after the delay (the 'close' pushed above).
      s.on('error', () => s.destroy());
      s.on('close', () => sockets.delete(s));
    }
    pipeDelayed(client, upstream);
    pipeDelayed(upstream, client);
  });
  const host = options.listen?.host ?? '127.0.0.1';
  server.listen(options.listen?.port ?? 0, host);
  await once(server, 'listening');
  const port = (server.address() as { port: number }).port;
  return {
    port,
    host,
    accepted: () => accepted,
    setOneWayDelay(ms: number) { delayMs = ms; },
    async close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const s of sockets) s.destroy();
      await closed;
    },
  };
}
