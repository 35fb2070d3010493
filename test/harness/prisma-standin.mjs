// Stands in for `prisma migrate deploy`, which cannot download its engines on the test machines: it applies
// every pending prisma/migrations/*/migration.sql statement by statement WITHOUT a transaction (as Prisma does),
// recording each in _prisma_migrations, and stops at the first error leaving an unfinished row behind.
// Usage: node prisma-standin.mjs <project dir> <postgres url | mysql url | sqlite file>
import { randomUUID } from 'node:crypto';
import { readFileSync, readdirSync, existsSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import mysql from 'mysql2/promise';
import pg from 'pg';

const [project, url] = process.argv.slice(2);
const folder = path.join(project, 'prisma', 'migrations');
const isPg = url.startsWith('postgres');
const isMysql = url.startsWith('mysql');

const db = isPg ? new pg.Client({ connectionString: url }) : isMysql ? await mysql.createConnection(url) : new Database(url);
if (isPg) await db.connect();
const run = async (sql, params = []) => {
  if (isPg) return (await db.query(sql, params)).rows;
  if (isMysql) return (await db.query(sql.replace(/\$\d/g, '?'), params))[0];
  const statement = db.prepare(sql.replace(/\$\d/g, '?'));
  return statement.reader ? statement.all(...params) : (statement.run(...params), []);
};
const exec = async (sql) => (isPg || isMysql ? db.query(sql) : db.exec(sql));

await exec(`CREATE TABLE IF NOT EXISTS _prisma_migrations (id VARCHAR(36) PRIMARY KEY, checksum TEXT NOT NULL, finished_at TIMESTAMP,
  migration_name TEXT NOT NULL, logs TEXT, rolled_back_at TIMESTAMP, started_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
  applied_steps_count INTEGER NOT NULL DEFAULT 0)`);
const applied = new Set((await run('SELECT migration_name FROM _prisma_migrations WHERE finished_at IS NOT NULL')).map((r) => r.migration_name));
for (const name of readdirSync(folder).sort()) {
  const file = path.join(folder, name, 'migration.sql');
  if (!existsSync(file) || applied.has(name)) continue;
  const id = randomUUID();
  await run('INSERT INTO _prisma_migrations (id, checksum, migration_name) VALUES ($1, $2, $3)', [id, 'x', name]);
  for (const statement of readFileSync(file, 'utf8').split(';').map((s) => s.trim()).filter((s) => s && !/^(--[^\n]*\n?)*$/.test(s))) {
    try {
      await exec(statement);
    } catch (error) {
      console.error(`Error: migration ${name} failed: ${error.message}`);
      process.exit(1);
    }
  }
  await run(`UPDATE _prisma_migrations SET finished_at = CURRENT_TIMESTAMP WHERE id = $1`, [id]);
  console.log(`Applied ${name}`);
}
if (isPg || isMysql) await db.end();
else db.close();
