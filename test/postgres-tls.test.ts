/*
 * `?sslmode=` against a real PostgreSQL server that accepts TLS connections only (pg_hba: hostssl, hostnossl
 * rejected), with a certificate signed by a throwaway CA: every connection dbguard makes, its own and pg_dump's,
 * pg_restore's and psql's, has to use TLS and check what the mode says.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseJson, runCli } from './harness/cli.js';
import { type PgServer, TEST_PASSWORD, TEST_USER, pgUrl, startPostgres } from './harness/postgres.js';
import { tempDir } from './harness/tmp.js';

let server: PgServer;
let certs: string;

/** A CA, a server certificate for 127.0.0.1 signed by it, and a second CA that signed nothing. */
function makeCertificates(dir: string): void {
  const openssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  openssl('req', '-x509', ...ec, '-keyout', 'ca.key', '-out', 'ca.crt', '-subj', '/CN=dbguard test CA', '-days', '2');
  openssl('req', '-x509', ...ec, '-keyout', 'other-ca.key', '-out', 'other-ca.crt', '-subj', '/CN=another CA', '-days', '2');
  openssl('req', ...ec, '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=127.0.0.1');
  execFileSync('sh', ['-c', 'printf "subjectAltName=IP:127.0.0.1\\n" > san.ext'], { cwd: dir });
  openssl('x509', '-req', '-in', 'server.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'server.crt', '-days', '2', '-extfile', 'san.ext');
}

beforeAll(async () => {
  certs = mkdtempSync(path.join(os.tmpdir(), 'dbguard-tls-'));
  makeCertificates(certs);
  server = await startPostgres({ tls: { cert: path.join(certs, 'server.crt'), key: path.join(certs, 'server.key') } });
  const client = new pg.Client({ host: server.host, port: server.port, user: TEST_USER, password: TEST_PASSWORD, database: 'postgres', ssl: { rejectUnauthorized: false } });
  await client.connect();
  try {
    await client.query('CREATE DATABASE shop');
  } finally {
    await client.end();
  }
  const shop = new pg.Client({ host: server.host, port: server.port, user: TEST_USER, password: TEST_PASSWORD, database: 'shop', ssl: { rejectUnauthorized: false } });
  await shop.connect();
  try {
    await shop.query("CREATE TABLE orders (id serial PRIMARY KEY, note text); INSERT INTO orders (note) SELECT 'order ' || i FROM generate_series(1, 40) i");
  } finally {
    await shop.end();
  }
}, 120_000);

afterAll(() => {
  try {
    server?.stop();
  } finally {
    rmSync(certs, { recursive: true, force: true });
  }
});

const url = (database: string, query: string) => `${pgUrl(server, database)}?${query}`;

describe('PostgreSQL over TLS (a server that refuses unencrypted connections)', () => {
  it('sslmode=require: backup, verify --restore-test and restore --to all connect with TLS', async () => {
    const cwd = tempDir();
    const taken = await runCli(['backup', '--json', '--db', url('shop', 'sslmode=require')], { cwd });
    expect(taken.code, taken.stderr).toBe(0);
    const { id, tables } = parseJson<{ id: string; tables: Record<string, number> }>(taken);
    expect(tables).toMatchObject({ 'public.orders': 40 });
    const verified = await runCli(['verify', id, '--restore-test', '--db', url('shop', 'sslmode=require')], { cwd });
    expect(verified.code, verified.stderr).toBe(0);
    const restored = await runCli(['restore', id, '--yes', '--to', url('shop_copy', 'sslmode=require')], { cwd });
    expect(restored.code, restored.stderr).toBe(0);
  });

  it('without sslmode the server refuses the connection, and the error says so without the password', async () => {
    const result = await runCli(['backup', '--db', pgUrl(server, 'shop')], { cwd: tempDir() });
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/no encryption|SSL/i);
    expect(result.stderr).toMatch(/hint: The server accepts encrypted connections only: add \?sslmode=require/);
    expect(result.stderr).not.toContain(TEST_PASSWORD);
  });

  it('sslmode=verify-full with sslrootcert: the CA that signed the server is accepted, by dbguard and by pg_dump', async () => {
    const result = await runCli(['backup', '--db', url('shop', `sslmode=verify-full&sslrootcert=${path.join(certs, 'ca.crt')}`)], { cwd: tempDir() });
    expect(result.code, result.stderr).toBe(0);
  });

  it.each(['verify-full', 'verify-ca', 'require'])('sslmode=%s with the root certificate of another CA is refused', async (mode) => {
    const result = await runCli(['backup', '--db', url('shop', `sslmode=${mode}&sslrootcert=${path.join(certs, 'other-ca.crt')}`)], { cwd: tempDir() });
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/certificate/i);
    expect(result.stderr).toMatch(/hint: Check that .*other-ca\.crt \(sslrootcert\) holds the CA/);
    expect(result.stderr).not.toContain(TEST_PASSWORD);
  });

  it('a root certificate file that does not exist is a clear usage error', async () => {
    const result = await runCli(['backup', '--db', url('shop', 'sslmode=verify-full&sslrootcert=/nonexistent/ca.crt')], { cwd: tempDir() });
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/sslrootcert.*\/nonexistent\/ca\.crt/);
  });
});
