import { createRequire } from 'node:module';
import type Database from 'better-sqlite3';
import { isNativeLoadError, nativeModuleError } from '../platform.js';

let Driver: typeof Database | undefined;

/**
 * Opens a SQLite file. better-sqlite3 is required on the first open (PostgreSQL commands never load it), and loads
 * its native module then: when that module was not built (install scripts blocked) the error names the fix instead
 * of listing the thirteen paths it looked in.
 */
export function openSqlite(file: string, options?: Database.Options): Database.Database {
  try {
    Driver ??= createRequire(import.meta.url)('better-sqlite3') as typeof Database;
    return new Driver(file, options);
  } catch (error) {
    throw isNativeLoadError(error) ? nativeModuleError('better-sqlite3', error) : error;
  }
}
