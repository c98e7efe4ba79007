/**
 * Validation problems as `json.path: message` lines, with array indexes in brackets
 * (`channels[2].smtp.port: ...`), so a person can find the value in their file or request. The one
 * formatter of zod errors in Lookout: the CLI, the API, the agent and the coordinator's logs all use it.
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

/** Every issue of a zod error as `path: message` (just `message` for an issue at the root). */
export function describeZodError(error: z.ZodError, at = ''): string[] {
  return error.issues.map((issue) => {
    const path = jsonPath(at, issue.path);
    return path ? `${path}: ${issue.message}` : issue.message;
  });
}

/** One problem: where (a {@link jsonPath}; `''` for the value itself) and what. */
export interface ZodProblem {
  field: string;
  message: string;
}

/**
 * Every issue of a zod error as a {@link ZodProblem}. Unknown keys (a strict object's
 * `unrecognized_keys`) read `unknown <noun> a, b`, so a misspelt option is named, not described.
 */
export function zodProblems(error: z.ZodError, options: { at?: string; unknownKeyNoun?: string } = {}): ZodProblem[] {
  const noun = options.unknownKeyNoun ?? 'field';
  return error.issues.map((issue) => ({
    field: jsonPath(options.at ?? '', issue.path),
    message: issue.code === 'unrecognized_keys' ? `unknown ${noun}${issue.keys.length > 1 ? 's' : ''} ${issue.keys.join(', ')}` : issue.message,
  }));
}
