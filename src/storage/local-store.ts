import { promises as fs } from 'node:fs';
import path from 'node:path';
import { DbguardError } from '../errors.js';
import { BACKUP_TYPES, type BackupManifest, type BackupType, type StoredBackup, parseManifest } from './manifest.js';
import { commitFile, ensurePrivateDir, fsyncDir, isAbandonedTemporary, isProcessAlive, writeFileAtomic } from './fs-atomic.js';

/** A backup being written: its id is taken, its files are not listed until `commit`. */
export interface Reservation {
  id: string;
  type: BackupType;
  dir: string;
  fileName: string;
  /** Where the data is written before it is complete. */
  partialPath: string;
  /** Free for an engine that needs an intermediate file (a SQLite snapshot). */
  scratchPath: string;
  finalPath: string;
  manifestPath: string;
  markerPath: string;
}

export interface StoreProblem {
  file: string;
  problem: string;
}

const MARKER = '.inprogress';
/** Bookkeeping that is not a backup: attempt history and markers of backups being read. */
const STATE_DIR = '.dbguard';
const LEFTOVER = /\.(partial|scratch)(-journal|-wal|-shm)?$/; // with SQLite's files beside a snapshot

export type AttemptScope = 'local' | 'remote';
const ATTEMPT_FILES: Record<AttemptScope, string> = { local: 'attempts.json', remote: 'remote-attempts.json' };

/**
 * Backups in a local folder: `<root>/<type>/<id>.<ext>` with `<id>.json` beside it.
 * A backup exists for readers only once its manifest does, and the manifest is written last.
 */
export class LocalBackupStore {
  constructor(readonly root: string) {}

  typeDir(type: BackupType): string {
    return path.join(this.root, type);
  }

