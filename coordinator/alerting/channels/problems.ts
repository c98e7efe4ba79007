/**
 * Validation problems as `json.path: message` lines, with array indexes in brackets
 * (`channels[2].smtp.port: ...`), so a person can find the value in their JSON file.
 */
import type { z } from 'zod';

/** `at` plus a zod path: `channels[0]` + `['to', 1]` → `channels[0].to[1]`. */
export function jsonPath(at: string, path: ReadonlyArray<PropertyKey>): string {
  let out = at;
  for (const segment of path) {
    if (typeof segment === 'number') out += `[${segment}]`;
    else if (typeof segment === 'string' && /^[A-Za-z_$][\w$]*$/.test(segment)) out += out === '' ? segment : `.${segment}`;
    else out += `[${JSON.stringify(String(segment))}]`;
  }
  return out;
}

/** Every issue of a zod error as `path: message`. */
export function describeProblems(error: z.ZodError, at = ''): string[] {
  return error.issues.map((issue) => {
    const path = jsonPath(at, issue.path);
    return path ? `${path}: ${issue.message}` : issue.message;
  });
}
