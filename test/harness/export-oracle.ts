/**
 * An independent statement of which rows belong to a subject, evaluated in memory by a plain fixpoint over every
 * row (no SQL): the oracle the export's SQL is compared with. And random data for the export schema.
 */
import type { SchemaGraph } from '../../src/engines/types.js';

export type Rows = Record<string, Array<Record<string, unknown>>>;

const same = (a: unknown, b: unknown) => a !== null && a !== undefined && b !== null && b !== undefined && String(a) === String(b);

/** Per table, the indexes (in `rows[table]`) of the rows that belong to the subject. */
export function ownedRows(schema: SchemaGraph, rows: Rows, subjectTable: string, isSubject: (row: Record<string, unknown>) => boolean): Map<string, Set<number>> {
  const owned = new Map<string, Set<number>>(schema.tables.map((t) => [t.id, new Set<number>()]));
  (rows[subjectTable] ?? []).forEach((row, i) => isSubject(row) && owned.get(subjectTable)!.add(i));
  const pointsAt = (row: Record<string, unknown>, fk: SchemaGraph['foreignKeys'][number], target: Record<string, unknown>) =>
    fk.columns.every((c, k) => same(row[c], target[fk.references.columns[k]!]));
  const pointsAtOwned = (row: Record<string, unknown>, fk: SchemaGraph['foreignKeys'][number]) =>
    [...owned.get(fk.references.table)!].some((i) => pointsAt(row, fk, rows[fk.references.table]![i]!));
  for (let changed = true; changed; ) {
    changed = false;
    for (const table of schema.tables) {
      if (table.id === subjectTable) continue;
      const fks = schema.foreignKeys.filter((fk) => fk.table === table.id);
      const intoSubject = fks.filter((fk) => fk.references.table === subjectTable);
      const others = fks.filter((fk) => fk.references.table !== subjectTable);
      (rows[table.id] ?? []).forEach((row, i) => {
        if (owned.get(table.id)!.has(i)) return;
        const direct = intoSubject.some((fk) => pointsAtOwned(row, fk));
        const nowhere = intoSubject.every((fk) => fk.columns.some((c) => row[c] === null || row[c] === undefined));
        if (direct || (nowhere && others.some((fk) => pointsAtOwned(row, fk)))) {
          owned.get(table.id)!.add(i);
          changed = true;
        }
      });
    }
  }
  return owned;
}

/** `table col=value,…` of what owned rows point to that does not belong to the subject. */
export function ownedReferences(schema: SchemaGraph, rows: Rows, owned: Map<string, Set<number>>): string[] {
  const found = new Set<string>();
  for (const fk of schema.foreignKeys) {
    for (const i of owned.get(fk.table) ?? []) {
      const row = rows[fk.table]![i]!;
      if (fk.columns.some((c) => row[c] === null || row[c] === undefined)) continue;
      const target = (rows[fk.references.table] ?? []).findIndex((t) => fk.columns.every((c, k) => same(row[c], t[fk.references.columns[k]!])));
      if (target !== -1 && owned.get(fk.references.table)!.has(target)) continue;
      found.add(`${fk.references.table} ${fk.references.columns.map((c, k) => `${c}=${row[fk.columns[k]!]}`).join(',')}`);
    }
  }
  return [...found].sort();
}

/** A small deterministic random generator (mulberry32). */
export function random(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** INSERTs for the export schema (public tables), with many users sharing posts, comments, teams and tags. */
export function randomData(seed: number): string {
  const rnd = random(seed);
  const pick = <T>(items: T[]): T => items[Math.floor(rnd() * items.length)]!;
  const maybe = <T>(p: number, value: () => T): T | null => (rnd() < p ? value() : null);
  const lit = (v: unknown) => (v === null ? 'NULL' : typeof v === 'number' ? String(v) : `'${String(v)}'`);
  const insert = (table: string, values: unknown[][]) => (values.length > 0 ? `INSERT INTO ${table} VALUES ${values.map((r) => `(${r.map(lit).join(', ')})`).join(', ')};\n` : '');
  const users = Array.from({ length: 6 }, (_, i) => `u${i + 1}`);
  let sql = '';
  sql += insert('"User"', users.map((u, i) => [u, `${u}@example.com`, `hash-${u}`, i > 0 ? maybe(0.7, () => users[Math.floor(rnd() * i)]) : null, null, null]));
  sql += insert('profiles', users.filter(() => rnd() < 0.8).map((u, i) => [i + 1, u, `bio of ${u}`]));
  const posts = Array.from({ length: 12 }, (_, i) => 10 + i);
  sql += insert('posts', posts.map((p) => [p, pick(users), `post ${p}`]));
  const comments: number[] = [];
  const commentRows: unknown[][] = [];
  for (let i = 0; i < 60; i++) {
    const id = 100 + i;
    commentRows.push([id, pick(posts), maybe(0.6, () => pick(users)), comments.length > 0 ? maybe(0.5, () => pick(comments)) : null, `comment ${id}`]);
    comments.push(id);
  }
  sql += insert('comments', commentRows);
  sql += insert('reactions', Array.from({ length: 40 }, (_, i) => [i + 1, pick(comments), maybe(0.6, () => pick(users)), 'like']));
  sql += insert('products', [1, 2, 3, 4].map((p) => [p, `product ${p}`]));
  const orders = Array.from({ length: 10 }, (_, i) => 500 + i);
  sql += insert('orders', orders.map((o) => [o, pick(users), Math.floor(rnd() * 100)]));
  sql += insert('order_items', orders.flatMap((o) => Array.from({ length: 1 + Math.floor(rnd() * 3) }, (_, line) => [o, line + 1, maybe(0.9, () => pick([1, 2, 3, 4])), 1])));
  sql += insert('tags', [1, 2, 3].map((t) => [t, `tag ${t}`]));
  sql += insert('post_tags', posts.flatMap((p) => [1, 2, 3].filter(() => rnd() < 0.4).map((t) => [p, t])));
  sql += insert('audit_log', Array.from({ length: 30 }, (_, i) => [i + 1, maybe(0.5, () => pick(users)), maybe(0.5, () => pick(posts)), 'event']));
  sql += insert('messages', Array.from({ length: 20 }, (_, i) => [i + 1, pick(users), pick(users), 'hi']));
  sql += insert('"Category"', [1, 2].map((c) => [c, `category ${c}`]));
  sql += insert('"_CategoryToPost"', posts.flatMap((p) => [1, 2].filter(() => rnd() < 0.5).map((c) => [c, p])));
  const teams = [1, 2, 3, 4];
  sql += insert('teams', teams.map((t) => [t, `team ${t}`, null]));
  const memberships = Array.from({ length: 14 }, (_, i) => [10 + i, pick(teams), maybe(0.6, () => pick(users))]);
  sql += insert('memberships', memberships);
  for (const t of teams) {
    const owner = maybe(0.8, () => pick(memberships)[0]);
    if (owner !== null) sql += `UPDATE teams SET owner_membership_id = ${owner} WHERE id = ${t};\n`;
  }
  return sql;
}