  /** Takes the first free id, atomically (an exclusive create of its in-progress marker). */
  async reserve(type: BackupType, candidates: Iterable<string>, extension: string): Promise<Reservation> {
    const dir = this.typeDir(type);
    await ensurePrivateDir(this.root);
    await ensurePrivateDir(dir);
    let tries = 0;
    for (const id of candidates) {
      if (++tries > 1000) break;
      const reservation = reservationFor(dir, type, id, extension);
      if (await exists(reservation.manifestPath)) continue;
      if (await exists(reservation.finalPath)) continue;
      try {
        await fs.writeFile(reservation.markerPath, String(process.pid), { flag: 'wx', mode: 0o600 });
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'EEXIST') continue;
        throw error;
      }
      return reservation;
    }
    throw new DbguardError(`Could not find a free backup id in ${dir}.`);
  }

  /** Moves the data into place, then writes the manifest: the backup becomes visible. */
  async commit(reservation: Reservation, manifest: BackupManifest): Promise<StoredBackup> {
    await commitFile(reservation.partialPath, reservation.finalPath);
    await writeFileAtomic(reservation.manifestPath, `${JSON.stringify(manifest, null, 2)}\n`);
    await fs.rm(reservation.markerPath, { force: true });
    return { manifest, file: reservation.finalPath, manifestPath: reservation.manifestPath, location: 'local' };
  }

  /** Removes everything a failed or cancelled backup wrote. */
  async release(reservation: Reservation): Promise<void> {
    await Promise.all(
      [reservation.partialPath, reservation.scratchPath, `${reservation.scratchPath}-journal`].map((file) => fs.rm(file, { recursive: true, force: true })),
    );
    if (!(await exists(reservation.manifestPath))) await fs.rm(reservation.finalPath, { force: true });
    await fs.rm(reservation.markerPath, { force: true });
  }

  /** Deletes a backup: the manifest first, so a crash midway leaves a file that no longer lists. */
  async remove(stored: StoredBackup): Promise<void> {
    await fs.rm(stored.manifestPath, { force: true });
    await fs.rm(stored.file, { force: true });
    await fsyncDir(path.dirname(stored.file));
  }

  /**
   * Remembers the outcome of the latest backup attempt per database (retention stops after a failure); `remote`
   * keeps the attempts to put a backup in the bucket, which hold the remote retention.
   */
  async recordAttempt(databaseKey: string, attempt: { at: string; ok: boolean; error?: string }, scope: AttemptScope = 'local'): Promise<void> {
    if (!(await exists(this.root))) return; // no backups yet: nothing to protect, and nothing is written
    const attempts = await this.readAttempts(scope);
    attempts[databaseKey] = attempt;
    await ensurePrivateDir(path.join(this.root, STATE_DIR));
    await writeFileAtomic(path.join(this.root, STATE_DIR, ATTEMPT_FILES[scope]), `${JSON.stringify(attempts, null, 2)}\n`);
  }

  async readAttempts(scope: AttemptScope = 'local'): Promise<Record<string, { at: string; ok: boolean; error?: string }>> {
    try {
      return JSON.parse(await fs.readFile(path.join(this.root, STATE_DIR, ATTEMPT_FILES[scope]), 'utf8'));
    } catch {
      return {};
    }
  }

  /** Marks a backup as being read (by a restore) until `release`: pruning never deletes it meanwhile. */
  async markReading(id: string): Promise<() => Promise<void>> {
    const dir = path.join(this.root, STATE_DIR, 'reading');
    await ensurePrivateDir(dir);
    const marker = path.join(dir, `${id}.${process.pid}`);
    await fs.writeFile(marker, '', { mode: 0o600 });
    return () => fs.rm(marker, { force: true });
  }

  /** Ids of backups a live process is reading. */
  async idsBeingRead(): Promise<Set<string>> {
    const names = await readdirIfExists(path.join(this.root, STATE_DIR, 'reading'));
    const ids = new Set<string>();
    for (const name of names) {
      const [id, pid] = [name.slice(0, name.lastIndexOf('.')), Number(name.slice(name.lastIndexOf('.') + 1))];
      if (isProcessAlive(pid)) ids.add(id);
      else await fs.rm(path.join(this.root, STATE_DIR, 'reading', name), { force: true });
    }
    return ids;
  }

  /**
   * A private folder on the backups' disk for decoded copies of backups while they are restored or checked (the
   * system's temporary folder may be small or in memory). Each user makes its own `<pid>-*` folder in it.
   */
  async stagingDir(): Promise<string> {
    const dir = path.join(this.root, STATE_DIR, 'staging');
    await ensurePrivateDir(dir);
    return dir;
  }

  async updateManifest(stored: StoredBackup, manifest: BackupManifest): Promise<StoredBackup> {
    await writeFileAtomic(stored.manifestPath, `${JSON.stringify(manifest, null, 2)}\n`);
    return { ...stored, manifest };
  }

  /** Every complete backup (newest first), and what is wrong with anything else in the folder. */
  async list(): Promise<{ backups: StoredBackup[]; problems: StoreProblem[] }> {
    const backups: StoredBackup[] = [];
    const problems: StoreProblem[] = [];
    for (const type of BACKUP_TYPES) {
      const dir = this.typeDir(type);
      const names = await readdirIfExists(dir);
      const manifestIds = new Set<string>();
      for (const name of names.filter((n) => n.endsWith('.json'))) {
        const manifestPath = path.join(dir, name);
        try {
          const manifest = parseManifest(JSON.parse(await fs.readFile(manifestPath, 'utf8')));
          manifestIds.add(manifest.id);
          const file = path.join(dir, manifest.fileName);
          if (!(await exists(file))) {
            problems.push({ file: manifestPath, problem: `its data file ${manifest.fileName} is missing` });
            continue;
          }
          backups.push({ manifest, file, manifestPath, location: 'local' });
        } catch (error) {
          problems.push({ file: manifestPath, problem: `unreadable manifest (${describeParseError(error)})` });
        }
      }
      for (const name of names) {
        if (name.endsWith('.json') || name.startsWith('.') || LEFTOVER.test(name) || name.endsWith(MARKER)) continue;
        const id = idOf(name);
        if (!manifestIds.has(id) && !names.includes(`${id}${MARKER}`)) {
          problems.push({ file: path.join(dir, name), problem: 'no manifest: an incomplete backup, not listed (safe to delete)' });
        }
      }
    }
    backups.sort((a, b) => b.manifest.createdAt.localeCompare(a.manifest.createdAt) || b.manifest.id.localeCompare(a.manifest.id));
    return { backups, problems };
  }

  /**
   * Deletes what interrupted runs left behind (their process is gone): partial data, snapshots, data files whose
   * manifest was never written, and temporary files of manifests and bookkeeping. Returns the paths removed.
   */
  async cleanupInterrupted(): Promise<string[]> {
    const removed: string[] = [];
    for (const dir of [path.join(this.root, STATE_DIR), ...BACKUP_TYPES.map((type) => this.typeDir(type))]) {
      for (const name of (await readdirIfExists(dir)).filter(isAbandonedTemporary)) {
        await fs.rm(path.join(dir, name), { force: true });
        removed.push(path.join(dir, name));
      }
    }
    for (const type of BACKUP_TYPES) {
      const dir = this.typeDir(type);
      const names = await readdirIfExists(dir);
      const live = new Set<string>();
      for (const name of names.filter((n) => n.endsWith(MARKER))) {
        const id = name.slice(0, -MARKER.length);
        const pid = Number(await fs.readFile(path.join(dir, name), 'utf8').catch(() => 'NaN'));
        if (Number.isInteger(pid) && pid > 0 && isProcessAlive(pid)) {
          live.add(id);
          continue;
        }
        for (const other of names) {
          if (other !== name && idOf(other) === id && !names.includes(`${id}.json`)) {
            await fs.rm(path.join(dir, other), { recursive: true, force: true });
            removed.push(path.join(dir, other));
          }
        }
        await fs.rm(path.join(dir, name), { force: true });
        removed.push(path.join(dir, name));
      }
      for (const name of names.filter((n) => LEFTOVER.test(n))) {
        if (live.has(idOf(name)) || removed.includes(path.join(dir, name))) continue;
        await fs.rm(path.join(dir, name), { recursive: true, force: true });
        removed.push(path.join(dir, name));
      }
    }
    const staging = path.join(this.root, STATE_DIR, 'staging');
    for (const name of await readdirIfExists(staging)) {
      const pid = Number(name.split('-')[0]);
      if (Number.isInteger(pid) && pid > 0 && isProcessAlive(pid)) continue;
      await fs.rm(path.join(staging, name), { recursive: true, force: true });
      removed.push(path.join(staging, name));
    }
    return removed;
  }
}

