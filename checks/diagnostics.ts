/** A problem found in a user's check project: where it is and what is wrong. */
export interface Diagnostic {
  file: string;
  line?: number;
  column?: number;
  checkId?: string;
  /** Dotted path of the offending field, e.g. `assertions.0.value`. */
  field?: string;
  /** A stable code for problems a program may act on, e.g. `IMPORT_TIMEOUT`. */
  code?: string;
  message: string;
}

/** `checks/api.check.ts:12:3 [api-health] timeoutMs: must not exceed frequency` */
export function formatDiagnostic(d: Diagnostic): string {
  const where = [d.file, d.line, d.column].filter((part) => part !== undefined).join(':');
  const check = d.checkId ? ` [${d.checkId}]` : '';
  const field = d.field ? ` ${d.field}:` : '';
  return `${where}${check}${field} ${d.message}`;
}
