/**
 * One sandbox process, as the agent sees it: spawned with Node's permission model, no environment and,
 * when the agent runs as root, as `nobody` (65534); its folder (the only place it may write) made for it;
 * a channel on fd 3; a run at a time; SIGKILL when a run must end now (a script that blocks its event
 * loop cannot be stopped any other way). See host.ts for the process's own side.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { chownSync, mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { Duplex } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { MAX_FRAME_BYTES, openChannel, type Channel } from './channel.ts';
import { SandboxMessage, type ConnectRequest, type RunRequest } from './protocol.ts';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', '..');
const HOST = join(ROOT, 'agent', 'runners', 'browser', 'sandbox', 'host.ts');
const NOBODY = 65534;
const STDERR_TAIL = 4096;

const packageDir = (name: string): string => dirname(createRequire(import.meta.url).resolve(`${name}/package.json`));

/**
 * The node flags of a sandbox whose own folder is `folder`: what it may read (Lookout's browser code and
 * the packages it loads), where it may write, and no code from strings. Pure.
 */
export function sandboxArgs(folder: string, paths = { root: ROOT, playwright: packageDir('playwright-core'), zod: packageDir('zod') }): string[] {
  const read = [
    join(paths.root, 'agent', 'runners', 'browser'), join(paths.root, 'agent', 'secrets', 'origins.ts'), join(paths.root, 'lib', 'bounded.ts'),
    join(paths.root, 'checks', 'sdk.ts'), join(paths.root, 'package.json'), paths.playwright, paths.zod, folder,
    // playwright-core asks whether it runs under WSL when it loads.
    '/proc/sys/fs/binfmt_misc/WSLInterop', '/run/WSL',
  ];
  return [
    '--permission', ...read.map((path) => `--allow-fs-read=${path}`), `--allow-fs-write=${folder}`,
    '--disallow-code-generation-from-strings', '--max-old-space-size=512', '--disable-warning=ExperimentalWarning',
  ];
}

export type RunEnd =
  | { kind: 'result'; message: Extract<SandboxMessage, { type: 'result' }> }
  | { kind: 'exited'; started: boolean; detail: string };

export interface SandboxProcess {
  readonly pid: number;
  /** The check (id, bundle, secrets) this process serves once bound; undefined while warm. */
  key: string | undefined;
  /** Resolves once playwright-core is loaded; rejects if the process ends first. */
  readonly ready: Promise<void>;
  /** Resolves when the process has ended. */
  readonly exited: Promise<void>;
  readonly alive: boolean;
  /** Runs one journey; resolves with its result, or how the process ended. `onEnded`: the script ended, with its outcome so far. */
  run(request: RunRequest, hooks: { onEnded(sofar: Extract<SandboxMessage, { type: 'ended' }>): void }): Promise<RunEnd>;
  /** Connects to the browser ahead of the first run (fire and forget). */
  connect(request: ConnectRequest): void;
  kill(): void;
}

export function spawnSandbox(options: { tempDir?: string; onExit?: (process: SandboxProcess) => void } = {}): SandboxProcess {
  const folder = mkdtempSync(join(options.tempDir ?? tmpdir(), 'lookout-sandbox-'));
  const asNobody = process.getuid?.() === 0;
  if (asNobody) chownSync(folder, NOBODY, NOBODY);
  const child: ChildProcess = spawn(process.execPath, [...sandboxArgs(folder), HOST, folder], {
    env: { TMPDIR: folder },
    cwd: folder,
    stdio: ['ignore', 'ignore', 'pipe', 'pipe'],
    ...(asNobody ? { uid: NOBODY, gid: NOBODY } : {}),
  });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => { stderr = (stderr + chunk.toString()).slice(-STDERR_TAIL); });
  let alive = true;
  let onReady!: () => void;
  let onNotReady!: (error: Error) => void;
  const ready = new Promise<void>((resolve, reject) => { onReady = resolve; onNotReady = reject; });
  ready.catch(() => {});
  let onExited!: () => void;
  const exited = new Promise<void>((resolve) => { onExited = resolve; });
  let current: { runId: string; started: boolean; hooks: { onEnded(sofar: Extract<SandboxMessage, { type: 'ended' }>): void }; done(end: RunEnd): void } | undefined;

  const channel: Channel = openChannel(child.stdio[3] as Duplex, {
    maxFrameBytes: MAX_FRAME_BYTES,
    onMessage(raw) {
      const parsed = SandboxMessage.safeParse(raw);
      if (!parsed.success) return;
      const message = parsed.data;
      if (message.type === 'ready') { onReady(); return; }
      if (!current || message.runId !== current.runId) return;
      if (message.type === 'started') current.started = true;
      else if (message.type === 'ended') current.hooks.onEnded(message);
      else { const run = current; current = undefined; run.done({ kind: 'result', message }); }
    },
    // A broken or oversized channel: the process cannot be trusted to go on.
    onError: () => handle.kill(),
  });

  child.on('exit', (code, signal) => {
    alive = false;
    channel.close();
    const detail = `${signal ? `killed by ${signal}` : `exited with code ${code}`}${stderr.trim() ? `: ${stderr.trim().split('\n').slice(-3).join(' ').slice(0, 500)}` : ''}`;
    onNotReady(new Error(`the sandbox process ${detail}`));
    if (current) { const run = current; current = undefined; run.done({ kind: 'exited', started: run.started, detail }); }
    rmSync(folder, { recursive: true, force: true });
    options.onExit?.(handle);
    onExited();
  });
  child.on('error', () => { /* spawn failures end in 'exit' too */ });

  const handle: SandboxProcess = {
    pid: child.pid ?? -1,
    key: undefined,
    ready,
    exited,
    get alive() { return alive; },
    run(request, hooks) {
      if (!alive) return Promise.resolve({ kind: 'exited', started: false, detail: 'the sandbox process is gone' });
      return new Promise<RunEnd>((resolve) => {
        current = { runId: request.runId, started: false, hooks, done: resolve };
        channel.send(request);
      });
    },
    connect(request) {
      if (alive) channel.send(request);
    },
    kill() {
      if (!alive) return;
      try { child.kill('SIGKILL'); } catch { /* already gone */ }
    },
  };
  return handle;
}
