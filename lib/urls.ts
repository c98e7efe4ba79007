/** URL helpers shared by agents, coordinators and the CLI. */

/** Whether `value` parses as an `http:` or `https:` URL. */
export function isHttpUrl(value: string): boolean {
  try { return /^https?:$/.test(new URL(value).protocol); } catch { return false; }
}

/** The URL with its password (a `redis://user:pass@host` credential) hidden, for messages and logs. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return '<unparseable url>';
  }
}
