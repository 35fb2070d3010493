export type LogLevel = 'info' | 'warn' | 'error';
export type LogFields = Record<string, unknown>;

/** One structured line per event. */
export type Logger = (level: LogLevel, event: string, fields?: LogFields) => void;

/**
 * JSON lines (`{"time","level","event",...}`) for log collectors, or `time level event key=value` for a person at
 * a terminal.
 */
export function createLogger(stream: NodeJS.WritableStream, json: boolean, now: () => Date = () => new Date()): Logger {
  return (level, event, fields = {}) => {
    const time = now().toISOString();
    if (json) {
      stream.write(`${JSON.stringify({ time, level, event, ...fields })}\n`);
      return;
    }
    const pairs = Object.entries(fields)
      .filter(([, value]) => value !== undefined)
      .map(([key, value]) => `${key}=${typeof value === 'string' && !/\s/.test(value) ? value : JSON.stringify(value)}`);
    stream.write(`${time.slice(11, 19)} ${level.padEnd(5)} ${event} ${pairs.join(' ')}`.trimEnd() + '\n');
  };
}
