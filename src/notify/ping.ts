import { request } from './http.js';

export type PingKind = 'start' | 'success' | 'failure';

/**
 * healthchecks.io-style: `<url>/start` when a backup starts, `<url>` when it succeeds, `<url>/fail` when it fails.
 * The service alerts when the success ping stops coming, even when this machine is dead.
 */
export function sendPing(url: string, kind: PingKind, signal: AbortSignal, error?: string): Promise<void> {
  const base = url.replace(/\/+$/, '');
  const target = kind === 'start' ? `${base}/start` : kind === 'failure' ? `${base}/fail` : base;
  return request(target, { method: 'POST', body: error ?? '', headers: { 'content-type': 'text/plain' }, signal });
}
