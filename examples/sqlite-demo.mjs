// A backup and restore round trip on a throwaway SQLite database, with the real CLI. No server needed.
//   npm run demo
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';

const cli = fileURLToPath(new URL('../dist/cli/main.js', import.meta.url));
const dir = mkdtempSync(path.join(os.tmpdir(), 'dbguard-demo-'));
const dbguard = (...args) => {
  console.log(`\n$ dbguard ${args.join(' ')}`);
  execFileSync(process.execPath, [cli, ...args], { cwd: dir, stdio: 'inherit', env: { ...process.env, DATABASE_URL: 'file:./app.db' } });
};
const count = () => {
  const db = new Database(path.join(dir, 'app.db'), { readonly: true });
  const n = db.prepare('SELECT count(*) FROM users').pluck().get();
  db.close();
  return n;
};

try {
  const db = new Database(path.join(dir, 'app.db'));
  db.pragma('journal_mode = WAL');
  db.exec("CREATE TABLE users (id INTEGER PRIMARY KEY, email TEXT); WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1000) INSERT INTO users (email) SELECT 'user' || i || '@example.com' FROM n");
  db.close();
  console.log(`demo database: ${dir}/app.db with ${count()} users`);

  dbguard('backup', '--label', 'before the accident');
  new Database(path.join(dir, 'app.db')).exec('DELETE FROM users');
  console.log(`\noops: users now has ${count()} rows`);
  dbguard('list');
  dbguard('verify', 'latest');
  dbguard('restore', 'latest', '--yes');
  console.log(`\nusers has ${count()} rows again`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
