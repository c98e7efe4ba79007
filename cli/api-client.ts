/**
 * The CLI's calls to the coordinator API: JSON in and out, `Authorization: Bearer <token>` when a token
 * is given, and the API's `{ error: { code, message, problems? } }` turned into one {@link ApiError}.
 */

export class ApiError extends Error {
  readonly status: number;
  /** The API's stable error code, or `COORDINATOR_UNREACHABLE` when no answer came. */
  readonly code: string;
  readonly problems: Array<{ index?: number; checkId?: string | null; field?: string; message: string }>;
  constructor(status: number, code: string, message: string, problems: ApiError['problems'] = []) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
    this.problems = problems;
  }
}

export interface ApiTarget {
  /** Base URL of the coordinator, e.g. `http://127.0.0.1:8080`. */
  url: string;
  /** An API token (`lookout token create`); omitted when the coordinator runs with `--auth off`. */
  token?: string;
}

/** Calls the API; resolves with the parsed JSON body of a 2xx answer, throws {@link ApiError} otherwise. */
export async function callApi<T>(target: ApiTarget, method: 'GET' | 'POST' | 'DELETE', path: string, body?: unknown): Promise<T> {
  let response: Response;
  try {
    response = await fetch(new URL(path, target.url), {
      method,
      headers: {
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
        ...(target.token ? { authorization: `Bearer ${target.token}` } : {}),
      },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
  } catch (error) {
    const cause = (error as { cause?: { code?: string; message?: string } }).cause;
    const why = cause?.code === 'ECONNREFUSED' ? 'connection refused' : cause?.code ?? cause?.message ?? (error as Error).message;
    throw new ApiError(0, 'COORDINATOR_UNREACHABLE', `no coordinator at ${target.url} (${why}). Start one with \`lookout coordinator\` or pass --coordinator.`);
  }
  const json = await response.json().catch(() => null) as { error?: { code?: string; message?: string; problems?: ApiError['problems'] } } | null;
  if (!response.ok) {
    const code = json?.error?.code ?? `HTTP_${response.status}`;
    let message = json?.error?.message ?? `HTTP ${response.status}`;
    if (code === 'TOKEN_REQUIRED') message += ' (pass --token or set LOOKOUT_TOKEN)';
    throw new ApiError(response.status, code, message, json?.error?.problems ?? []);
  }
  return json as T;
}
