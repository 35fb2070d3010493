import Database from 'better-sqlite3';
import { isNativeLoadError, nativeModuleError } from '../platform.js';

/**
 * Opens a SQLite file. better-sqlite3 loads its native module at the first open: when that module was not built
 * (install scripts blocked) the error names the fix instead of listing the thirteen paths it looked in.
 */
export function openSqlite(file: string, options?: Database.Options): Database.Database {
  try {
    return new Database(file, options);
  } catch (error) {
    throw isNativeLoadError(error) ? nativeModuleError('better-sqlite3', error) : error;
  }
}
