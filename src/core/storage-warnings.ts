import { promises as fs } from 'node:fs';
import prettyBytes from 'pretty-bytes';

export const DEFAULT_SIZE_WARNING_MB = 1024;

/** Warnings when the backups folder has grown past `limitBytes`, or the disk could not hold another backup. */
export async function storageWarnings(root: string, totalBytes: number, lastBackupBytes: number, limitBytes: number): Promise<string[]> {
  const warnings: string[] = [];
  if (totalBytes > limitBytes) {
    warnings.push(
      `The backups in ${root} take ${prettyBytes(totalBytes)}, more than the ${prettyBytes(limitBytes)} warning size ` +
        '(sizeWarningMB). Review the retention policy or run `dbguard prune --dry-run`.',
    );
  }
  const { bavail, bsize } = await fs.statfs(root);
  const free = bavail * bsize;
  if (free < lastBackupBytes) {
    warnings.push(`Only ${prettyBytes(free)} free on the backups disk: the next backup (about ${prettyBytes(lastBackupBytes)}) will not fit.`);
  }
  return warnings;
}
