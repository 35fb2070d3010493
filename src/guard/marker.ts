import { UsageError } from '../errors.js';
import type { DatabaseEngine } from '../engines/types.js';

/**
 * dbguard's own key/value table, kept in the database so every clone of the code sees the marker. Its SQL is the
 * same on every engine: `key` is quoted (a reserved word in MySQL, whose engine reads double quotes as identifiers).
 */
export const MARKER_TABLE = '_dbguard';

const ENVIRONMENT_KEY = 'environment';
const NAME = /^[A-Za-z0-9_.-]{1,40}$/;

/** The database's environment marker (e.g. `production`); undefined when it has none. */
export async function readEnvironmentMarker(engine: DatabaseEngine): Promise<string | undefined> {
  const rows = await engine.selectRows(`SELECT value FROM ${MARKER_TABLE} WHERE "key" = '${ENVIRONMENT_KEY}'`);
  const value = rows?.[0]?.value;
  return typeof value === 'string' ? value : undefined;
}

/** Records `environment` in the database, creating the marker table when missing; undefined removes it. */
export async function writeEnvironmentMarker(engine: DatabaseEngine, environment: string | undefined): Promise<void> {
  if (environment !== undefined && !NAME.test(environment)) {
    throw new UsageError(`Invalid environment name "${environment}".`, 'Use letters, digits, ".", "_" or "-", e.g. --env production.');
  }
  const statements = [
    `CREATE TABLE IF NOT EXISTS ${MARKER_TABLE} ("key" VARCHAR(64) PRIMARY KEY, value TEXT NOT NULL)`,
    `DELETE FROM ${MARKER_TABLE} WHERE "key" = '${ENVIRONMENT_KEY}'`,
  ];
  if (environment !== undefined) statements.push(`INSERT INTO ${MARKER_TABLE} ("key", value) VALUES ('${ENVIRONMENT_KEY}', '${environment}')`);
  await engine.execute(statements.join('; '));
}

export function isProduction(environment: string | undefined): boolean {
  return environment !== undefined && /^prod(uction)?$/i.test(environment);
}
