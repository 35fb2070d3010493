// Writes to a SQLite database without ever pausing: each transaction adds one order and exactly three lines,
// so any consistent snapshot has lines = 3 x orders. Usage: node sqlite-writer.mjs <db>
import { writeSync } from 'node:fs';
import Database from 'better-sqlite3';

const db = new Database(process.argv[2], { timeout: 60_000 });
const addOrder = db.prepare('INSERT INTO orders (note) VALUES (?)');
const addLine = db.prepare('INSERT INTO lines (order_id, payload) VALUES (?, ?)');
const write = db.transaction((i) => {
  const { lastInsertRowid } = addOrder.run(`order ${i}`);
  for (let k = 0; k < 3; k++) addLine.run(lastInsertRowid, 'x'.repeat(200));
});
// The loop never yields to the event loop: the number of orders written so far is reported synchronously every 50,
// and SIGTERM's default action ends it.
let i = 0;
for (;;) {
  write(i++);
  if (i % 50 === 0) writeSync(1, `${i}\n`);
}
