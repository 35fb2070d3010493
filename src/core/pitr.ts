import type { NamedDatabase } from '../config/databases.js';
import { type PostgresConnection, engineName } from '../config/database-url.js';
import { PgBaseBackupEngine } from '../engines/pg-base.js';
import { connectPg, pgToolEnv, pgToolVersion, runPgTool } from '../engines/pg-tools.js';
import { DbguardError, ExitCode, UsageError } from '../errors.js';
import { S3WalStore } from '../storage/s3-wal-store.js';
import { LocalWalStore } from '../storage/wal-store.js';
import { type BackupResult, backup } from './backup.js';
import { type ListedBackup, listSources } from './find-backup.js';
import { databaseFilter } from './list.js';
import { type WindowChange, prune } from './prune.js';
import { type RestorableWindow, isBase, restorableWindow } from './pitr-window.js';
import { openSources } from './sources.js';
import { WalArchive } from './wal-archive.js';

/** The physical replication slot of a database: named after dbguard and the database. */
export function slotName(database: string): string {
  return `dbguard_${database.toLowerCase().replace(/[^a-z0-9_]/g, '_')}`.slice(0, 63);
}

export type PostgresDatabase = NamedDatabase & { target: { engine: 'postgres' } };

export function requirePostgres(database: NamedDatabase): PostgresDatabase {
  if (database.target.engine !== 'postgres') throw new UsageError(`Point-in-time recovery is for PostgreSQL; ${database.name} is a ${engineName(database.target.engine)} database.`);
  return database as PostgresDatabase;
}

export interface ServerCheck {
  what: string;
  ok: boolean;
  /** How to fix it, when not ok. */
  fix?: string | undefined;
}

const MANAGED =
  'Many managed services (Heroku, Supabase pooler, some Azure and Google plans) refuse replication connections: there point-in-time recovery cannot be used; scheduled backups keep working.';

/** Everything streaming the WAL needs from the server and this machine, each with its fix. */
export async function checkServer(connection: PostgresConnection): Promise<ServerCheck[]> {
  const client = await connectPg(connection);
  let settings: { replication: boolean; wal_level: string; senders: number; slots: number; major: number };
  try {
    const { rows } = await client.query<typeof settings>(`
      SELECT (SELECT rolreplication OR rolsuper FROM pg_roles WHERE rolname = current_user) AS replication,
             current_setting('wal_level') AS wal_level,
             current_setting('max_wal_senders')::int AS senders,
             current_setting('max_replication_slots')::int AS slots,
             current_setting('server_version_num')::int / 10000 AS major`);
    settings = rows[0]!;
  } finally {
    await client.end().catch(() => {});
  }
  const user = connection.user ?? '(default user)';
  const checks: ServerCheck[] = [
    {
      what: `role ${user} may replicate (REPLICATION)`,
      ok: settings.replication,
      fix: `As a superuser: ALTER ROLE ${user} REPLICATION; (${MANAGED})`,
    },
    {
      what: `wal_level is replica or logical (it is ${settings.wal_level})`,
      ok: settings.wal_level !== 'minimal',
      fix: 'Set wal_level = replica in postgresql.conf and restart the server.',
    },
    { what: `max_wal_senders > 0 (it is ${settings.senders})`, ok: settings.senders > 0, fix: 'Set max_wal_senders = 10 in postgresql.conf and restart the server.' },
    { what: `max_replication_slots > 0 (it is ${settings.slots})`, ok: settings.slots > 0, fix: 'Set max_replication_slots = 10 in postgresql.conf and restart the server.' },
  ];
  if (settings.replication) checks.push(await replicationConnectionCheck(connection, user));
  for (const tool of ['pg_basebackup', 'pg_receivewal'] as const) {
    const version = await pgToolVersion(tool).catch(() => undefined);
    checks.push({
      what: version ? `${tool} ${version.full} can read a PostgreSQL ${settings.major} server` : `${tool} is installed`,
      ok: version !== undefined && version.major >= settings.major,
      fix: `Install the PostgreSQL ${settings.major} client tools (apt-get install postgresql-client-${settings.major}) or set DBGUARD_PG_BINDIR.`,
    });
  }
  return checks;
}

