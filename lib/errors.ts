/**
 * Errors Lookout raises on purpose carry a stable, machine-readable `code` from a closed union per
 * module (`RegistryErrorCode`, `RedisErrorCode`, ...), so callers match on the code, never on the
 * message, and a table from code to HTTP status can be checked for completeness by the compiler.
 */
export class CodedError<Code extends string = string> extends Error {
  readonly code: Code;
  constructor(code: Code, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}
