import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import mysql from 'mysql2/promise';
import { inject } from 'vitest';
import { MYSQL_TEST_PASSWORD, MYSQL_TEST_USER, mysqlUrl } from './mariadb.js';

export function mysqlServer() {
  return inject('mysql');
}

export async function withMysql<T>(database: string | null, fn: (client: mysql.Connection) => Promise<T>): Promise<T> {
  const { host, port } = mysqlServer();
  const client = await mysql.createConnection({
    host,
    port,
    user: MYSQL_TEST_USER,
    password: MYSQL_TEST_PASSWORD,
    database: database ?? undefined,
    multipleStatements: true,
    charset: 'utf8mb4_general_ci',
  });
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/** A new empty database with a unique name; returns its name and URL. */
export async function createMysqlDatabase(prefix = 'app'): Promise<{ name: string; url: string }> {
  const name = `${prefix}_${randomBytes(4).toString('hex')}`;
  await withMysql(null, (c) => c.query(`CREATE DATABASE ${name}`));
  return { name, url: mysqlUrl(mysqlServer(), name) };
}

export async function mysqlDatabases(): Promise<string[]> {
  return withMysql(null, async (c) => ((await c.query('SHOW DATABASES'))[0] as Array<{ Database: string }>).map((r) => r.Database));
}

/**
 * Foreign keys, a view on a view, a trigger, a procedure, a function, an event, a generated column, utf8mb4 text,
 * blobs, JSON, NULLs, decimals, dates and an auto-increment counter ahead of the rows.
 */
export async function fillMysqlSample(database: string, users = 300): Promise<void> {
  await withMysql(database, async (c) => {
    await c.query(`
      CREATE TABLE users (id int AUTO_INCREMENT PRIMARY KEY, email varchar(190) NOT NULL UNIQUE, name text, created_at datetime(3) DEFAULT '2024-01-02 03:04:05.678', profile json, score decimal(12,4));
      CREATE TABLE posts (id bigint AUTO_INCREMENT PRIMARY KEY, user_id int, title varchar(200) NOT NULL, body mediumtext, avatar blob,
        title_length int AS (char_length(title)) STORED, FOREIGN KEY (user_id) REFERENCES users(id) ON DELETE CASCADE);
      CREATE TABLE audit (id int AUTO_INCREMENT PRIMARY KEY, note varchar(100));
      CREATE TABLE empty_table (id int);
      CREATE VIEW user_posts AS SELECT u.id, count(p.id) AS n FROM users u LEFT JOIN posts p ON p.user_id = u.id GROUP BY u.id;
      CREATE VIEW busy_users AS SELECT id FROM user_posts WHERE n > 1;
      CREATE TRIGGER posts_audit AFTER INSERT ON posts FOR EACH ROW INSERT INTO audit (note) VALUES (CONCAT('post ', NEW.id));
      CREATE FUNCTION shout(s text) RETURNS text DETERMINISTIC RETURN UPPER(s);
      CREATE PROCEDURE count_posts(OUT n int) SELECT count(*) INTO n FROM posts;
      CREATE EVENT nightly ON SCHEDULE EVERY 1 DAY STARTS '2030-01-01 00:00:00' DISABLE DO DELETE FROM audit WHERE id < 0;
    `);
    for (let i = 1; i <= users; i++) {
      await c.query('INSERT INTO users (email, name, profile, score) VALUES (?, ?, ?, ?)', [
        `user${i}@example.com`,
        i % 7 === 0 ? null : `Ünïcødé 🎉 ${i} 'quoted' (paren) \\ back`,
        JSON.stringify({ n: i, tags: ['a', i] }),
        (i * 1.2345).toFixed(4),
      ]);
    }
    await c.query(
      `INSERT INTO posts (user_id, title, body, avatar) SELECT id, CONCAT('title ', id), REPEAT('body ', id % 50), UNHEX(MD5(id)) FROM users`,
    );
    await c.query(`INSERT INTO posts (user_id, title, body, avatar) SELECT id, CONCAT('again ', id), NULL, X'00FF0A0D275C' FROM users WHERE id % 3 = 0`);
    await c.query('ALTER TABLE users AUTO_INCREMENT = 5000');
  });
}

/** The database as the dump tool sees it (schema, data, routines, triggers, events): equal dumps, equal databases. */
export async function fullDump(database: string): Promise<string> {
  const { host, port } = mysqlServer();
  const child = spawn(
    'mariadb-dump',
    ['--no-defaults', `--host=${host}`, `--port=${port}`, '--protocol=TCP', `--user=${MYSQL_TEST_USER}`, '--skip-comments', '--routines', '--triggers', '--events', '--hex-blob', '--order-by-primary', database],
    { env: { ...process.env, MYSQL_PWD: MYSQL_TEST_PASSWORD }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let out = '';
  let err = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
  const code = await new Promise((resolve) => child.once('close', resolve));
  if (code !== 0) throw new Error(`mariadb-dump failed: ${err}`);
  return out;
}
