/**
 * The relay between sandbox processes and the agent's browser server. A script never gets the browser
 * server's endpoint: each run gets a relay URL with a random path, good for one connection, which the
 * relay forwards to the server (Playwright's protocol, JSON over WebSocket) and closes at the run's end.
 * Playwright's launch server already isolates connections (a client sees only its own contexts) and
 * refuses launches; what it still offers a client that would reach past its own contexts or onto the
 * agent's disk is refused here, message by message, with Playwright's own error reply:
 * - CDP sessions (`newBrowserCDPSession` sees every target of the browser, other checks' pages included;
 *   `newCDPSession`), browser-wide tracing (`startTracing`, `stopTracing`);
 * - server-side files: `saveAs`/`pathAfterFinished` of artifacts, `createTempFiles`, uploads from the
 *   server's disk (`localPaths`, `localDirectory`), trace names that could be paths;
 * - the rest of the server's surface a journey never needs (launching, debugging, recording).
 */
import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { WebSocket, WebSocketServer, type RawData } from 'ws';

const REFUSED_METHODS: ReadonlySet<string> = new Set([
  'newBrowserCDPSession', 'newCDPSession', 'startTracing', 'stopTracing',
  'saveAs', 'pathAfterFinished', 'createTempFiles',
  'launch', 'launchPersistentContext', 'connectOverCDP', 'connectToWorker', 'connect', 'startServer', 'stopServer', 'killForTests',
  'newContextForReuse', 'disconnectFromReusedContext', 'pause', 'showRecorder', 'startRecording', 'stopRecording', 'devices',
  'harOpen', 'harLookup', 'harClose', 'harUnzip', 'zip', 'installApk', 'shell', 'open', 'push', 'launchBrowser',
]);
const REFUSED_PARAMS = ['localPaths', 'localDirectory'];
const SAFE_TRACE_NAME = /^[A-Za-z0-9_-]{1,64}$/;
/** Largest message a sandbox may send (setInputFiles payloads are the big ones). */
const MAX_CLIENT_MESSAGE_BYTES = 64 * 1024 * 1024;

/**
 * Whether `text` could be refused: every refused method or parameter name appears in it literally, unless
 * JSON escapes spell it (`\u0073aveAs`), so a message with neither is forwarded without being parsed.
 */
const SUSPECT = new RegExp(`\\\\u|${[...REFUSED_METHODS, ...REFUSED_PARAMS, 'tracingStart'].join('|')}`);

/**
 * Why a message from a sandbox must not reach the browser server, or `undefined` when it may. Pure.
 * `text` is what is scanned; `decoded` the message as the server will read it (UTF-8), parsed only when
 * the scan finds something that could be refused.
 */
export function refusal(text: string, decoded: () => string = () => text): string | undefined {
  if (!SUSPECT.test(text)) return undefined;
  let message: { id?: unknown; method?: unknown; params?: Record<string, unknown> };
  try { message = JSON.parse(decoded()) as typeof message; } catch { return 'not a Playwright protocol message'; }
  if (message === null || typeof message !== 'object') return 'not a Playwright protocol message';
  const method = typeof message.method === 'string' ? message.method : '';
  if (REFUSED_METHODS.has(method)) return `"${method}" is not available to browser checks`;
  const params = message.params ?? {};
  for (const key of REFUSED_PARAMS) if (params !== null && typeof params === 'object' && key in params) return `"${key}" is not available to browser checks (upload files from buffers)`;
  if ((method === 'tracingStart' || method === 'tracingStartChunk') && params.name !== undefined && !SAFE_TRACE_NAME.test(String(params.name))) {
    return 'trace names are letters, digits, "_" and "-"';
  }
  return undefined;
}

export interface RelaySession {
  /** The URL to hand the sandbox: `ws://127.0.0.1:<port>/<random>`. */
  url: string;
  /** The browser server it forwards to. */
  upstream: string;
  /** False once closed, from either side: the URL then accepts nothing more. */
  readonly open: boolean;
  /** Closes the sandbox's connection (and its upstream one: Playwright then closes its contexts). */
  close(): void;
}

