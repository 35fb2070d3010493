/** The benchmark's data: throwaway PostgreSQL and MariaDB servers (the test harness's) with pgbench-like + wide rows, and a SQLite file. */
import { execFileSync } from 'node:child_process';
import { statSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import mysql from 'mysql2/promise';
import pg from 'pg';
import { MYSQL_TEST_PASSWORD, MYSQL_TEST_USER, type MariadbServer, mysqlUrl, startMariadb } from '../test/harness/mariadb.js';
import { type PgServer, TEST_PASSWORD, TEST_USER, findPgBinDir, pgUrl, startPostgres } from '../test/harness/postgres.js';

export const BENCH_DB = 'bench';

export interface Pg {
  server: PgServer;
  /** Folder of pg_dump, pg_restore, pgbench (dbguard gets it as DBGUARD_PG_BINDIR, so both use the same binaries). */
  bin: string;
  url(database: string): string;
  /** Environment for the raw tools (libpq variables, password included). */
  env: NodeJS.ProcessEnv;
  query(sql: string, database?: string): Promise<pg.QueryResult>;
}

export async function startPg(): Promise<Pg> {
  const server = await startPostgres();
  const bin = findPgBinDir();
  const env = { ...process.env, PGHOST: server.host, PGPORT: String(server.port), PGUSER: TEST_USER, PGPASSWORD: TEST_PASSWORD };
  const url = (database: string) => pgUrl(server, database);
  const query = async (sql: string, database = 'postgres') => {
    const client = new pg.Client({ connectionString: url(database) });
    await client.connect();
    try {
      return await client.query(sql);
    } finally {
      await client.end();
    }
  };
  return { server, bin, url, env, query };
}

/** `pgbench -i -s <scale>` plus `scale x 5000` wide rows (text + jsonb, ~0.9 kB each). Returns the database size. */
export async function createPgData(pgc: Pg, scale: number): Promise<number> {
  await pgc.query(`CREATE DATABASE ${BENCH_DB}`);
  execFileSync(path.join(pgc.bin, 'pgbench'), ['-i', '-q', '-s', String(scale), BENCH_DB], { env: pgc.env, stdio: ['ignore', 'ignore', 'pipe'] });
  await pgc.query(
    `CREATE TABLE wide_docs (id bigint PRIMARY KEY, title text NOT NULL, body text NOT NULL, doc jsonb NOT NULL, created_at timestamptz NOT NULL);
     INSERT INTO wide_docs
     SELECT i, 'Document ' || i,
            (SELECT string_agg(md5((i * 16 + k)::text), ' ') FROM generate_series(1, 16) k),
            jsonb_build_object('id', i, 'owner', 'user' || (i % 997),
              'tags', jsonb_build_array('t' || (i % 13), 't' || (i % 31), 't' || (i % 101)),
              'score', (i % 1000) / 10.0,
              'meta', jsonb_build_object('hash', md5(i::text), 'flags', jsonb_build_array(i % 2 = 0, i % 3 = 0),
                                         'notes', repeat('lorem ipsum ', 10 + i % 20))),
            timestamptz '2024-01-01' + make_interval(secs => i)
     FROM generate_series(1, ${scale * 5000}) i;
     CREATE INDEX wide_docs_created ON wide_docs (created_at);`,
    BENCH_DB,
  );
  await pgc.query('VACUUM ANALYZE wide_docs', BENCH_DB);
  await pgc.query('CHECKPOINT');
  return databaseBytes(pgc, BENCH_DB);
}

export async function databaseBytes(pgc: Pg, database: string): Promise<number> {
  const { rows } = await pgc.query(`SELECT pg_database_size('${database}') AS n`);
  return Number(rows[0].n);
}

/** Deterministic PRNG (mulberry32). */
function random(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const WORDS = 'alpha bravo cargo delta echo fjord garnet harbor ivory jasper kettle lantern meadow nectar orbit pepper quartz river saffron timber umber velvet willow xenon yarrow zephyr'.split(' ');

/**
 * A WAL-mode SQLite database of about 15 MB per scale unit, the same bytes on every run: customers (JSON text),
 * orders, order lines (text), attachments (blobs, half random), with indexes; plus `writer_log` for the writer.
 */
export function createSqliteData(file: string, scale: number): number {
  const rnd = random(42);
  const pick = <T>(items: T[]) => items[Math.floor(rnd() * items.length)]!;
  const words = (n: number) => Array.from({ length: n }, () => pick(WORDS)).join(' ');
  const db = new Database(file);
  db.pragma('journal_mode = wal');
  db.exec(`
    CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT NOT NULL, email TEXT NOT NULL, profile TEXT NOT NULL);
    CREATE TABLE orders (id INTEGER PRIMARY KEY, customer_id INTEGER NOT NULL REFERENCES customers(id), created_at TEXT NOT NULL, status TEXT NOT NULL, total REAL NOT NULL);
    CREATE TABLE order_lines (id INTEGER PRIMARY KEY, order_id INTEGER NOT NULL REFERENCES orders(id), sku TEXT NOT NULL, qty INTEGER NOT NULL, price REAL NOT NULL, note TEXT);
    CREATE TABLE attachments (id INTEGER PRIMARY KEY, order_id INTEGER NOT NULL REFERENCES orders(id), name TEXT NOT NULL, data BLOB NOT NULL);
    CREATE TABLE writer_log (id INTEGER PRIMARY KEY, at INTEGER NOT NULL, payload TEXT NOT NULL);
  `);
  const customers = 2_000 * scale;
  const orders = 20_000 * scale;
  const addCustomer = db.prepare('INSERT INTO customers (id, name, email, profile) VALUES (?, ?, ?, ?)');
  const addOrder = db.prepare('INSERT INTO orders (id, customer_id, created_at, status, total) VALUES (?, ?, ?, ?, ?)');
  const addLine = db.prepare('INSERT INTO order_lines (order_id, sku, qty, price, note) VALUES (?, ?, ?, ?, ?)');
  const addAttachment = db.prepare('INSERT INTO attachments (order_id, name, data) VALUES (?, ?, ?)');
  db.transaction(() => {
    for (let id = 1; id <= customers; id++) {
      const name = `${pick(WORDS)} ${pick(WORDS)}`;
      const profile = { city: pick(WORDS), tags: [pick(WORDS), pick(WORDS), pick(WORDS)], newsletter: rnd() < 0.5, bio: words(40) };
      addCustomer.run(id, name, `${name.replace(' ', '.')}.${id}@example.com`, JSON.stringify(profile));
    }
    for (let id = 1; id <= orders; id++) {
      const day = String(1 + (id % 28)).padStart(2, '0');
      addOrder.run(id, 1 + Math.floor(rnd() * customers), `2025-0${1 + (id % 9)}-${day}T12:00:00Z`, pick(['new', 'paid', 'shipped', 'returned']), Math.round(rnd() * 100_000) / 100);
      for (let k = 0; k < 3; k++) addLine.run(id, `SKU-${Math.floor(rnd() * 50_000)}`, 1 + Math.floor(rnd() * 5), Math.round(rnd() * 10_000) / 100, words(12));
      if (id % 50 === 0) {
        const data = Buffer.alloc(4096);
        for (let i = 0; i < 2048; i++) data[i] = Math.floor(rnd() * 256);
        data.fill(id % 251, 2048);
        addAttachment.run(id, `scan-${id}.bin`, data);
      }
    }
  })();
  db.exec(`
    CREATE UNIQUE INDEX customers_email ON customers (email);
    CREATE INDEX orders_customer ON orders (customer_id);
    CREATE INDEX orders_created ON orders (created_at);
    CREATE INDEX order_lines_order ON order_lines (order_id);
    CREATE INDEX attachments_order ON attachments (order_id);
  `);
  db.pragma('wal_checkpoint(TRUNCATE)');
  db.close();
  return statSync(file).size;
}

export interface Mysql {
  server: MariadbServer;
  url(database: string): string;
  /** Environment for the raw tools (MYSQL_PWD), and their connection arguments. */
  env: NodeJS.ProcessEnv;
  args: string;
  query(sql: string): Promise<unknown>;
}

export async function startMysql(): Promise<Mysql> {
  const server = await startMariadb();
  const url = (database: string) => mysqlUrl(server, database);
  const env = { ...process.env, MYSQL_PWD: MYSQL_TEST_PASSWORD };
  const args = `--no-defaults --host=${server.host} --port=${server.port} --protocol=TCP --user=${MYSQL_TEST_USER}`;
  const query = async (sql: string) => {
    const client = await mysql.createConnection({ host: server.host, port: server.port, user: MYSQL_TEST_USER, password: MYSQL_TEST_PASSWORD, multipleStatements: true });
    try {
      return await client.query(sql);
    } finally {
      await client.end();
    }
  };
  return { server, url, env, args, query };
}

/**
 * MariaDB with pgbench-like accounts (`scale x 100000` narrow rows) and `scale x 5000` wide rows (text + JSON,
 * ~0.9 kB each), all InnoDB. Returns the data and index size.
 */
export async function createMysqlData(my: Mysql, scale: number): Promise<number> {
  await my.query(`CREATE DATABASE ${BENCH_DB}; USE ${BENCH_DB};
    CREATE TABLE accounts (aid int PRIMARY KEY, bid int NOT NULL, abalance int NOT NULL, filler char(84));
    INSERT INTO accounts SELECT seq, 1 + seq DIV 100000, 0, '' FROM seq_1_to_${scale * 100_000};
    CREATE TABLE wide_docs (id bigint PRIMARY KEY, title text NOT NULL, body text NOT NULL, doc json NOT NULL, created_at datetime NOT NULL, KEY (created_at));
    INSERT INTO wide_docs
      SELECT seq, CONCAT('Document ', seq),
             CONCAT_WS(' ', MD5(seq * 16 + 1), MD5(seq * 16 + 2), MD5(seq * 16 + 3), MD5(seq * 16 + 4), MD5(seq * 16 + 5), MD5(seq * 16 + 6), MD5(seq * 16 + 7), MD5(seq * 16 + 8),
                       MD5(seq * 16 + 9), MD5(seq * 16 + 10), MD5(seq * 16 + 11), MD5(seq * 16 + 12), MD5(seq * 16 + 13), MD5(seq * 16 + 14), MD5(seq * 16 + 15), MD5(seq * 16 + 16)),
             JSON_OBJECT('id', seq, 'owner', CONCAT('user', seq % 997), 'tags', JSON_ARRAY(CONCAT('t', seq % 13), CONCAT('t', seq % 31)),
                         'meta', JSON_OBJECT('hash', MD5(seq), 'notes', REPEAT('lorem ipsum ', 10 + seq % 20))),
             '2024-01-01' + INTERVAL seq SECOND
      FROM seq_1_to_${scale * 5000};
    ANALYZE TABLE accounts, wide_docs;`);
  const [rows] = (await my.query(
    `SELECT SUM(DATA_LENGTH + INDEX_LENGTH) AS n FROM information_schema.TABLES WHERE TABLE_SCHEMA = '${BENCH_DB}'`,
  )) as [Array<{ n: string }>];
  return Number(rows[0]!.n);
}
