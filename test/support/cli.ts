/** Runs the `lookout` command as a user does (the repository's `./lookout` wrapper), in a child process. */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const LOOKOUT = fileURLToPath(new URL('../../lookout', import.meta.url));

export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs `lookout <args>` in `cwd` with exactly `env` (plus PATH and HOME), stdin closed; kills it (by its
 * pid) if it has not ended after `timeoutMs`.
 */
export function runLookout(args: string[], options: { cwd: string; env?: Record<string, string>; timeoutMs?: number }): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(LOOKOUT, args, {
      cwd: options.cwd,
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/tmp', ...options.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => { stdout += chunk.toString(); });
    child.stderr.on('data', (chunk: Buffer) => { stderr += chunk.toString(); });
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`lookout ${args.join(' ')} did not end within ${options.timeoutMs ?? 20_000}ms\n${stdout}\n${stderr}`)); }, options.timeoutMs ?? 20_000);
    child.once('error', (error) => { clearTimeout(timer); reject(error); });
    child.once('close', (code) => { clearTimeout(timer); resolve({ code, stdout, stderr }); });
  });
}
