import prettyBytes from 'pretty-bytes';

/** A one-line progress display (bytes, rate, elapsed) on a TTY; silent elsewhere. */
export function createProgress(stream: NodeJS.WritableStream & { isTTY?: boolean }, label: string, enabled: boolean) {
  const started = Date.now();
  let last = 0;
  let shown = false;
  const active = enabled && stream.isTTY === true;
  return {
    update(bytes: number): void {
      if (!active) return;
      const now = Date.now();
      if (now - last < 100) return;
      last = now;
      const seconds = (now - started) / 1000;
      const rate = seconds > 0 ? `${prettyBytes(bytes / seconds)}/s` : '';
      stream.write(`\r\x1b[2K${label} ${prettyBytes(bytes)}  ${rate}  ${seconds.toFixed(1)} s`);
      shown = true;
    },
    done(): void {
      if (shown) stream.write('\r\x1b[2K');
    },
  };
}