/** A real replication connection (what pg_hba.conf decides), as pg_receivewal will make it. */
async function replicationConnectionCheck(connection: PostgresConnection, user: string): Promise<ServerCheck> {
  const what = 'pg_hba.conf allows a replication connection from here';
  try {
    await runPgTool('psql', ['--no-psqlrc', '--no-password', '--tuples-only', '--command=IDENTIFY_SYSTEM', '--dbname=replication=true'], { env: pgToolEnv(connection) });
    return { what, ok: true };
  } catch (error) {
    const message = (error as Error).message;
    const hba = /pg_hba\.conf/.test(message);
    return {
      what,
      ok: false,
      fix: hba
        ? `Add a line to pg_hba.conf, e.g. "host replication ${user} <this machine's address>/32 scram-sha-256", then reload the server (SELECT pg_reload_conf()). (${MANAGED})`
        : `The server refused: ${message.split('\n').slice(-1)[0]!.trim()} (${MANAGED})`,
    };
  }
}

export interface EnableResult {
  slot: string;
  slotCreated: boolean;
  checks: ServerCheck[];
  base: BackupResult | null;
}

/** Checks the server, creates the slot (it holds the WAL from now on), and takes the first base backup when there is none. */
export async function enablePitr(options: { database: NamedDatabase; dir: string; signal?: AbortSignal | undefined; onWarning?: (message: string) => void }): Promise<EnableResult> {
  const database = requirePostgres(options.database);
  const { connection } = database.target;
  const checks = await checkServer(connection);
  const failed = checks.filter((c) => !c.ok);
  if (failed.length > 0) {
    throw new DbguardError(
      `Point-in-time recovery cannot be enabled for ${database.name} yet; the server needs:\n${failed.map((c) => `  - ${c.what}\n    fix: ${c.fix}`).join('\n')}`,
      { exitCode: ExitCode.usage, hint: 'Fix these, then run `dbguard pitr enable` again. Nothing was changed.' },
    );
  }
  const slot = slotName(database.name);
  const slotCreated = await ensureSlot(connection, slot);
  const bases = await baseBackupsOf(database, options.dir);
  const base = bases.length > 0 ? null : await takeBaseBackup({ database, dir: options.dir, signal: options.signal, onWarning: options.onWarning });
  return { slot, slotCreated, checks, base };
}

/** Creates the physical slot, reserving WAL at once; false when it existed. */
export async function ensureSlot(connection: PostgresConnection, slot: string): Promise<boolean> {
  const client = await connectPg(connection);
  try {
    const { rowCount } = await client.query('SELECT 1 FROM pg_replication_slots WHERE slot_name = $1', [slot]);
    if (rowCount) return false;
    await client.query('SELECT pg_create_physical_replication_slot($1, true)', [slot]);
    return true;
  } catch (error) {
    throw new DbguardError(`Could not create the replication slot ${slot}: ${(error as Error).message}`, { hint: MANAGED });
  } finally {
    await client.end().catch(() => {});
  }
}

/** Drops the slot: the server stops holding WAL for dbguard. */
export async function disablePitr(options: { database: NamedDatabase }): Promise<{ slot: string; dropped: boolean }> {
  const database = requirePostgres(options.database);
  const slot = slotName(database.name);
  const client = await connectPg(database.target.connection);
  try {
    const { rows } = await client.query<{ active: boolean; pid: number | null }>('SELECT active, active_pid AS pid FROM pg_replication_slots WHERE slot_name = $1', [slot]);
    if (rows.length === 0) return { slot, dropped: false };
    if (rows[0]!.active) {
      throw new DbguardError(`The replication slot ${slot} is in use (pid ${rows[0]!.pid} on the server): dbguard serve is streaming it.`, {
        hint: `Remove "pitr" from databases.${database.name} in the configuration (serve stops streaming at once), then run this again.`,
      });
    }
    await client.query('SELECT pg_drop_replication_slot($1)', [slot]);
    return { slot, dropped: true };
  } finally {
    await client.end().catch(() => {});
  }
}

