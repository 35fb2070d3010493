import prettyBytes from 'pretty-bytes';
import type { ProgressListener } from '../engines/types.js';

/**
 * A one-line progress display (phase, bytes of total, rate, elapsed) on a TTY; silent elsewhere. The rate is that of
 * the current phase.
 */
export function createProgress(stream: NodeJS.WritableStream & { isTTY?: boolean }, label: string, enabled: boolean) {
  const started = Date.now();
  let phase: { name: string | undefined; started: number } = { name: undefined, started };
  let last = 0;
  let shown = false;
  const active = enabled && stream.isTTY === true;
  return {
    update(bytes: number, detail?: Parameters<ProgressListener>[1]): void {
      if (!active) return;
      const now = Date.now();
      const newPhase = detail?.phase !== phase.name;
      if (newPhase) phase = { name: detail?.phase, started: now };
      if (!newPhase && now - last < 100) return; // a new phase always shows, however short it is
      last = now;
      const inPhase = (now - phase.started) / 1000;
      const rate = inPhase > 0 ? `${prettyBytes(bytes / inPhase)}/s` : '';
      const what = `${detail ? `${detail.phase} ` : ''}${prettyBytes(bytes)}${detail?.total ? ` of ${prettyBytes(detail.total)}` : ''}`;
      stream.write(`\r\x1b[2K${label}: ${what}  ${rate}  ${((now - started) / 1000).toFixed(1)} s`);
      shown = true;
    },
    done(): void {
      if (shown) stream.write('\r\x1b[2K');
    },
  };
}

/**
 * For work of unknown length (a restore): `label` with the elapsed time, refreshed on a TTY; elsewhere `label` once.
 * `stop` leaves `label done in <time>` (or `stopped after <time>`) on a TTY.
 */
export function startElapsed(stream: NodeJS.WritableStream & { isTTY?: boolean }, label: string): { stop(ok?: boolean): void } {
  const started = Date.now();
  const elapsed = () => `${((Date.now() - started) / 1000).toFixed(1)} s`;
  if (stream.isTTY !== true) {
    stream.write(`${label}\n`);
    return { stop: () => {} };
  }
  const timer = setInterval(() => stream.write(`\r\x1b[2K${label} ${elapsed()}`), 250);
  stream.write(label);
  let stopped = false;
  return {
    stop(ok = true): void {
      if (stopped) return;
      stopped = true;
      clearInterval(timer);
      stream.write(`\r\x1b[2K${label} ${ok ? 'done in' : 'stopped after'} ${elapsed()}\n`);
    },
  };
}
