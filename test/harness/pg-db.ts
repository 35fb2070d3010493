import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { inject } from 'vitest';
import { TEST_PASSWORD, TEST_USER, pgUrl } from './postgres.js';

export function server() {
  return inject('pg');
}

export async function withClient<T>(database: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const { host, port } = server();
  const client = new pg.Client({ host, port, user: TEST_USER, password: TEST_PASSWORD, database });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/** A new database with a unique name (empty, or a copy of `template`); returns its name and URL. */
export async function createDatabase(prefix = 'app', template?: string): Promise<{ name: string; url: string }> {
  const name = `${prefix}_${randomBytes(4).toString('hex')}`;
  await withClient('postgres', (c) => c.query(`CREATE DATABASE ${name}${template ? ` TEMPLATE ${template}` : ''}`));
  return { name, url: pgUrl(server(), name) };
}

export async function databaseExists(name: string): Promise<boolean> {
  return withClient('postgres', async (c) => (await c.query('SELECT 1 FROM pg_database WHERE datname = $1', [name])).rowCount === 1);
}

/** Several schemas, types, a foreign key, NULLs, unicode, bytea, jsonb, a sequence and a view. */
export async function fillSampleData(database: string, users = 500): Promise<void> {
  await withClient(database, async (c) => {
    await c.query(`
      CREATE SCHEMA billing;
      CREATE TABLE users (id serial PRIMARY KEY, email text UNIQUE NOT NULL, name text, created_at timestamptz DEFAULT now(), profile jsonb);
      CREATE TABLE posts (id bigserial PRIMARY KEY, user_id int REFERENCES users(id), title text NOT NULL, body text, avatar bytea);
      CREATE TABLE billing.invoices (id int PRIMARY KEY, user_id int REFERENCES users(id), amount numeric(12,2), paid boolean);
      CREATE TABLE empty_table (id int);
      CREATE INDEX posts_user ON posts(user_id);
      CREATE VIEW user_post_counts AS SELECT u.id, count(p.id) FROM users u LEFT JOIN posts p ON p.user_id = u.id GROUP BY u.id;
      INSERT INTO users (email, name, profile)
        SELECT 'user' || i || '@example.com', CASE WHEN i % 7 = 0 THEN NULL ELSE 'Ünïcødé ' || i END, jsonb_build_object('n', i, 'tags', jsonb_build_array('a', i))
        FROM generate_series(1, ${users}) i;
      INSERT INTO posts (user_id, title, body, avatar)
        SELECT 1 + (i % ${users}), 'title ' || i, repeat('body ', i % 50), decode(md5(i::text), 'hex') FROM generate_series(1, ${users * 2}) i;
      INSERT INTO billing.invoices SELECT i, 1 + (i % ${users}), i * 1.25, i % 2 = 0 FROM generate_series(1, ${Math.floor(users / 2)}) i;
    `);
  });
}

/** Every user table's rows, ordered, as JSON: compares content, not only counts. */
export async function snapshotContent(database: string): Promise<Record<string, unknown[]>> {
  return withClient(database, async (c) => {
    const tables = await c.query<{ schema: string; name: string }>(
      `SELECT table_schema AS schema, table_name AS name FROM information_schema.tables
       WHERE table_type = 'BASE TABLE' AND table_schema NOT IN ('pg_catalog', 'information_schema') ORDER BY 1, 2`,
    );
    const content: Record<string, unknown[]> = {};
    for (const { schema, name } of tables.rows) {
      const rows = await c.query(`SELECT * FROM "${schema}"."${name}" ORDER BY 1`);
      content[`${schema}.${name}`] = rows.rows.map((row) => JSON.parse(JSON.stringify(row)));
    }
    return content;
  });
}

/**
 * Whether dbguard or a tool it started (they all connect as application `dbguard`) has a session on a database (a
 * LIKE pattern); with `writing`, one inside a transaction that has written.
 */
export async function dbguardSession(database: string, { writing = false } = {}): Promise<boolean> {
  return withClient('postgres', async (c) => {
    const sql = `SELECT 1 FROM pg_stat_activity WHERE application_name = 'dbguard' AND datname LIKE $1${writing ? ' AND backend_xid IS NOT NULL' : ''}`;
    return ((await c.query(sql, [database])).rowCount ?? 0) > 0;
  });
}
