/**
 * A Docker daemon of the test's own (Debian's `docker.io`, installed by `scripts/bootstrap.sh test`): its
 * own socket, exec root and data root, so it never meets another daemon on the machine, started as a
 * child of the test and stopped by its pid. No default bridge and no iptables rules: compose networks
 * are bridges of their own, published ports go through docker-proxy on 127.0.0.1, and the host's
 * firewall is left as it was. Builds use the host's network namespace (`--network host`).
 *
 * Images and the build cache live in the data root, kept across runs in /var/lib/lookout-test-docker,
 * so a second run rebuilds only what changed. Where that folder is on overlayfs (a container or the
 * fresh-machine chroot), overlay2 cannot stack on it: the data root is then a tmpfs mounted for the run
 * (and unmounted after), and the cache lasts one run.
 *
 * In a chroot (../shared/fresh-machine.sh runs CI in one), containers start, but `docker exec`, and so
 * every HEALTHCHECK, fails ("chdir to cwd … no such file or directory"): joining a container's mount
 * namespace puts the process at the root of that namespace's mount stack (setns(2)), which is the
 * machine's root, not the chroot's, because runc's pivot_root only swaps the chroot's own mount. There,
 * dockerd runs in a private mount namespace whose root mount is the chroot's root ({@link OWN_ROOT}):
 * the same files, stacked where setns looks. Nothing of it is visible outside that namespace, and it
 * ends with dockerd.
 */
import { spawn, spawnSync, execFile, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, statfsSync, statSync, writeFileSync } from 'node:fs';
import { once } from 'node:events';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { isAlive } from './processes.ts';
import { waitUntil } from './wait.ts';

const execFileAsync = promisify(execFile);

/** Debian's docker.io puts its client here; /usr/local/bin may hold another one, not installed by bootstrap. */
export const DOCKER = '/usr/bin/docker';
const DOCKERD = '/usr/sbin/dockerd';
export const DOCKER_COMPOSE = '/usr/bin/docker-compose';
const DATA_ROOT = '/var/lib/lookout-test-docker';
const RUN_DIR = '/run/lookout-test-docker';
const OVERLAYFS_MAGIC = 0x794c7630;

export interface Dockerd {
  /** `unix://…` socket of this daemon; give it as DOCKER_HOST. */
  readonly host: string;
  readonly pid: number;
  /** The containerd that dockerd started for itself (it stops with dockerd). */
  readonly containerdPid: number | null;
  /** Environment for docker and docker-compose commands talking to this daemon. */
  readonly env: NodeJS.ProcessEnv;
  /** How the data root is stored: `disk` (kept across runs) or `tmpfs` (this run only). */
  readonly storage: 'disk' | 'tmpfs';
  /** Whether dockerd runs in a mount namespace of its own rooted at this chroot (see the file's comment). */
  readonly chrooted: boolean;
  /** Runs the docker client; rejects with its output when it exits non-zero. */
  docker(args: string[], options?: { timeoutMs?: number; input?: string }): Promise<{ stdout: string; stderr: string }>;
  /** Stops the daemon (and, with it, everything it runs) by its pid; unmounts what start mounted. */
  stop(): Promise<void>;
}

/** What is missing for a daemon here, or null when the binaries are installed. */
export function dockerMissing(): string | null {
  const missing = [[DOCKERD, 'docker.io'], [DOCKER, 'docker.io'], [DOCKER_COMPOSE, 'docker-compose'], ['/usr/sbin/debootstrap', 'debootstrap']]
    .filter(([path]) => !existsSync(path!)).map(([, pkg]) => pkg!);
  if (missing.length > 0) return `missing Debian packages ${[...new Set(missing)].join(', ')} (scripts/bootstrap.sh test installs them)`;
  if (process.getuid?.() !== 0) return 'dockerd needs root';
  return null;
}

/**
 * Starts the daemon. Only one test run uses the data root at a time: a lock holds the owner's pid, and a
 * lock whose owner is gone is taken over.
 */