export class BrowserRelay {
  readonly #server: WebSocketServer;
  readonly #sessions = new Map<string, { upstream: string; used: boolean; closed: boolean; sockets: WebSocket[] }>();
  #refused = 0;

  private constructor(server: WebSocketServer) {
    this.#server = server;
    server.on('connection', (socket, request) => this.#onConnection(socket, request.url ?? ''));
  }

  /** Starts a relay on a free loopback port. */
  static async start(): Promise<BrowserRelay> {
    // Text is not validated as UTF-8 here: what is forwarded is checked by refusal() or by Playwright.
    const server = new WebSocketServer({ host: '127.0.0.1', port: 0, maxPayload: MAX_CLIENT_MESSAGE_BYTES, perMessageDeflate: false, skipUTF8Validation: true });
    await new Promise<void>((resolve, reject) => { server.once('listening', resolve); server.once('error', reject); });
    return new BrowserRelay(server);
  }

  /** Messages refused so far (for metrics and tests). */
  get refused(): number { return this.#refused; }

  /**
   * A one-connection URL forwarding to the browser server at `upstream` (its wsEndpoint). The runner
   * opens one per sandbox process (so per check) and browser, and closes it when the process goes.
   */
  open(upstream: string): RelaySession {
    const token = randomBytes(24).toString('base64url');
    const session = { upstream, used: false, closed: false, sockets: [] as WebSocket[] };
    this.#sessions.set(token, session);
    const port = (this.#server.address() as AddressInfo).port;
    return {
      url: `ws://127.0.0.1:${port}/${token}`,
      upstream,
      get open() { return !session.closed; },
      close: () => {
        session.closed = true;
        this.#sessions.delete(token);
        for (const socket of session.sockets) socket.terminate();
      },
    };
  }

  async close(): Promise<void> {
    for (const session of this.#sessions.values()) for (const socket of session.sockets) socket.terminate();
    this.#sessions.clear();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  #onConnection(client: WebSocket, path: string): void {
    const token = path.slice(1);
    const session = this.#sessions.get(token);
    // Unknown, closed, or already used: a URL is good for one connection.
    if (!session || session.used) { client.close(1008, 'unknown relay path'); return; }
    session.used = true;
    const upstream = new WebSocket(session.upstream, { perMessageDeflate: false, maxPayload: 512 * 1024 * 1024, skipUTF8Validation: true });
    session.sockets.push(client, upstream);
    const pending: Buffer[] = [];
    const end = (): void => {
      session.closed = true;
      this.#sessions.delete(token);
      client.terminate();
      upstream.terminate();
    };
    client.on('message', (data: RawData, isBinary: boolean) => {
      const bytes = Buffer.isBuffer(data) ? data : Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data);
      // Read as latin1 for the check (every refused name is ASCII, and so is a JSON \u escape), forwarded as it came.
      const reason = isBinary ? 'not a Playwright protocol message' : refusal(bytes.toString('latin1'), () => bytes.toString('utf8'));
      if (reason) {
        this.#refused++;
        let id: unknown;
        try { id = (JSON.parse(bytes.toString('utf8')) as { id?: unknown } | null)?.id; } catch { id = undefined; }
        if (typeof id === 'number' || typeof id === 'string') client.send(JSON.stringify({ id, error: { error: { name: 'Error', message: `Lookout: ${reason}`, stack: '' } } }));
        return;
      }
      if (upstream.readyState === WebSocket.OPEN) upstream.send(bytes, { binary: false });
      else pending.push(bytes);
    });
    upstream.on('open', () => { for (const bytes of pending.splice(0)) upstream.send(bytes, { binary: false }); });
    upstream.on('message', (data: RawData, isBinary: boolean) => { if (client.readyState === WebSocket.OPEN) client.send(data, { binary: isBinary }); });
    client.on('close', end);
    upstream.on('close', end);
    client.on('error', end);
    upstream.on('error', end);
  }
}
