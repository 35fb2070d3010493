import prettyBytes from 'pretty-bytes';
import type { BackupManifest } from '../storage/manifest.js';
import { totalRows } from '../core/table-counts.js';

export function formatBytes(bytes: number): string {
  return prettyBytes(bytes);
}

export function formatDate(iso: string): string {
  return iso.replace('T', ' ').replace(/\.\d{3}Z$/, 'Z');
}

export function formatDuration(ms: number): string {
  return ms < 1000 ? `${ms} ms` : `${(ms / 1000).toFixed(1)} s`;
}

export function verificationStatus(manifest: BackupManifest): string {
  if (!manifest.verification) return 'not verified';
  return manifest.verification.ok ? `verified ${formatDate(manifest.verifiedAt ?? '')}` : 'FAILED verification';
}

export function tableSummary(manifest: BackupManifest): string {
  const count = Object.keys(manifest.tables).length;
  return `${count} table${count === 1 ? '' : 's'}, ${totalRows(manifest.tables)} rows`;
}

/** Left-aligned columns separated by two spaces. */
export function columns(rows: string[][]): string {
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, cell.length)));
  return rows.map((row) => row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i]!))).join('  ')).join('\n');
}

/** `pg-custom, zstd, age-encrypted to age1...` */
export function describeStorage(manifest: BackupManifest): string {
  const parts: string[] = [manifest.format];
  if (manifest.compression !== 'none') parts.push(manifest.compression);
  if (manifest.encryption) {
    parts.push(manifest.encryption.passphrase ? 'age-encrypted with a passphrase' : `age-encrypted to ${manifest.encryption.recipients.join(', ')}`);
  }
  return parts.join(', ');
}

/** `s3://bucket/prefix/type/file` of a backup's remote copy. */
export function remoteObjectUrl(remote: NonNullable<BackupManifest['remote']>): string {
  const bucket = remote.url.replace(/^s3:\/\//, '').split('/')[0];
  return `s3://${bucket}/${remote.key}`;
}
