/**
 * A compose project of the test's own on the test's Docker daemon: `docker-compose` (Debian's 1.29) with a
 * unique project name, the test's images and free loopback ports, and the state of each service's
 * container as Docker reports it (running, exited with its code, health).
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import { DOCKER_COMPOSE, type Dockerd } from './docker.ts';
import { LOOKOUT_IMAGES, REDIS_IMAGE, ROOT } from './docker-images.ts';
import { freePort } from './redis.ts';

const execFileAsync = promisify(execFile);

export interface ComposeProject {
  readonly name: string;
  readonly ports: { coordinator1: number; coordinator2: number; demo: number };
  run(args: string[], timeoutMs?: number): Promise<{ stdout: string; stderr: string }>;
  /** Per service: `running`, `exited <code>`, …, and the health Docker reports (null without a healthcheck). */
  states(): Promise<Map<string, { state: string; health: string | null }>>;
  /** Containers, networks and volumes of the project still there (ids), after `down`. */
  leftovers(): Promise<string[]>;
  /** For every container not healthy: its state, its last health check's output and its last log lines. */
  diagnose(): Promise<string>;
}

export async function composeProject(dockerd: Dockerd, files: string[]): Promise<ComposeProject> {
  const name = `lookout-test-${randomBytes(3).toString('hex')}`;
  const ports = { coordinator1: await freePort(), coordinator2: await freePort(), demo: await freePort() };
  const label = `label=com.docker.compose.project=${name}`;
  const env = {
    ...dockerd.env,
    LOOKOUT_IMAGE: LOOKOUT_IMAGES.http, LOOKOUT_BROWSER_IMAGE: LOOKOUT_IMAGES.browser, LOOKOUT_REDIS_IMAGE: REDIS_IMAGE,
    LOOKOUT_PORT_1: String(ports.coordinator1), LOOKOUT_PORT_2: String(ports.coordinator2), LOOKOUT_DEMO_PORT: String(ports.demo),
  };
  const run = async (args: string[], timeoutMs = 5 * 60_000) => {
    try {
      return await execFileAsync(DOCKER_COMPOSE, ['--project-name', name, ...files.flatMap((f) => ['--file', `${ROOT}/${f}`]), '--ansi', 'never', ...args],
        { env, cwd: ROOT, timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 });
    } catch (error) {
      const e = error as { stderr?: string; message: string };
      const why = args[0] === 'up' ? `\n${await diagnose().catch((d: Error) => `(no diagnosis: ${d.message})`)}` : '';
      throw new Error(`docker-compose ${args.join(' ')}: ${e.message.split('\n')[0]}\n${(e.stderr ?? '').split('\n').slice(-25).join('\n')}${why}`);
    }
  };
  const diagnose = async () => {
    const { stdout } = await dockerd.docker(['ps', '--all', '--filter', label, '--format', '{{.ID}} {{.Label "com.docker.compose.service"}} {{.Status}}']);
    const lines: string[] = [];
    for (const line of stdout.split('\n').filter(Boolean)) {
      if (/\(healthy\)|Exited \(0\)/.test(line)) continue;
      const id = line.split(' ')[0]!;
      const health = JSON.parse((await dockerd.docker(['inspect', '--format', '{{json .State.Health}}', id])).stdout) as { Log?: { ExitCode: number; Output: string }[] } | null;
      const last = health?.Log?.at(-1);
      const logs = await dockerd.docker(['logs', '--tail', '10', id]).then((l) => `${l.stdout}${l.stderr}`, (l: Error) => l.message);
      lines.push(`${line}${last ? `\n  last health check: exit ${last.ExitCode}: ${last.Output.trim().slice(0, 500)}` : ''}\n  log: ${logs.trim().split('\n').join('\n       ')}`);
    }
    return lines.join('\n');
  };
  const states = async () => {
    const { stdout } = await dockerd.docker(['ps', '--all', '--filter', label, '--format', '{{.Label "com.docker.compose.service"}} {{.ID}}']);
    const result = new Map<string, { state: string; health: string | null }>();
    for (const line of stdout.split('\n').filter(Boolean)) {
      const [service, id] = line.split(' ');
      const { stdout: json } = await dockerd.docker(['inspect', '--format', '{{json .State}}', id!]);
      const state = JSON.parse(json) as { Status: string; ExitCode: number; Health?: { Status: string } };
      result.set(service!, { state: state.Status === 'exited' ? `exited ${state.ExitCode}` : state.Status, health: state.Health?.Status ?? null });
    }
    return result;
  };
  const leftovers = async () => {
    const lists = await Promise.all([
      dockerd.docker(['ps', '--all', '--quiet', '--filter', label]),
      dockerd.docker(['network', 'ls', '--quiet', '--filter', label]),
      dockerd.docker(['volume', 'ls', '--quiet', '--filter', label]),
    ]);
    return lists.flatMap((l) => l.stdout.split('\n').filter(Boolean));
  };
  return { name, ports, run, states, leftovers, diagnose };
}
