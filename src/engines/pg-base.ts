/**
 * Base backups for point-in-time recovery: `pg_basebackup` of the whole server as one tar on stdout, without WAL
 * (`-X none`: the WAL comes from the replication slot that dbguard serve reads). Stored through the same pipeline as
 * every backup; restored only by recovering a temporary server (see core/pitr-restore.ts).
 */
import { createReadStream } from 'node:fs';
import { PassThrough, type Readable } from 'node:stream';
import { DbguardError } from '../errors.js';
import { PostgresEngine } from './postgres.js';
import { connectPg, pgToolEnv, spawnPgTool, waitForPgTool } from './pg-tools.js';
import type { BackupFormat, Dump, DumpOptions, RestoreSource, StagingOptions, TableCounts } from './types.js';

export interface BaseBackupInfo {
  startLsn: string;
  endLsn: string;
  timeline: number;
  walSegmentSize: number;
}

export class PgBaseBackupEngine extends PostgresEngine {
  /** Known once the dump completed. */
  info: BaseBackupInfo | undefined;

  override dumpFormat(): { format: BackupFormat; extension: string } {
    return { format: 'pg-base-tar', extension: '.base.tar' };
  }

  override async dump({ signal, nativeCompressionLevel }: DumpOptions): Promise<Dump> {
    const walSegmentSize = await this.walSegmentSize();
    const { Parser } = await import('tar');
    // --checkpoint=fast: the backup starts at once instead of after a spread checkpoint (minutes).
    const args = ['--pgdata=-', '--format=tar', '--wal-method=none', '--checkpoint=fast', '--no-password', '--label=dbguard'];
    if (nativeCompressionLevel !== undefined && nativeCompressionLevel > 0) args.push(`--compress=${nativeCompressionLevel}`);
    const child = spawnPgTool('pg_basebackup', args, pgToolEnv(this.connection));
    const cancel = () => child.kill('SIGTERM');
    signal?.addEventListener('abort', cancel, { once: true });
    // The tar is read as it passes: its backup_manifest (last) holds the WAL range the backup needs.
    const out = new PassThrough({ highWaterMark: 1 << 20 });
    const manifest = readBackupManifest(child.stdout!, Parser);
    child.stdout!.pipe(out);
    const completed = Promise.all([waitForPgTool('pg_basebackup', child), manifest])
      .then(([, text]) => {
        this.info = { ...parseWalRange(text), walSegmentSize };
        return { tables: {} as TableCounts };
      })
      .catch((error: unknown) => {
        throw describeBaseBackupError(error);
      })
      .finally(() => signal?.removeEventListener('abort', cancel));
    return { kind: 'stream', stream: out, completed, cancel };
  }

  private async walSegmentSize(): Promise<number> {
    const client = await connectPg(this.connection);
    try {
      const { rows } = await client.query<{ setting: string }>("SELECT setting FROM pg_settings WHERE name = 'wal_segment_size'");
      return Number(rows[0]!.setting);
    } finally {
      await client.end().catch(() => {});
    }
  }
}

/** The text of the tar's backup_manifest (pg_basebackup adds it at the end of a tar written to stdout). */
function readBackupManifest(tar: Readable, Parser: typeof import('tar').Parser): Promise<string> {
  return new Promise((resolve, reject) => {
    let text: string | undefined;
    const parser = new Parser({
      onReadEntry: (entry) => {
        if (entry.path !== 'backup_manifest') return entry.resume();
        const chunks: Buffer[] = [];
        entry.on('data', (chunk: Buffer) => chunks.push(chunk));
        entry.on('end', () => (text = Buffer.concat(chunks).toString('utf8')));
      },
    });
    parser.on('error', reject);
    parser.on('close', () => (text === undefined ? reject(new DbguardError('pg_basebackup wrote no backup_manifest: the WAL range of the base backup is unknown.')) : resolve(text)));
    tar.pipe(parser as unknown as NodeJS.WritableStream);
  });
}

/** The manifest's "WAL-Ranges": where the replay starts and the backup becomes consistent. */
export function parseWalRange(manifestText: string): { startLsn: string; endLsn: string; timeline: number } {
  const ranges = (JSON.parse(manifestText) as { 'WAL-Ranges'?: Array<{ Timeline: number; 'Start-LSN': string; 'End-LSN': string }> })['WAL-Ranges'];
  const range = ranges?.[0];
  if (!range) throw new DbguardError('The base backup manifest has no WAL range.');
  return { startLsn: range['Start-LSN'], endLsn: ranges!.at(-1)!['End-LSN'], timeline: range.Timeline };
}

function describeBaseBackupError(error: unknown): unknown {
  const message = (error as Error).message ?? '';
  if (/no pg_hba\.conf entry for replication connection|must be superuser or replication role|permission denied to start WAL sender|replication/i.test(message)) {
    return new DbguardError(`The server refused the base backup's replication connection: ${message.replace(/^pg_basebackup exited with code \d+:\s*/, '')}`, {
      hint: 'Run `dbguard pitr enable` to see what the server needs (a role with REPLICATION, a replication line in pg_hba.conf).',
      cause: error,
    });
  }
  return error;
}

/** A base backup's tar must hold backup_label (pg_basebackup writes it first): read through, nothing written. */
export async function checkBaseTar(source: RestoreSource, options: StagingOptions = {}): Promise<{ tables: TableCounts | undefined }> {
  const { extract } = await import('tar');
  const input: Readable = source.kind === 'file' ? createReadStream(source.path, { highWaterMark: 1 << 20 }) : await source.open();
  let label = false;
  const reader = extract({ filter: (name) => ((label ||= name === 'backup_label'), false), cwd: '/nonexistent' });
  await new Promise<void>((resolve, reject) => {
    const fail = (error: Error) => {
      input.destroy();
      reject(new DbguardError(`not a readable base backup: ${error.message}`));
    };
    reader.once('error', fail);
    input.once('error', fail);
    options.signal?.addEventListener('abort', () => fail(new Error('cancelled')), { once: true });
    reader.once('close', resolve);
    input.pipe(reader as unknown as NodeJS.WritableStream);
  });
  if (!label) throw new DbguardError('not a base backup: the archive has no backup_label');
  return { tables: undefined };
}