export async function startDockerd(timeoutMs = 60_000): Promise<Dockerd> {
  const missing = dockerMissing();
  if (missing) throw new Error(`dockerd cannot start here: ${missing}`);
  mkdirSync(RUN_DIR, { recursive: true });
  mkdirSync(DATA_ROOT, { recursive: true });
  const lock = join(RUN_DIR, 'owner.pid');
  await waitUntil('the test Docker daemon to be free (another test run holds it)', () => takeLock(lock), 10 * 60_000, 1_000);

  let mounted = false;
  const cleanups: (() => void)[] = [() => rmSync(lock, { force: true })];
  const undo = (): void => { for (const c of cleanups.reverse()) try { c(); } catch { /* best effort */ } };
  try {
    if (statfsSync(DATA_ROOT).type === OVERLAYFS_MAGIC) {
      await execFileAsync('mount', ['-t', 'tmpfs', '-o', 'size=12g,mode=0710', 'lookout-test-docker', DATA_ROOT]);
      mounted = true;
      cleanups.push(() => { spawnSyncQuiet('umount', [DATA_ROOT]); });
    }
    const execRoot = join(RUN_DIR, 'exec');
    const socket = join(RUN_DIR, 'docker.sock');
    const logFile = join(RUN_DIR, 'dockerd.log');
    rmSync(socket, { force: true });
    const log = openSync(logFile, 'w');
    const args = [
      '--data-root', DATA_ROOT, '--exec-root', execRoot, '--pidfile', join(RUN_DIR, 'dockerd.pid'),
      '-H', `unix://${socket}`, '--bridge=none', '--iptables=false', '--ip-masq=false', '--ip-forward=false',
      '--storage-driver', 'overlay2', '--log-level', 'warn',
    ];
    const chrooted = inChroot();
    const child: ChildProcess = chrooted
      ? spawn('/bin/sh', ['-c', OWN_ROOT, 'own-root', DOCKERD, ...args], { stdio: ['ignore', log, log] })
      : spawn(DOCKERD, args, { stdio: ['ignore', log, log] });
    closeSync(log);
    const pid = child.pid!;
    const host = `unix://${socket}`;
    const env: NodeJS.ProcessEnv = { ...process.env, DOCKER_HOST: host, DOCKER_BUILDKIT: '1', COMPOSE_DOCKER_CLI_BUILD: '1' };
    const docker = async (args: string[], options: { timeoutMs?: number; input?: string } = {}): Promise<{ stdout: string; stderr: string }> => {
      const run = execFileAsync(DOCKER, args, { env, timeout: options.timeoutMs ?? 120_000, maxBuffer: 64 * 1024 * 1024 });
      if (options.input !== undefined) { run.child.stdin!.end(options.input); }
      return run;
    };
    try {
      await waitUntil('dockerd to answer', async () => {
        if (child.exitCode !== null) throw new Error(`dockerd exited with code ${child.exitCode}: ${tail(logFile)}`);
        return (await docker(['version', '--format', '{{.Server.Version}}'], { timeoutMs: 10_000 }).catch(() => null)) !== null;
      }, timeoutMs, 250);
    } catch (error) {
      await stopChild(child);
      throw error;
    }
    let stopped = false;
    const containerdPid = Number(readFileSync(join(execRoot, 'containerd/containerd.pid'), 'utf8').trim()) || null;
    return {
      host, pid, containerdPid, env, docker, storage: mounted ? 'tmpfs' : 'disk', chrooted,
      async stop() {
        if (stopped) return;
        stopped = true;
        await stopChild(child);
        undo();
      },
    };
  } catch (error) {
    undo();
    throw error;
  }
}

/**
 * `sh -c OWN_ROOT own-root <command…>` runs the command in a private mount namespace whose root mount is
 * the caller's root directory: `unshare` a private namespace, enter it again (`nsenter` puts the process
 * at the namespace's real root), bind the chroot's folder (fd 9, opened on the chroot's "/") onto itself,
 * `pivot_root` into it and drop the old root. Every step execs, so the command keeps the spawned pid.
 */
const OWN_ROOT = `
set -eu
exec 9</
exec unshare --mount --propagation private -- nsenter --mount=/proc/self/ns/mnt /bin/sh -c '
  set -eu
  here=$(readlink /proc/self/fd/9)
  mount --rbind "$here" "$here"
  cd "$here"
  mkdir -p run/lookout-test-docker/old-root
  pivot_root . run/lookout-test-docker/old-root
  umount -l /run/lookout-test-docker/old-root
  exec 9<&-
  exec chroot . "$@"
' own-root "$@"
`;

/** Whether this process runs in a chroot: its "/" is not the root of its mount namespace. */
export function inChroot(): boolean {
  const probe = spawnSync('unshare', ['--mount', '--propagation', 'private', '--', 'nsenter', '--mount=/proc/self/ns/mnt', 'stat', '-c', '%d:%i', '/'], { encoding: 'utf8' });
  if (probe.status !== 0) return false;
  const here = statSync('/');
  return probe.stdout.trim() !== `${here.dev}:${here.ino}`;
}

function takeLock(lock: string): boolean {
  try {
    writeFileSync(lock, String(process.pid), { flag: 'wx' });
    return true;
  } catch {
    const owner = Number(readFileSync(lock, 'utf8').trim());
    if (Number.isInteger(owner) && owner > 0 && owner !== process.pid && isAlive(owner)) return false;
    rmSync(lock, { force: true });
    return false;
  }
}

/** SIGTERM (dockerd stops its containers and its containerd), SIGKILL after 60 s. */
async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
  await exited;
  clearTimeout(timer);
}

function spawnSyncQuiet(command: string, args: string[]): void {
  spawnSync(command, args, { stdio: 'ignore' });
}

function tail(file: string): string {
  try { return readFileSync(file, 'utf8').trim().split('\n').slice(-5).join(' | '); } catch { return '(no log)'; }
}
