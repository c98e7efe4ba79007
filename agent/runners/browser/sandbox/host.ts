/**
 * The sandbox process: runs browser scripts for the agent, one run at a time, and only runs of one check
 * (the pool binds it to a check, its bundle and its secrets at its first run). It starts with no
 * environment, no Redis credentials and no secrets but those its runs are sent, as an unprivileged user
 * when the agent is root, under Node's permission model (it may read only Lookout's browser code and
 * playwright-core, and write only its own folder; no child processes, workers or native addons) and with
 * code generation from strings off. It drives the agent's browser over a relay URL that is good for one
 * connection of one run (relay.ts). Messages with the agent go over fd 3 (channel.ts).
 *
 * Started by sandbox/process.ts as `node <flags> host.ts <folder>`; never run it by hand.
 */
import { Socket } from 'node:net';
import { chromium, type Browser } from 'playwright-core';
import { settlesWithin } from '../../../../lib/bounded.ts';
import { runJourney } from '../journey.ts';
import { loadBrowserScript } from '../script.ts';
import { MAX_FRAME_BYTES, openChannel } from './channel.ts';
import type { ConnectRequest, RunRequest, SandboxMessage } from './protocol.ts';

const folder = process.argv[2]!;
const channel = openChannel(new Socket({ fd: 3, readable: true, writable: true }), {
  maxFrameBytes: MAX_FRAME_BYTES,
  onMessage: (message) => {
    const request = message as RunRequest | ConnectRequest;
    // A warm process connects before its first run, so that run does not wait for it.
    if (request?.type === 'connect' && !busy && typeof request.relayUrl === 'string') void connect(request.relayUrl, Date.now() + 30_000).catch(() => {});
    else void onMessage(request as RunRequest);
  },
  // The agent went away: nothing is left to do.
  onError: () => process.exit(0),
});
const send = (message: SandboxMessage): void => channel.send(message);
send({ type: 'ready' });

let busy = false;
/**
 * The connection of this process (made while warm, or by its first run): later runs of its check reuse it
 * while the agent hands the same URL. Kept as a promise, so that a run arriving while it is being made waits
 * for it rather than using the URL, which the relay accepts once, a second time.
 */
let connection: { url: string; browser: Promise<Browser> } | undefined;

async function connect(url: string, deadlineAt: number): Promise<Browser> {
  if (connection?.url === url) {
    const browser = await connection.browser.catch(() => undefined);
    if (browser?.isConnected()) return browser;
  }
  const previous = await connection?.browser.catch(() => undefined);
  if (previous) await settlesWithin(previous.close(), 1_000);
  const browser = chromium.connect(url, { timeout: Math.max(1_000, deadlineAt - Date.now()) });
  connection = { url, browser };
  return browser;
}

async function onMessage(request: RunRequest): Promise<void> {
  if (request?.type !== 'run' || busy) return;
  busy = true;
  const receivedAt = performance.now();
  let setupMs = 0;
  try {
    // From here on the check's own code runs (the bundle's top level, then the script).
    send({ type: 'started', runId: request.runId });
    const script = await loadBrowserScript({ id: request.checkId, script: { bundle: request.bundle, file: request.file } });
    if (!script.ok) {
      send({ type: 'result', runId: request.runId, outcome: script.kind === 'threw' ? 'fail' : 'error',
        error: { code: script.kind === 'threw' ? 'SCRIPT_ERROR' : 'INVALID_JOB', message: script.message.slice(0, 2000) },
        details: null, scriptMs: 0, setupMs: performance.now() - receivedAt, artifacts: [], closeHung: false });
      return;
    }
    const browser = await connect(request.relayUrl, request.scriptDeadlineAt);
    setupMs = performance.now() - receivedAt;
    const outcome = await runJourney(browser, {
      runId: request.runId, script: script.script, secrets: request.secrets, listedSecrets: request.listedSecrets, boundSecrets: request.boundSecrets,
      scriptDeadlineAt: request.scriptDeadlineAt, runDeadlineAt: request.runDeadlineAt, signal: new AbortController().signal,
      onScriptEnded: (sofar) => send({ type: 'ended', runId: request.runId, ...sofar, setupMs } as SandboxMessage),
    }, { collect: request.collect, closeTimeoutMs: request.closeTimeoutMs, tempDir: folder });
    // Shapes are checked by the agent (protocol.ts); this side is not trusted to get them right.
    send({ type: 'result', runId: request.runId, ...outcome, setupMs } as SandboxMessage);
  } catch (error) {
    send({ type: 'result', runId: request.runId, outcome: 'error', error: { code: 'BROWSER_CRASHED', message: `the sandbox could not reach the browser: ${String((error as Error)?.message ?? error).split('\n')[0]}` },
      details: null, scriptMs: 0, setupMs, artifacts: [], closeHung: false });
  } finally {
    busy = false;
  }
}
