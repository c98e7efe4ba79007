/**
 * Structured logging: one JSON object per line, `{ ts, level, msg, ...fields }`. `msg` is a stable
 * dotted event name (`ingest.invalid_result`) that people grep for and dashboards count.
 */

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
export type LogFields = Record<string, unknown>;

export interface Logger {
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
}

/** Writes one finished line (without its newline). */
export type LineSink = (line: string) => void;

const stdoutSink: LineSink = (line) => { process.stdout.write(`${line}\n`); };

/** Creates a JSON-lines logger; `sink` defaults to stdout. */
export function createLogger(sink: LineSink = stdoutSink, base: LogFields = {}): Logger {
  const write = (level: LogLevel, msg: string, fields: LogFields = {}): void => {
    sink(JSON.stringify({ ts: new Date().toISOString(), level, msg, ...base, ...fields }, errorReplacer));
  };
  return {
    debug: (msg, fields) => write('debug', msg, fields),
    info: (msg, fields) => write('info', msg, fields),
    warn: (msg, fields) => write('warn', msg, fields),
    error: (msg, fields) => write('error', msg, fields),
  };
}

/** A logger that drops everything. */
export const silentLogger: Logger = createLogger(() => {});

/** Errors serialise as `{ name, message, code }` instead of `{}`; stacks stay out of one-line logs. */
function errorReplacer(_key: string, value: unknown): unknown {
  if (!(value instanceof Error)) return value;
  const code = (value as { code?: unknown }).code;
  return { name: value.name, message: value.message, ...(typeof code === 'string' ? { code } : {}) };
}
