// Writes to a SQLite database without pause, one small transaction after another, keeping the table's size
// constant, and reports its progress: a line "<epoch ms> <transactions so far>" every 50 ms.
// Usage: node sqlite-writer.mjs <db>
import { writeSync } from 'node:fs';
import Database from 'better-sqlite3';

const db = new Database(process.argv[2], { timeout: 60_000 });
const insert = db.prepare('INSERT INTO writer_log (at, payload) VALUES (?, ?)');
const trim = db.prepare('DELETE FROM writer_log WHERE id = ?');
const payload = 'w'.repeat(200);
const write = db.transaction((at) => {
  const { lastInsertRowid } = insert.run(at, payload);
  trim.run(Number(lastInsertRowid) - 1000);
});
// Never yields to the event loop; SIGTERM's default action ends it.
let next = 0;
for (let n = 1; ; n++) {
  const now = Date.now();
  write(now);
  if (now >= next) {
    writeSync(1, `${now} ${n}\n`);
    next = now + 50;
  }
}