/** `pg_basebackup` through the backup pipeline, then retention with the restorable window in mind (its WAL pruned too). */
export async function takeBaseBackup(options: {
  database: NamedDatabase;
  dir: string;
  signal?: AbortSignal | undefined;
  onWarning?: ((message: string) => void) | undefined;
  /** Bytes of the base backup read so far. */
  onProgress?: ((bytes: number) => void) | undefined;
}): Promise<BackupResult & { windows: WindowChange[] }> {
  const database = requirePostgres(options.database);
  const engine = new PgBaseBackupEngine(database.target.connection, database.target.schema);
  const { compression, encryption, retention, remote } = database.backup;
  const result = await backup({
    target: database.target,
    engine,
    dir: options.dir,
    type: 'base',
    description: 'base backup for point-in-time recovery',
    // A base backup is an uncompressed tar: compress it unless the configuration says otherwise.
    compression: compression ?? { algorithm: 'zstd' },
    encryption,
    retention: false, // pruned below, knowing what the restorable window needs
    remote,
    signal: options.signal,
    onWarning: options.onWarning,
    onProgress: options.onProgress,
    base: () => ({ ...engine.info!, consistentAt: new Date().toISOString() }),
  });
  if (!retention) return { ...result, windows: [] };
  try {
    const outcome = await prune({ dir: options.dir, policies: retention.policies, timeZone: retention.timeZone, remote, pitr: [database] });
    return { ...result, pruned: outcome.deleted, prunedRemote: outcome.remote?.deleted ?? [], windows: [...outcome.windows, ...(outcome.remote?.windows ?? [])] };
  } catch (error) {
    const warning = `The retention policy was not applied: ${(error as Error).message}`;
    options.onWarning?.(warning);
    return { ...result, warnings: [...result.warnings, warning], windows: [] };
  }
}

/** This database's base backups in the local folder and the bucket, newest first (a local copy preferred). */
export async function baseBackupsOf(database: NamedDatabase, dir: string): Promise<ListedBackup[]> {
  const sources = openSources({ dir, remote: database.backup.remote });
  const { backups } = await listSources(sources).catch(async (error: unknown) => {
    // The bucket unreachable: the local base backups still recover what the local WAL reaches.
    if (!sources.remote) throw error;
    return listSources(sources, 'local');
  });
  const ours = databaseFilter(database.target);
  return backups.filter((b) => isBase(b) && ours(b.manifest));
}

/** The database's WAL archive: the local folder, and the bucket when the database's backups go to one. */
export function walArchiveOf(database: NamedDatabase, dir: string): WalArchive {
  const sources = openSources({ dir, remote: database.backup.remote });
  const local = new LocalWalStore(sources.local.root, database.name);
  return new WalArchive(local, sources.remote && new S3WalStore(sources.remote, database.name), database.backup.remote?.keepLocal ?? true);
}

export interface PitrStatus {
  database: string;
  slot: string;
  window: RestorableWindow;
  /** Milliseconds since the newest restorable point. */
  lagMs: number | null;
  server: { slotExists: boolean; active: boolean; retainedBytes: number | null } | { error: string };
  walObjects: number;
  walBytes: number;
  /** Where the WAL archive is. */
  walWhere: string;
  /** Objects of the archive that cannot be used (or a bucket that cannot be read). */
  problems: string[];
}

export async function pitrStatus(options: { database: NamedDatabase; dir: string; now?: Date }): Promise<PitrStatus> {
  const database = requirePostgres(options.database);
  const now = options.now ?? new Date();
  const slot = slotName(database.name);
  const archive = walArchiveOf(database, options.dir);
  const [bases, { objects, problems }] = await Promise.all([baseBackupsOf(database, options.dir), archive.list()]);
  const window = restorableWindow(bases, objects);
  return {
    database: database.name,
    slot,
    window,
    lagMs: window.newest ? Math.max(0, now.getTime() - Date.parse(window.newest)) : null,
    server: await slotState(database.target.connection, slot).catch((error: unknown) => ({ error: (error as Error).message })),
    walObjects: objects.length,
    walBytes: objects.reduce((sum, o) => sum + o.object.size, 0),
    walWhere: archive.remote ? (archive.writers.includes(archive.local) ? `${archive.local.dir} and ${archive.remote.display}` : archive.remote.display) : archive.local.dir,
    problems,
  };
}

/** Whether the slot exists and is being read, and how much WAL it holds back on the server. */
export async function slotState(connection: PostgresConnection, slot: string): Promise<{ slotExists: boolean; active: boolean; retainedBytes: number | null }> {
  const client = await connectPg(connection);
  try {
    const { rows } = await client.query<{ active: boolean; retained: string | null }>(
      'SELECT active, pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn)::bigint AS retained FROM pg_replication_slots WHERE slot_name = $1',
      [slot],
    );
    if (rows.length === 0) return { slotExists: false, active: false, retainedBytes: null };
    return { slotExists: true, active: rows[0]!.active, retainedBytes: rows[0]!.retained === null ? null : Number(rows[0]!.retained) };
  } finally {
    await client.end().catch(() => {});
  }
}
