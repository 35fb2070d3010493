import type { Connection, RowDataPacket } from 'mysql2/promise';
import { quoteMysqlIdent as q } from './mysql-tools.js';

/** A schema object that lives in the database rather than in a table, and cannot move with RENAME TABLE. */
export interface StoredObject {
  kind: 'trigger' | 'view' | 'procedure' | 'function' | 'event';
  name: string;
  /** A trigger's table. */
  table?: string | undefined;
  /** The CREATE statement, with no database name in it: it creates the object in the connection's database. */
  create: string;
  /** The session settings the object was created under (they change its meaning): restored before creating it. */
  sqlMode: string;
  characterSetClient: string | null;
  collationConnection: string | null;
  timeZone: string | null;
}

/** Base tables (and MariaDB's system-versioned ones): what RENAME TABLE swaps and what row counts cover. */
export async function baseTables(client: Connection, database: string): Promise<string[]> {
  const [rows] = await client.query<RowDataPacket[]>(
    `SELECT TABLE_NAME AS name FROM information_schema.TABLES
     WHERE TABLE_SCHEMA = ? AND TABLE_TYPE IN ('BASE TABLE', 'SYSTEM VERSIONED') ORDER BY TABLE_NAME`,
    [database],
  );
  return rows.map((r) => String(r.name));
}

/** MariaDB sequences: tables to RENAME TABLE, not counted as data. */
export async function sequences(client: Connection, database: string): Promise<string[]> {
  const [rows] = await client.query<RowDataPacket[]>(
    `SELECT TABLE_NAME AS name FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_TYPE = 'SEQUENCE' ORDER BY TABLE_NAME`,
    [database],
  );
  return rows.map((r) => String(r.name));
}

/**
 * Every trigger, view, routine and event of `database`, with its definition. Views are read with `database` as the
 * current database and its name is taken out of their text, so they can be created in another database.
 */
export async function storedObjects(client: Connection, database: string): Promise<StoredObject[]> {
  await client.query(`USE ${q(database)}`);
  const list = async (sql: string) => (await client.query<RowDataPacket[]>(sql, [database]))[0];
  const objects: StoredObject[] = [];
  const qualifier = `${q(database)}.`;
  for (const r of await list('SELECT TABLE_NAME AS name FROM information_schema.VIEWS WHERE TABLE_SCHEMA = ? ORDER BY TABLE_NAME')) {
    const [[row]] = await client.query<RowDataPacket[]>(`SHOW CREATE VIEW ${q(String(r.name))}`);
    objects.push({
      kind: 'view',
      name: String(r.name),
      create: String(row!['Create View']).split(qualifier).join(''),
      sqlMode: '',
      characterSetClient: row!.character_set_client ?? null,
      collationConnection: row!.collation_connection ?? null,
      timeZone: null,
    });
  }
  for (const r of await list('SELECT ROUTINE_NAME AS name, ROUTINE_TYPE AS type FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = ? ORDER BY 2, 1')) {
    const kind = String(r.type) === 'FUNCTION' ? 'function' : 'procedure';
    const [[row]] = await client.query<RowDataPacket[]>(`SHOW CREATE ${kind.toUpperCase()} ${q(String(r.name))}`);
    objects.push({
      kind,
      name: String(r.name),
      create: String(row![kind === 'function' ? 'Create Function' : 'Create Procedure']),
      sqlMode: String(row!.sql_mode ?? ''),
      characterSetClient: row!.character_set_client ?? null,
      collationConnection: row!.collation_connection ?? null,
      timeZone: null,
    });
  }
  for (const r of await list('SELECT TRIGGER_NAME AS name, EVENT_OBJECT_TABLE AS tbl FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = ? ORDER BY EVENT_OBJECT_TABLE, ACTION_ORDER')) {
    const [[row]] = await client.query<RowDataPacket[]>(`SHOW CREATE TRIGGER ${q(String(r.name))}`);
    objects.push({
      kind: 'trigger',
      name: String(r.name),
      table: String(r.tbl),
      create: String(row!['SQL Original Statement']),
      sqlMode: String(row!.sql_mode ?? ''),
      characterSetClient: row!.character_set_client ?? null,
      collationConnection: row!.collation_connection ?? null,
      timeZone: null,
    });
  }
  for (const r of await list('SELECT EVENT_NAME AS name FROM information_schema.EVENTS WHERE EVENT_SCHEMA = ? ORDER BY EVENT_NAME')) {
    const [[row]] = await client.query<RowDataPacket[]>(`SHOW CREATE EVENT ${q(String(r.name))}`);
    objects.push({
      kind: 'event',
      name: String(r.name),
      create: String(row!['Create Event']),
      sqlMode: String(row!.sql_mode ?? ''),
      characterSetClient: row!.character_set_client ?? null,
      collationConnection: row!.collation_connection ?? null,
      timeZone: row!.time_zone ?? null,
    });
  }
  return objects;
}

/** Creates the object in the connection's current database, under the session settings it was defined with. */
export async function createObject(client: Connection, object: StoredObject): Promise<void> {
  if (object.kind !== 'view') await client.query('SET SESSION sql_mode = ?', [object.sqlMode]);
  if (object.characterSetClient) await client.query('SET SESSION character_set_client = ?', [object.characterSetClient]);
  if (object.collationConnection) await client.query('SET SESSION collation_connection = ?', [object.collationConnection]);
  if (object.timeZone) await client.query('SET SESSION time_zone = ?', [object.timeZone]);
  try {
    await client.query(object.create);
  } finally {
    await client.query("SET SESSION sql_mode = DEFAULT, character_set_client = 'utf8mb4', collation_connection = 'utf8mb4_general_ci', time_zone = DEFAULT");
  }
}

export function dropObjectSql(object: Pick<StoredObject, 'kind' | 'name'>): string {
  return `DROP ${object.kind.toUpperCase()} IF EXISTS ${q(object.name)}`;
}

/**
 * Creates objects in an order that works: routines first, then views (a view may read another; those that fail are
 * retried once the others exist), then triggers and events (which may call routines and read views).
 */
export async function createObjects(client: Connection, objects: StoredObject[], created: StoredObject[]): Promise<void> {
  const order: StoredObject['kind'][] = ['function', 'procedure', 'view', 'trigger', 'event'];
  for (const kind of order) {
    let pending = objects.filter((o) => o.kind === kind);
    while (pending.length > 0) {
      const failed: Array<{ object: StoredObject; error: unknown }> = [];
      for (const object of pending) {
        try {
          await createObject(client, object);
          created.push(object);
        } catch (error) {
          failed.push({ object, error });
        }
      }
      if (failed.length === pending.length) {
        const { object, error } = failed[0]!;
        throw new Error(`creating ${object.kind} ${object.name}: ${(error as Error).message}`);
      }
      pending = failed.map((f) => f.object);
    }
  }
}
