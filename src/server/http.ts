import type { AddressInfo } from 'node:net';
import { type ServerType, serve } from '@hono/node-server';
import { Hono } from 'hono';
import { UsageError } from '../errors.js';

export interface HttpHandlers {
  /** True while the scheduler runs. */
  healthy: () => boolean;
  metrics: () => Promise<{ body: string; contentType: string }>;
}

/** serve's HTTP routes (the dashboard will add its own to this app). */
export function createApp(handlers: HttpHandlers): Hono {
  const app = new Hono();
  app.get('/healthz', (c) => (handlers.healthy() ? c.text('ok\n') : c.text('stopping\n', 503)));
  app.get('/metrics', async (c) => {
    const { body, contentType } = await handlers.metrics();
    return c.body(body, 200, { 'content-type': contentType });
  });
  return app;
}

/** `127.0.0.1:7420`, `:7420`, `0.0.0.0:80`, `[::1]:7420`; port 0 picks a free port. */
export function parseListen(value: string): { host: string; port: number } {
  const match = /^(?:\[([^\]]+)\]|([^:]*)):(\d{1,5})$/.exec(value.trim());
  const port = Number(match?.[3]);
  if (!match || port > 65535) throw new UsageError(`--listen "${value}" is not host:port.`, 'For example 127.0.0.1:7420, or 0.0.0.0:7420 to listen on every interface.');
  return { host: match[1] ?? (match[2] || '127.0.0.1'), port };
}

/** Listens and resolves with the server and its URL once bound (an address in use is an error). */
export function listen(app: Hono, address: { host: string; port: number }): Promise<{ server: ServerType; url: string }> {
  return new Promise((resolve, reject) => {
    const server = serve({ fetch: app.fetch, hostname: address.host, port: address.port }, (info: AddressInfo) => {
      const host = info.family === 'IPv6' ? `[${info.address}]` : info.address;
      resolve({ server, url: `http://${host}:${info.port}` });
    });
    server.once('error', (error: NodeJS.ErrnoException) =>
      reject(error.code === 'EADDRINUSE' ? new UsageError(`Cannot listen on ${address.host}:${address.port}: the address is in use.`, 'Pass --listen <host:port> with a free port.') : error),
    );
  });
}
