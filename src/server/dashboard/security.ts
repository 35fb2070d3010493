import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { isIP } from 'node:net';
import type { Context, MiddlewareHandler } from 'hono';
import { getCookie, setCookie } from 'hono/cookie';
import { UsageError } from '../../errors.js';

export interface DashboardAccess {
  /** The secret every request must prove: given as ?token= once (then a cookie), or `Authorization: Bearer`. */
  token: string;
  /** True when the token was generated at start (then serve prints the URL with it once). */
  generated: boolean;
  /** Host names besides the listen address that the Host header may carry (a reverse proxy's name). */
  hosts: string[];
}

const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost']);

/** The dashboard's token: DBGUARD_UI_TOKEN, else a random one; listening beyond loopback needs an explicit token. */
export function dashboardAccess(options: { listenHost: string; envToken: string | undefined; hosts?: string[] | undefined }): DashboardAccess {
  const token = options.envToken?.trim();
  if (token !== undefined && token !== '' && token.length < 16) {
    throw new UsageError('DBGUARD_UI_TOKEN is too short.', 'Use at least 16 random characters, e.g. `openssl rand -hex 24`.');
  }
  if (!token && !LOOPBACK.has(options.listenHost)) {
    throw new UsageError(
      `Listening on ${options.listenHost} (beyond this machine) needs a token you set yourself.`,
      'Set DBGUARD_UI_TOKEN to a long random secret (e.g. `openssl rand -hex 24`), and put serve behind a reverse proxy with TLS.',
    );
  }
  return token ? { token, generated: false, hosts: options.hosts ?? [] } : { token: randomBytes(24).toString('base64url'), generated: true, hosts: options.hosts ?? [] };
}

export function isLoopback(host: string): boolean {
  return LOOPBACK.has(host) || host.startsWith('127.');
}

/** Everything a request is checked against, once serve knows its port. */
export class DashboardGuard {
  private readonly session: string;
  readonly csrf: string;
  private allowed = new Set<string>();
  private anyIpLiteral = false;
  private cookieName = 'dbguard';

  constructor(private readonly access: DashboardAccess) {
    this.session = derive(access.token, 'session');
    this.csrf = derive(access.token, 'csrf');
  }

  /** Called once listening: the Host header must name this address (or a configured name). */
  bind(listenHost: string, port: number): void {
    const withPort = (host: string) => `${host.includes(':') ? `[${host}]` : host}:${port}`;
    const wildcard = listenHost === '0.0.0.0' || listenHost === '::';
    this.anyIpLiteral = wildcard;
    this.allowed = new Set([withPort(listenHost), ...(isLoopback(listenHost) || wildcard ? ['localhost', '127.0.0.1', '::1'].map(withPort) : [])]);
    for (const name of this.access.hosts) this.allowed.add(name.toLowerCase());
    this.cookieName = `dbguard_${port}`; // cookies ignore ports: two serve instances on one host keep their own
  }

  hostAllowed(hostHeader: string | undefined): boolean {
    if (!hostHeader) return false;
    const host = hostHeader.toLowerCase();
    if (this.allowed.has(host)) return true;
    const name = host.replace(/:\d+$/, '');
    if (this.allowed.has(name)) return true; // a configured name, on whatever port the proxy uses
    return this.anyIpLiteral && isIP(name.replace(/^\[|\]$/g, '')) !== 0; // an IP literal cannot be rebound
  }

  /** Host check, then the token (query once, then the cookie; or a bearer header); 401 without it. */
  middleware(): MiddlewareHandler {
    return async (c, next) => {
      if (!this.hostAllowed(c.req.header('host'))) return c.text('Forbidden: this Host is not the address dbguard serve listens on.\n', 403);
      const query = c.req.query('token');
      if (query !== undefined) {
        if (!same(query, this.access.token)) return unauthorized(c);
        setCookie(c, this.cookieName, this.session, { httpOnly: true, sameSite: 'Strict', path: '/' });
        const url = new URL(c.req.url);
        url.searchParams.delete('token');
        return c.redirect(`${url.pathname}${url.search}`, 303); // the token leaves the address bar and the history
      }
      const bearer = /^Bearer (.+)$/.exec(c.req.header('authorization') ?? '')?.[1];
      const cookie = getCookie(c, this.cookieName);
      if (!(bearer !== undefined ? same(bearer, this.access.token) : cookie !== undefined && same(cookie, this.session))) return unauthorized(c);
      c.header('cache-control', 'no-store');
      c.header('x-content-type-options', 'nosniff');
      c.header('x-frame-options', 'DENY');
      c.header('referrer-policy', 'no-referrer');
      c.header(
        'content-security-policy',
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
      );
      await next();
    };
  }

  /** A state-changing request: POST with the CSRF token (form field or header) from this origin. */
  async checkPost(c: Context): Promise<{ ok: true; form: Record<string, string> } | { ok: false; response: Response }> {
    const origin = c.req.header('origin');
    if (origin !== undefined && origin !== 'null' && !this.hostAllowed(hostOf(origin))) {
      return { ok: false, response: c.text('Forbidden: cross-origin request.\n', 403) };
    }
    const body = await c.req.parseBody().catch(() => ({}) as Record<string, unknown>);
    const form = Object.fromEntries(Object.entries(body).filter((e): e is [string, string] => typeof e[1] === 'string'));
    const sent = c.req.header('x-csrf-token') ?? form.csrf;
    if (sent === undefined || !same(sent, this.csrf)) return { ok: false, response: c.text('Forbidden: missing or wrong CSRF token. Reload the page and try again.\n', 403) };
    return { ok: true, form };
  }
}

function hostOf(origin: string): string | undefined {
  try {
    return new URL(origin).host;
  } catch {
    return undefined;
  }
}

function unauthorized(c: Context): Response {
  return c.html(
    '<!doctype html><meta charset="utf-8"><title>dbguard: sign in</title><h1>401: token required</h1>' +
      '<p>Open the dashboard with the URL <code>dbguard serve</code> printed at start (<code>/?token=…</code>), or the token in DBGUARD_UI_TOKEN.</p>',
    401,
  );
}

function derive(token: string, purpose: string): string {
  return createHmac('sha256', token).update(`dbguard dashboard ${purpose}`).digest('base64url');
}

/** Constant-time comparison of two strings of any length. */
function same(a: string, b: string): boolean {
  return timingSafeEqual(createHash('sha256').update(a).digest(), createHash('sha256').update(b).digest());
}
