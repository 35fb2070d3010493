import type pg from 'pg';

/**
 * Every user object of the database that a dump could hold (schemas, extensions, tables, views, sequences, types,
 * functions), with the tag pg_restore --list gives it and the statement that drops it. Extension members, the
 * built-in extensions and sequences that belong to a column (serial, identity: they go with their table) are left
 * out, as pg_dump leaves them out.
 */
const USER_OBJECTS_SQL = `
  WITH user_schemas AS (
    SELECT n.oid, n.nspname FROM pg_namespace n
    WHERE n.nspname <> 'information_schema' AND n.nspname NOT LIKE 'pg\\_%'
      AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_namespace'::regclass AND d.objid = n.oid AND d.deptype = 'e')
  ), members AS (
    SELECT classid, objid FROM pg_depend WHERE deptype = 'e'
  )
  SELECT 'SCHEMA - ' || nspname AS tag, format('DROP SCHEMA IF EXISTS %I CASCADE', nspname) AS drop
    FROM user_schemas WHERE nspname <> 'public'
  UNION ALL
  SELECT 'EXTENSION - ' || extname, format('DROP EXTENSION IF EXISTS %I CASCADE', extname)
    FROM pg_extension WHERE oid >= 16384
  UNION ALL
  SELECT kind || ' ' || s.nspname || ' ' || c.relname, format('DROP %s IF EXISTS %I.%I CASCADE', kind, s.nspname, c.relname)
    FROM pg_class c JOIN user_schemas s ON s.oid = c.relnamespace
    CROSS JOIN LATERAL (SELECT CASE c.relkind WHEN 'v' THEN 'VIEW' WHEN 'm' THEN 'MATERIALIZED VIEW' WHEN 'S' THEN 'SEQUENCE'
                                              WHEN 'f' THEN 'FOREIGN TABLE' ELSE 'TABLE' END AS kind) k
    WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f')
      AND NOT EXISTS (SELECT 1 FROM members m WHERE m.classid = 'pg_class'::regclass AND m.objid = c.oid)
      AND NOT (c.relkind = 'S' AND EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid
                                            AND d.refclassid = 'pg_class'::regclass AND d.deptype IN ('a', 'i')))
  UNION ALL
  SELECT kind || ' ' || s.nspname || ' ' || t.typname, format('DROP %s IF EXISTS %I.%I CASCADE', kind, s.nspname, t.typname)
    FROM pg_type t JOIN user_schemas s ON s.oid = t.typnamespace
    CROSS JOIN LATERAL (SELECT CASE t.typtype WHEN 'd' THEN 'DOMAIN' ELSE 'TYPE' END AS kind) k
    WHERE (t.typtype IN ('e', 'd', 'r') OR (t.typtype = 'c' AND (SELECT relkind FROM pg_class WHERE oid = t.typrelid) = 'c'))
      AND NOT EXISTS (SELECT 1 FROM members m WHERE m.classid = 'pg_type'::regclass AND m.objid = t.oid)
  UNION ALL
  SELECT kind || ' ' || s.nspname || ' ' || p.proname || '(' || oidvectortypes(p.proargtypes) || ')',
         format('DROP %s IF EXISTS %I.%I(%s) CASCADE', kind, s.nspname, p.proname, args)
    FROM pg_proc p JOIN user_schemas s ON s.oid = p.pronamespace
    CROSS JOIN LATERAL (SELECT CASE p.prokind WHEN 'p' THEN 'PROCEDURE' WHEN 'a' THEN 'AGGREGATE' ELSE 'FUNCTION' END AS kind,
                               pg_get_function_identity_arguments(p.oid) AS args) k
    WHERE NOT EXISTS (SELECT 1 FROM members m WHERE m.classid = 'pg_proc'::regclass AND m.objid = p.oid)`;

/**
 * The statements that drop what the database holds and the dump does not (objects a failed migration created), so
 * that restoring the dump afterwards leaves exactly the dump's objects. `toc` is `pg_restore --list`'s output.
 * What CASCADE drops along with them and the dump does hold, the dump's own DROP/CREATE puts back.
 */
export async function dropsNotInDump(client: pg.Client, toc: string): Promise<string[]> {
  // A --list line: `<id>; <catalog oid> <oid> <TYPE> <schema or -> <name> <owner>`.
  const tags = toc
    .split('\n')
    .filter((line) => /^\d+;/.test(line))
    .map((line) => line.replace(/^\d+; \d+ \d+ /, ''));
  const inDump = (tag: string) => tags.some((line) => line.startsWith(`${tag} `));
  const { rows } = await client.query<{ tag: string; drop: string }>(USER_OBJECTS_SQL);
  return rows.filter((row) => !inDump(row.tag)).map((row) => row.drop);
}