function reservationFor(dir: string, type: BackupType, id: string, extension: string): Reservation {
  const fileName = `${id}${extension}`;
  return {
    id,
    type,
    dir,
    fileName,
    partialPath: path.join(dir, `${fileName}.partial`),
    scratchPath: path.join(dir, `${id}.scratch`),
    finalPath: path.join(dir, fileName),
    manifestPath: path.join(dir, `${id}.json`),
    markerPath: path.join(dir, `${id}${MARKER}`),
  };
}

/** The backup id a file in a type folder belongs to (ids never contain dots). */
function idOf(fileName: string): string {
  return fileName.split('.')[0] ?? fileName;
}

async function readdirIfExists(dir: string): Promise<string[]> {
  try {
    return await fs.readdir(dir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
}

async function exists(file: string): Promise<boolean> {
  try {
    await fs.access(file);
    return true;
  } catch {
    return false;
  }
}

function describeParseError(error: unknown): string {
  if (error instanceof SyntaxError) return 'invalid JSON';
  if (error && typeof error === 'object' && 'issues' in error && Array.isArray(error.issues)) {
    return error.issues
      .slice(0, 3)
      .map((issue: { path: PropertyKey[]; message: string }) => `${issue.path.join('.') || '(root)'}: ${issue.message}`)
      .join('; ');
  }
  return error instanceof Error ? error.message : String(error);
}
