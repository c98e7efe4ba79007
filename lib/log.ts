/**
 * Structured logging: one JSON object per line, `{ ts, level, msg, ...fields }`, so that log shippers
 * can parse agent output without guessing. `msg` is a stable dotted event name (`run.finished`), never
 * free prose: people grep for it and dashboards count it.
 */

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
export type LogFields = Record<string, unknown>;

export interface Logger {
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
  /** A logger that adds `fields` to every line. */
  child(fields: LogFields): Logger;
}

/** Writes one finished line (without its newline). */
export type LineSink = (line: string) => void;

// Lines written in one turn of the event loop go out in one write: a write per line is a syscall per run.
let pendingLines: string[] = [];
let flushScheduled = false;
const flushStdout = (): void => {
  flushScheduled = false;
  if (pendingLines.length === 0) return;
  const text = `${pendingLines.join('\n')}\n`;
  pendingLines = [];
  process.stdout.write(text);
};
process.on('exit', flushStdout);
const stdoutSink: LineSink = (line) => {
  pendingLines.push(line);
  if (!flushScheduled) { flushScheduled = true; setImmediate(flushStdout); }
};

/** Creates a JSON-lines logger; `sink` defaults to stdout. */
export function createLogger(sink: LineSink = stdoutSink, base: LogFields = {}): Logger {
  const write = (level: LogLevel, msg: string, fields: LogFields = {}): void => {
    sink(formatLine({ ts: new Date().toISOString(), level, msg, ...base, ...fields }));
  };
  return {
    debug: (msg, fields) => write('debug', msg, fields),
    info: (msg, fields) => write('info', msg, fields),
    warn: (msg, fields) => write('warn', msg, fields),
    error: (msg, fields) => write('error', msg, fields),
    child: (fields) => createLogger(sink, { ...base, ...fields }),
  };
}

/** A logger that drops everything (for library callers that do not want output). */
export const silentLogger: Logger = createLogger(() => {});

/** Serialises a log record; errors become `{ name, message, code }` instead of `{}`. */
export function formatLine(record: LogFields): string {
  return JSON.stringify(record, (_key, value: unknown) => (value instanceof Error ? describeError(value) : value));
}

/** The parts of an error worth logging; stacks stay out of the one-line format on purpose. */
export function describeError(error: unknown): { name: string; message: string; code?: string } {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    return { name: error.name, message: error.message, ...(typeof code === 'string' ? { code } : {}) };
  }
  return { name: 'NonError', message: String(error) };
}


/**
 * Logs `msg` for an error at most once per `windowMs` per distinct error message: a Redis outage makes
 * BullMQ and ioredis report the same error every second, which would drown every other line.
 */
export function throttledErrorLog(logger: Logger, msg: string, windowMs = 30_000): (error: unknown, fields?: LogFields) => void {
  const lastLogged = new Map<string, { at: number; suppressed: number }>();
  return (error, fields = {}) => {
    const key = describeError(error).message;
    const now = Date.now();
    const seen = lastLogged.get(key);
    if (seen && now - seen.at < windowMs) {
      seen.suppressed++;
      return;
    }
    if (lastLogged.size > 100) lastLogged.clear();
    lastLogged.set(key, { at: now, suppressed: 0 });
    logger.error(msg, { ...fields, error, ...(seen?.suppressed ? { repeatsSuppressed: seen.suppressed } : {}) });
  };
}
