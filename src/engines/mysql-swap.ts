import { randomBytes } from 'node:crypto';
import type { Connection, RowDataPacket } from 'mysql2/promise';
import { DbguardError, UsageError } from '../errors.js';
import { type StoredObject, baseTables, createObjects, dropObjectSql, sequences, storedObjects } from './mysql-objects.js';
import { quoteMysqlIdent as q } from './mysql-tools.js';

/**
 * Replaces the target's tables with the scratch database's in one RENAME TABLE statement, which MySQL and MariaDB
 * apply all or nothing. The replaced tables are only renamed aside inside the target (`_dbguard_old_…`), so they keep
 * their triggers and foreign keys and are the safety copy until everything else succeeded; then they are dropped.
 *
 * Views, routines, triggers and events cannot move between databases (RENAME TABLE even refuses a table that has
 * triggers), so they are recreated from the scratch database's definitions right after the swap. That part is not one
 * atomic step: if it fails, the swap is undone (tables renamed back, the target's own definitions recreated), which
 * leaves the target as it was. In between, for a moment, the new tables are in place without their triggers.
 */
export async function swapIn(client: Connection, target: string, scratch: string, exact: boolean): Promise<void> {
  const incoming = [...(await baseTables(client, scratch)), ...(await sequences(client, scratch))];
  const present = [...(await baseTables(client, target)), ...(await sequences(client, target))];
  const replaced = present.filter((t) => incoming.includes(t) || exact);
  await assertNoReferencesFromKept(client, target, replaced);

  const newObjects = await storedObjects(client, scratch);
  const oldObjects = await storedObjects(client, target);
  // RENAME TABLE refuses to move a table with triggers to another database: they are recreated after the swap.
  await client.query(`USE ${q(scratch)}`);
  for (const trigger of newObjects.filter((o) => o.kind === 'trigger')) await client.query(dropObjectSql(trigger));

  const suffix = randomBytes(3).toString('hex');
  const aside = new Map(replaced.map((t, i) => [t, `_dbguard_old_${suffix}_${i}`]));
  const forward = [
    ...replaced.map((t) => `${q(target)}.${q(t)} TO ${q(target)}.${q(aside.get(t)!)}`),
    ...incoming.map((t) => `${q(scratch)}.${q(t)} TO ${q(target)}.${q(t)}`),
  ];
  if (forward.length > 0) await client.query(`RENAME TABLE ${forward.join(', ')}`);

  await client.query(`USE ${q(target)}`);
  const dropped: StoredObject[] = [];
  const created: StoredObject[] = [];
  try {
    const replacedObject = (o: StoredObject) =>
      o.kind === 'trigger' ? replaced.includes(o.table ?? '') : exact || newObjects.some((n) => n.kind === o.kind && n.name === o.name);
    for (const object of oldObjects.filter(replacedObject)) {
      await client.query(dropObjectSql(object));
      dropped.push(object);
    }
    await createObjects(client, newObjects, created);
  } catch (error) {
    await undo(client, target, scratch, { incoming, aside, dropped, created }).catch((undoError: unknown) => {
      throw new DbguardError(
        `Restoring the views, routines, triggers and events failed (${(error as Error).message}), and undoing the swap failed too: ${(undoError as Error).message}.`,
        { hint: `The replaced tables are kept in the database as ${[...aside.values()].join(', ')}; the pre-restore safety backup holds everything.` },
      );
    });
    throw new DbguardError(`the restored tables were swapped back: ${(error as Error).message}`);
  }
  if (aside.size > 0) {
    await client.query('SET SESSION foreign_key_checks = 0');
    await client.query(`DROP TABLE ${[...aside.values()].map((t) => `${q(target)}.${q(t)}`).join(', ')}`);
    await client.query('SET SESSION foreign_key_checks = 1');
  }
}

async function undo(
  client: Connection,
  target: string,
  scratch: string,
  state: { incoming: string[]; aside: Map<string, string>; dropped: StoredObject[]; created: StoredObject[] },
): Promise<void> {
  for (const object of state.created.reverse()) await client.query(dropObjectSql(object));
  const back = [
    ...state.incoming.map((t) => `${q(target)}.${q(t)} TO ${q(scratch)}.${q(t)}`),
    ...[...state.aside].map(([t, old]) => `${q(target)}.${q(old)} TO ${q(target)}.${q(t)}`),
  ];
  if (back.length > 0) await client.query(`RENAME TABLE ${back.join(', ')}`);
  await createObjects(client, state.dropped, []);
}

/**
 * A table that stays (it is not in the backup) with a foreign key to a replaced table would follow that table aside
 * and point at nothing once it is dropped: refused before anything changes.
 */
async function assertNoReferencesFromKept(client: Connection, target: string, replaced: string[]): Promise<void> {
  const [rows] = await client.query<RowDataPacket[]>(
    `SELECT TABLE_NAME AS child, REFERENCED_TABLE_NAME AS parent FROM information_schema.REFERENTIAL_CONSTRAINTS
     WHERE CONSTRAINT_SCHEMA = ? AND UNIQUE_CONSTRAINT_SCHEMA = ?`,
    [target, target],
  );
  const dangling = rows.filter((r) => replaced.includes(String(r.parent)) && !replaced.includes(String(r.child)));
  if (dangling.length > 0) {
    const { child, parent } = dangling[0]!;
    throw new UsageError(
      `Table ${child} is not in the backup and has a foreign key to ${parent}, which the restore replaces. Nothing was changed.`,
      'Drop that table (or its foreign key) first, or restore into a new database with --to.',
    );
  }
}

/**
 * `--table`: the named tables' rows replaced by the scratch copy's, in one InnoDB transaction (their definitions,
 * indexes and triggers stay; the triggers fire on the copied rows).
 */
export async function copyTables(client: Connection, target: string, scratch: string, tables: string[]): Promise<void> {
  const [engines] = await client.query<RowDataPacket[]>(
    'SELECT TABLE_NAME AS name, ENGINE AS engine FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME IN (?)',
    [target, tables],
  );
  const nonTransactional = engines.filter((r) => String(r.engine).toLowerCase() !== 'innodb').map((r) => String(r.name));
  if (nonTransactional.length > 0) {
    throw new UsageError(
      `${nonTransactional.join(', ')} ${nonTransactional.length === 1 ? 'is' : 'are'} not InnoDB: replacing only some tables' rows could not be all or nothing. Nothing was changed.`,
      'Restore the whole backup (without --table): it swaps every table in at once.',
    );
  }
  await client.query('SET SESSION foreign_key_checks = 0');
  await client.query('START TRANSACTION');
  try {
    for (const table of tables) {
      const [columns] = await client.query<RowDataPacket[]>(
        `SELECT COLUMN_NAME AS name FROM information_schema.COLUMNS
         WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? AND EXTRA NOT LIKE '%GENERATED%' ORDER BY ORDINAL_POSITION`,
        [target, table],
      );
      const list = columns.map((c) => q(String(c.name))).join(', ');
      await client.query(`DELETE FROM ${q(target)}.${q(table)}`);
      await client.query(`INSERT INTO ${q(target)}.${q(table)} (${list}) SELECT ${list} FROM ${q(scratch)}.${q(table)}`);
    }
    await client.query('COMMIT');
  } catch (error) {
    await client.query('ROLLBACK').catch(() => {});
    throw error;
  } finally {
    await client.query('SET SESSION foreign_key_checks = 1').catch(() => {});
  }
}
