import type pg from 'pg';
import type { ForeignKey, RowStream, SchemaGraph, SchemaTable } from './types.js';

const USER_RELATIONS = `
  c.relkind IN ('r', 'p') AND NOT c.relispartition
  AND n.nspname NOT IN ('pg_catalog', 'information_schema')
  AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp%'
  AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')`;

/** Column names of `rel` for the attribute numbers in `keys`, in the array's order. */
const attnames = (keys: string, rel: string) =>
  `ARRAY(SELECT a.attname::text FROM unnest(${keys}) WITH ORDINALITY k(num, ord)
         JOIN pg_attribute a ON a.attrelid = ${rel} AND a.attnum = k.num ORDER BY k.ord)`;

const TABLES_SQL = `
  SELECT c.oid::text AS oid, n.nspname AS schema, c.relname AS name,
    ARRAY(SELECT a.attname::text FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum) AS columns,
    COALESCE((SELECT ${attnames('p.conkey', 'c.oid')} FROM pg_constraint p WHERE p.conrelid = c.oid AND p.contype = 'p'), '{}') AS primary_key,
    (SELECT COALESCE(json_agg(${attnames('i.indkey::int2[]', 'c.oid')}), '[]') FROM pg_index i WHERE i.indrelid = c.oid AND i.indpred IS NULL) AS indexes
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
  WHERE ${USER_RELATIONS}
  ORDER BY 2, 3`;

// conparentid = 0: the constraint as declared, not its clones on partitions.
const FOREIGN_KEYS_SQL = `
  SELECT f.conrelid::text AS table_oid, f.confrelid::text AS references_oid,
    ${attnames('f.conkey', 'f.conrelid')} AS columns, ${attnames('f.confkey', 'f.confrelid')} AS ref_columns
  FROM pg_constraint f WHERE f.contype = 'f' AND f.conparentid = 0
  ORDER BY f.conrelid, f.conname`;

export async function describePgSchema(client: pg.Client): Promise<SchemaGraph> {
  const tables = await client.query<{ oid: string; schema: string; name: string; columns: string[]; primary_key: string[]; indexes: string[][] }>(TABLES_SQL);
  const byOid = new Map<string, SchemaTable>();
  for (const row of tables.rows) {
    byOid.set(row.oid, {
      id: `${row.schema}.${row.name}`,
      schema: row.schema,
      name: row.name,
      columns: row.columns,
      primaryKey: row.primary_key,
      indexes: row.indexes,
    });
  }
  const foreignKeys: ForeignKey[] = [];
  for (const row of (await client.query<{ table_oid: string; references_oid: string; columns: string[]; ref_columns: string[] }>(FOREIGN_KEYS_SQL)).rows) {
    const table = byOid.get(row.table_oid);
    const target = byOid.get(row.references_oid);
    if (table && target) foreignKeys.push({ table: table.id, columns: row.columns, references: { table: target.id, columns: row.ref_columns } });
  }
  return { tables: [...byOid.values()], foreignKeys };
}

/** Dates and times as ISO 8601 text (the session runs in UTC), keeping PostgreSQL's microseconds. */
const TEXT_TYPES: Record<number, (value: string) => unknown> = {
  1082: (value) => value, // date
  1114: (value) => value.replace(' ', 'T'), // timestamp
  1184: (value) => value.replace(' ', 'T').replace(/\+00$/, 'Z'), // timestamptz
};

/** `fn` inside one REPEATABLE READ, READ ONLY transaction; each query streams through a cursor, 1000 rows a fetch. */
export async function readPgSnapshot<T>(client: pg.Client, fn: (rows: RowStream) => Promise<T>): Promise<T> {
  await client.query("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY; SET LOCAL TIME ZONE 'UTC'");
  const types = {
    getTypeParser: ((oid: number, format?: string) => TEXT_TYPES[oid] ?? client.getTypeParser(oid, format as 'text')) as pg.CustomTypesConfig['getTypeParser'],
  };
  let cursors = 0;
  const rows: RowStream = async function* (sql) {
    const name = `dbguard_export_${++cursors}`;
    await client.query(`DECLARE ${name} NO SCROLL CURSOR FOR ${sql}`);
    for (;;) {
      const batch = await client.query({ text: `FETCH 1000 FROM ${name}`, types });
      if (batch.rows.length > 0) yield batch.rows as Array<Record<string, unknown>>;
      if (batch.rows.length < 1000) break;
    }
    await client.query(`CLOSE ${name}`);
  };
  try {
    return await fn(rows);
  } finally {
    await client.query('ROLLBACK').catch(() => {});
  }
}
