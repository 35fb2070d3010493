import os from 'node:os';

/**
 * A backup runs beside the application: it lowers its CPU priority by 10 (nice), so under contention the application
 * keeps the CPU and the backup takes what is left; on an idle machine nothing changes. Threads and tools started
 * afterwards (the SQLite snapshot, zstd, pg_dump) inherit it.
 */
export function yieldCpuToApplication(): void {
  try {
    os.setPriority(Math.min(19, os.getPriority() + 10));
  } catch {
    // Not permitted or not supported: run at the current priority.
  }
}
