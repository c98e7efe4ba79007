/**
 * Real targets for runner tests, all on 127.0.0.1 with a kernel-chosen port: HTTP and HTTPS servers
 * that count the connections they accept, raw TCP servers that misbehave at will, and a listener
 * that never accepts (to make connecting time out on loopback).
 */
import { once } from 'node:events';
import { createServer as createHttpServer, type RequestListener, type Server as HttpServer } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { createServer as createTcpServer, connect, type Server as TcpServer, type Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { Worker } from 'node:worker_threads';

export interface TestTarget {
  port: number;
  /** `http(s)://<host>:<port><path>`; host defaults to 127.0.0.1. */
  url(path?: string, host?: string): string;
  /** Connections accepted so far (TLS: handshakes completed). */
  readonly connections: number;
  /** TLS handshakes that resumed an earlier session (always 0 for plain HTTP). */
  readonly resumedSessions: number;
  close(): Promise<void>;
}

export function startHttpTarget(handler: RequestListener): Promise<TestTarget> {
  return listen(createHttpServer(handler), 'http', 'connection');
}

export function startHttpsTarget(tls: { key: string; cert: string }, handler: RequestListener): Promise<TestTarget> {
  return listen(createHttpsServer({ key: tls.key, cert: tls.cert }, handler), 'https', 'secureConnection');
}

/** A TCP server that hands each accepted socket to `onSocket`, for responses no HTTP server would send. */
export function startTcpTarget(onSocket: (socket: Socket) => void): Promise<TestTarget> {
  return listen(createTcpServer(onSocket), 'http', 'connection');
}

async function listen(server: HttpServer | TcpServer, scheme: 'http' | 'https', connectionEvent: string): Promise<TestTarget> {
  const sockets = new Set<Socket>();
  let connections = 0;
  let resumedSessions = 0;
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  server.on(connectionEvent, (socket: Socket) => {
    connections++;
    if (scheme === 'https' && (socket as TLSSocket).isSessionReused()) resumedSessions++;
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  if (typeof address !== 'object' || address === null) throw new Error('test target has no port');
  const { port } = address;
  return {
    port,
    url: (path = '/', host = '127.0.0.1') => `${scheme}://${host}:${port}${path}`,
    get connections() { return connections; },
    get resumedSessions() { return resumedSessions; },
    async close() {
      const closed = once(server, 'close');
      server.close();
      for (const socket of sockets) socket.destroy();
      await closed;
    },
  };
}

export interface UnacceptingListener {
  port: number;
  close(): Promise<void>;
}

/**
 * A listening socket whose accept queue is full, so that a new connection attempt gets no answer at
 * all (Linux drops the SYN) and connecting hangs until the client gives up.
 *
 * The socket is owned by a worker thread that blocks its event loop right after listening, so it never
 * accepts; its backlog of 1 is then filled with two connections (Linux queues backlog + 1).
 */
export async function startUnacceptingListener(): Promise<UnacceptingListener> {
  const release = new Int32Array(new SharedArrayBuffer(4));
  const worker = new Worker(`
    const { parentPort, workerData } = require('node:worker_threads');
    const net = require('node:net');
    const server = net.createServer();
    server.listen({ port: 0, host: '127.0.0.1', backlog: 1 }, () => {
      parentPort.postMessage(server.address().port);
      Atomics.wait(workerData, 0, 0);
      server.close();
    });
  `, { eval: true, workerData: release });
  const [port] = (await once(worker, 'message')) as [number];
  const fillers: Socket[] = [];
  for (let i = 0; i < 2; i++) {
    const socket = connect(port, '127.0.0.1');
    fillers.push(socket);
    await once(socket, 'connect');
  }
  return {
    port,
    async close() {
      for (const socket of fillers) socket.destroy();
      const exited = once(worker, 'exit');
      Atomics.store(release, 0, 1);
      Atomics.notify(release, 0);
      await exited;
    },
  };
}
