/**
 * The images the deploy tests build, from Debian's packages only (no image registry is reachable here):
 * - the base, `debian:bookworm-slim`'s stand-in: `debootstrap --variant=minbase bookworm`, trimmed as the
 *   slim image is (no docs, man pages, locales or apt lists), then `docker import`. The root's tarball is
 *   cached in /var/cache/lookout/docker-base/<key>.tar, the key naming the suite, variant, mirror and
 *   recipe, so debootstrap runs once per machine;
 * - Lookout's own image from the project's Dockerfile, HTTP and browser variants (`--build-arg BASE=…`);
 * - a Redis image standing in for the official one (Debian's redis-server and redis-sentinel).
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import type { Dockerd } from './docker.ts';

const execFileAsync = promisify(execFile);
export const ROOT = resolve(fileURLToPath(import.meta.url), '../../..');
const CACHE = '/var/cache/lookout/docker-base';
/** Bump when the base recipe below changes, so an old cached root is not reused. */
const RECIPE = 'minbase-slim-1';

export const BASE_IMAGE = 'lookout-test/debian:bookworm-slim';
export const REDIS_IMAGE = 'lookout-test/redis:7';
export const LOOKOUT_IMAGES = { http: 'lookout-test:http', browser: 'lookout-test:browser' } as const;

/** The Debian mirror of this machine's apt sources, which debootstrap uses too. */
export function debianMirror(): string {
  for (const file of ['/etc/apt/sources.list.d/debian.sources', '/etc/apt/sources.list']) {
    if (!existsSync(file)) continue;
    const text = readFileSync(file, 'utf8');
    const uri = /^URIs:\s*(\S+)/m.exec(text)?.[1] ?? /^deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+bookworm/m.exec(text)?.[1];
    if (uri) return uri.replace(/\/$/, '');
  }
  return 'http://deb.debian.org/debian';
}

/** The cache key of the base root: what decides its content. */
export function baseKey(mirror = debianMirror()): string {
  return `bookworm-${RECIPE}-${createHash('sha256').update(mirror).digest('hex').slice(0, 12)}`;
}

/** Imports the base image unless the daemon has it; builds the root with debootstrap unless it is cached. */
export async function ensureBaseImage(dockerd: Dockerd): Promise<{ cached: 'image' | 'tarball' | 'none' }> {
  if (await hasImage(dockerd, BASE_IMAGE)) return { cached: 'image' };
  const tarball = join(CACHE, `${baseKey()}.tar`);
  let cached: 'tarball' | 'none' = 'tarball';
  if (!existsSync(tarball)) {
    cached = 'none';
    mkdirSync(CACHE, { recursive: true });
    // Older roots of another recipe or mirror are not needed any more.
    for (const old of readdirSync(CACHE)) if (old.endsWith('.tar') && old !== `${baseKey()}.tar`) rmSync(join(CACHE, old), { force: true });
    const dir = mkdtempSync(join(CACHE, 'build-'));
    try {
      const rootfs = join(dir, 'rootfs');
      await execFileAsync('debootstrap', ['--variant=minbase', 'bookworm', rootfs, debianMirror()], { timeout: 15 * 60_000, maxBuffer: 64 * 1024 * 1024 });
      // As debian:bookworm-slim: no documentation, manuals or locales, now or in later apt-get installs.
      for (const sub of ['var/cache/apt/archives', 'var/lib/apt/lists', 'usr/share/doc', 'usr/share/man', 'usr/share/info', 'usr/share/locale']) {
        const path = join(rootfs, sub);
        if (existsSync(path)) for (const entry of readdirSync(path)) if (entry !== 'partial' && entry !== 'lock') rmSync(join(path, entry), { recursive: true, force: true });
      }
      mkdirSync(join(rootfs, 'etc/dpkg/dpkg.cfg.d'), { recursive: true });
      await execFileAsync('sh', ['-c', `printf '%s\\n' 'path-exclude /usr/share/doc/*' 'path-include /usr/share/doc/*/copyright' 'path-exclude /usr/share/man/*' 'path-exclude /usr/share/info/*' 'path-exclude /usr/share/locale/*' > '${rootfs}/etc/dpkg/dpkg.cfg.d/docker-slim'`]);
      await execFileAsync('tar', ['-C', rootfs, '--numeric-owner', '-cf', `${tarball}.partial`, '.'], { timeout: 5 * 60_000 });
      renameSync(`${tarball}.partial`, tarball);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
  await importTarball(dockerd, tarball, BASE_IMAGE);
  return { cached };
}

async function importTarball(dockerd: Dockerd, tarball: string, tag: string): Promise<void> {
  const child = execFile('/usr/bin/docker', ['import', '-', tag], { env: dockerd.env, timeout: 5 * 60_000 });
  const done = new Promise<void>((resolvePromise, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => code === 0 ? resolvePromise() : reject(new Error(`docker import exited with ${code}`)));
  });
  createReadStream(tarball).pipe(child.stdin!);
  await done;
}

export async function hasImage(dockerd: Dockerd, tag: string): Promise<boolean> {
  return dockerd.docker(['image', 'inspect', tag], { timeoutMs: 30_000 }).then(() => true, () => false);
}

/** `docker build` of the project's Dockerfile; the machine's CA bundle goes in as the optional `ca` secret. */
export async function buildLookoutImage(dockerd: Dockerd, variant: keyof typeof LOOKOUT_IMAGES): Promise<{ seconds: number; output: string }> {
  return build(dockerd, ['-t', LOOKOUT_IMAGES[variant], '--build-arg', `BROWSER=${variant === 'browser' ? 'on' : 'off'}`, ROOT]);
}

export async function buildRedisImage(dockerd: Dockerd): Promise<{ seconds: number; output: string }> {
  return build(dockerd, ['-t', REDIS_IMAGE, '-f', join(ROOT, 'test/support/redis.Dockerfile'), join(ROOT, 'test/support')]);
}

async function build(dockerd: Dockerd, args: string[]): Promise<{ seconds: number; output: string }> {
  const ca = '/etc/ssl/certs/ca-certificates.crt';
  const started = Date.now();
  try {
    const { stdout, stderr } = await dockerd.docker([
      'build', '--network', 'host', '--progress', 'plain', '--build-arg', `BASE=${BASE_IMAGE}`,
      ...(existsSync(ca) ? ['--secret', `id=ca,src=${ca}`] : []), ...args,
    ], { timeoutMs: 20 * 60_000 });
    return { seconds: (Date.now() - started) / 1000, output: stdout + stderr };
  } catch (error) {
    const e = error as { stdout?: string; stderr?: string; message: string };
    throw new Error(`docker build ${args.join(' ')} failed: ${e.message}\n${(e.stderr ?? '').split('\n').slice(-30).join('\n')}`);
  }
}

/** Size in bytes of an image, as `docker images` counts it. */
export async function imageSize(dockerd: Dockerd, tag: string): Promise<number> {
  const { stdout } = await dockerd.docker(['image', 'inspect', '--format', '{{.Size}}', tag]);
  return Number(stdout.trim());
}
