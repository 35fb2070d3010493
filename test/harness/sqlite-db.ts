import path from 'node:path';
import Database from 'better-sqlite3';

/** A SQLite database with orders/lines (lines = 3 x orders), users with unicode, NULLs and blobs. */
export function createSqliteDb(dir: string, options: { name?: string; journalMode?: 'wal' | 'delete'; orders?: number } = {}): string {
  const file = path.join(dir, options.name ?? 'dev.db');
  const db = new Database(file);
  db.pragma(`journal_mode = ${options.journalMode ?? 'wal'}`);
  db.exec(`
    CREATE TABLE orders (id INTEGER PRIMARY KEY, note TEXT);
    CREATE TABLE lines (id INTEGER PRIMARY KEY, order_id INTEGER REFERENCES orders(id), payload TEXT);
    CREATE TABLE "user profiles" (id INTEGER PRIMARY KEY, name TEXT, avatar BLOB, score REAL);
    CREATE INDEX lines_order ON lines(order_id);
  `);
  const orders = options.orders ?? 2000;
  const seed = db.transaction(() => {
    const addOrder = db.prepare('INSERT INTO orders (note) VALUES (?)');
    const addLine = db.prepare('INSERT INTO lines (order_id, payload) VALUES (?, ?)');
    for (let i = 0; i < orders; i++) {
      const { lastInsertRowid } = addOrder.run(`seed ${i}`);
      for (let k = 0; k < 3; k++) addLine.run(lastInsertRowid, 'y'.repeat(200));
    }
    const addUser = db.prepare('INSERT INTO "user profiles" (name, avatar, score) VALUES (?, ?, ?)');
    for (let i = 0; i < 100; i++) addUser.run(i % 5 === 0 ? null : `Zoë ${i} 🚀`, Buffer.from([i, 0, 255]), i / 3);
  });
  seed();
  db.close();
  return file;
}

/** Every table's rows, ordered by rowid. */
export function sqliteContent(file: string): Record<string, unknown[]> {
  const db = new Database(file, { readonly: true });
  try {
    const tables = db.prepare("SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name").pluck().all() as string[];
    return Object.fromEntries(tables.map((t) => [t, db.prepare(`SELECT * FROM "${t}" ORDER BY rowid`).all()]));
  } finally {
    db.close();
  }
}

export function sqliteQuery<T>(file: string, sql: string): T {
  const db = new Database(file, { fileMustExist: true }); // read-write: it may have to roll back a hot journal
  try {
    return db.prepare(sql).get() as T;
  } finally {
    db.close();
  }
}

export function sqliteExec(file: string, sql: string): void {
  const db = new Database(file);
  try {
    db.exec(sql);
  } finally {
    db.close();
  }
}
