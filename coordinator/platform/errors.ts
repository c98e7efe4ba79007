/** Errors the coordinator raises on purpose carry a stable machine-readable `code`; match on it, never on the message. */
export class CoordinatorError extends Error {
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'CoordinatorError';
    this.code = code;
  }
}
