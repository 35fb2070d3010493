import type { SchemaTable } from '../engines/types.js';

/** `export` in the configuration: entries are `column`, `table.column` or `schema.table.column` (tables: `table`, `schema.table`). */
export interface ExportRules {
  /** Columns redacted in addition to those whose names look like secrets. */
  redact?: string[] | undefined;
  /** Columns kept although their names look like secrets (e.g. `token_count`). */
  include?: string[] | undefined;
  /** Tables or columns left out of the export. */
  exclude?: string[] | undefined;
}

export const REDACTED = '[redacted]';

const SECRET_WORDS = new Set(['password', 'passwd', 'pwd', 'passphrase', 'hash', 'hashed', 'token', 'secret', 'salt', 'otp', 'totp', 'hotp', 'mfa', 'apikey', 'credential', 'credentials', 'cvv', 'cvc']);
const SECRET_PAIRS = ['api_key', 'private_key', 'access_key', 'secret_key', 'recovery_code', 'recovery_codes', 'backup_codes'];

/** `passwordHash`, `reset_password_token`, `otp_secret`, `API-Key`: names that look like secrets. */
export function looksSecret(column: string): boolean {
  const words = column
    .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
    .toLowerCase()
    .split(/[^a-z0-9]+/)
    .filter(Boolean);
  const joined = `_${words.join('_')}_`;
  return words.some((w) => SECRET_WORDS.has(w)) || SECRET_PAIRS.some((pair) => joined.includes(`_${pair}_`));
}

function namesTable(entry: string, table: SchemaTable): boolean {
  const e = entry.toLowerCase();
  return e === table.id.toLowerCase() || e === table.name.toLowerCase();
}

function namesColumn(entry: string, table: SchemaTable, column: string, bare: boolean): boolean {
  const e = entry.toLowerCase();
  const c = column.toLowerCase();
  if (bare && e === c) return true;
  return e === `${table.id}.${column}`.toLowerCase() || e === `${table.name}.${column}`.toLowerCase();
}

export interface TableTreatment {
  excluded: boolean;
  /** Columns written, and which of them are redacted. */
  columns: Array<{ name: string; redacted: boolean }>;
}

/** What the rules make of a table's columns. */
export function treatTable(table: SchemaTable, rules: ExportRules): TableTreatment {
  if ((rules.exclude ?? []).some((e) => namesTable(e, table))) return { excluded: true, columns: [] };
  const listed = (entries: string[] | undefined, column: string) => (entries ?? []).some((e) => namesColumn(e, table, column, true));
  const columns = table.columns
    .filter((c) => !(rules.exclude ?? []).some((e) => namesColumn(e, table, c, false)))
    .map((name) => ({ name, redacted: listed(rules.redact, name) || (looksSecret(name) && !listed(rules.include, name)) }));
  return { excluded: false, columns };
}
