import { type Stats, statSync } from 'node:fs';
import type { NamedDatabase } from '../config/databases.js';
import type { RemoteSettings } from '../config/remote.js';
import type { DatabaseTarget } from '../config/database-url.js';
import { engineFor } from '../engines/index.js';
import type { StoreProblem } from '../storage/local-store.js';
import type { BackupManifest, BackupType } from '../storage/manifest.js';
import { type CopyLocation, type FindBackupOptions, type ListedBackup, findBackup, listSources } from './find-backup.js';
import { retentionDatabaseKey } from './retention.js';
import { openSources } from './sources.js';

export interface ListOptions {
  dir?: string | undefined;
  type?: BackupType | undefined;
  /** The bucket holding remote copies, when one is configured. */
  remote?: RemoteSettings | undefined;
  /** Only local or only remote copies (default: both). */
  from?: CopyLocation | undefined;
  /** Only this database's backups. */
  database?: DatabaseTarget | undefined;
}

/** Complete backups, newest first, with where their copies are, and what else the stores hold that is not one. */
export async function listBackups(options: ListOptions = {}): Promise<{ backups: ListedBackup[]; problems: StoreProblem[] }> {
  const { backups, problems } = await listSources(openSources(options), options.from);
  const ofDatabase = databaseFilter(options.database);
  return { backups: backups.filter((b) => (!options.type || b.manifest.type === options.type) && ofDatabase(b.manifest)), problems };
}

/** One backup by id or `latest` (with `database`: that database's newest). */
export async function showBackup(options: ListOptions & { ref: string }): Promise<ListedBackup> {
  return findBackup(openSources(options), options.ref, { type: options.type, from: options.from, database: latestOf(options.database) });
}

/** What `latest` is narrowed to for `target` (its database's backups only); undefined: any database's. */
export function latestOf(target: DatabaseTarget | undefined): FindBackupOptions['database'] {
  return target ? { display: target.display, matches: databaseFilter(target) } : undefined;
}

/**
 * Matches manifests of `target`'s database (engine, host and name; all when undefined). A SQLite backup matches by
 * its file name unless the file it recorded is another database on this machine: backups made before the file was
 * recorded, or on another machine, or before the project moved, are still found.
 */
export function databaseFilter(target: DatabaseTarget | undefined): (manifest: BackupManifest) => boolean {
  if (!target) return () => true;
  const engine = engineFor(target);
  const { file, ...identity } = engine.identity();
  const key = retentionDatabaseKey({ engine: engine.kind, database: { ...identity, schema: null } });
  return (manifest) =>
    retentionDatabaseKey({ engine: manifest.engine, database: { ...manifest.database, schema: null, file: undefined } }) === key &&
    !isAnotherFile(manifest.database.file, file);
}

/** Whether `recorded` is a file on this machine other than `file` (the same file reached through a link is not). */
function isAnotherFile(recorded: string | undefined, file: string | undefined): boolean {
  if (!recorded || !file || recorded === file) return false;
  const there = statOf(recorded);
  if (!there) return false;
  const here = statOf(file);
  return !here || here.dev !== there.dev || here.ino !== there.ino;
}

function statOf(file: string): Stats | undefined {
  try {
    return statSync(file);
  } catch {
    return undefined;
  }
}

/** Whether two targets are the same database (its schema aside), as backups record it. */
export function sameDatabase(a: DatabaseTarget, b: DatabaseTarget): boolean {
  const key = (t: DatabaseTarget) => {
    const engine = engineFor(t);
    return retentionDatabaseKey({ engine: engine.kind, database: { ...engine.identity(), schema: null } });
  };
  return key(a) === key(b);
}

/** A backup and the name of the configured database it belongs to. */
export interface DatabaseBackup extends ListedBackup {
  databaseName: string;
}

/**
 * The backups of every configured database (each looked for in its own bucket too), newest first; backups of no
 * configured database are left out.
 */
export async function listDatabaseBackups(options: { databases: NamedDatabase[]; dir?: string | undefined }): Promise<{ backups: DatabaseBackup[]; problems: StoreProblem[] }> {
  const lists = await Promise.all(
    options.databases.map(async (database) => {
      const { backups, problems } = await listBackups({ dir: options.dir, remote: database.backup.remote, database: database.target });
      return { backups: backups.map((b) => ({ ...b, databaseName: database.name })), problems };
    }),
  );
  const seen = new Set<string>();
  const backups = lists
    .flatMap((l) => l.backups)
    .filter((b) => {
      const key = `${b.manifest.type}/${b.manifest.id}`;
      return !seen.has(key) && (seen.add(key), true);
    })
    .sort((a, b) => b.manifest.createdAt.localeCompare(a.manifest.createdAt) || b.manifest.id.localeCompare(a.manifest.id));
  const problems = [...new Map(lists.flatMap((l) => l.problems).map((p) => [JSON.stringify(p), p])).values()];
  return { backups, problems };
}
