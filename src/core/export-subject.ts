import type { SchemaTable } from '../engines/types.js';
import { UsageError } from '../errors.js';

export interface SubjectSpec {
  schema: { name: string; quoted: boolean } | null;
  table: { name: string; quoted: boolean };
  /** The text after `=`. */
  key: string;
}

const SYNTAX_HINT = 'Write --subject <table>=<key>, e.g. users=42, \'"User"=ck8x…\', auth.users=7, or a composite key as order_lines=order_id:1,line:2.';

/** `users=42`, `"User"=ck8x`, `auth."Users"=7`, `lines=order_id:1,line:2`. */
export function parseSubject(spec: string): SubjectSpec {
  let at = 0;
  const identifier = (): { name: string; quoted: boolean } => {
    if (spec[at] === '"') {
      let name = '';
      for (at++; at < spec.length; at++) {
        if (spec[at] === '"') {
          if (spec[at + 1] !== '"') break;
          at++;
        }
        name += spec[at];
      }
      if (spec[at] !== '"' || name === '') throw new UsageError(`Unterminated or empty quoted name in --subject ${spec}.`, SYNTAX_HINT);
      at++;
      return { name, quoted: true };
    }
    const match = /^[^.="]+/.exec(spec.slice(at));
    if (!match) throw new UsageError(`No table name in --subject ${spec}.`, SYNTAX_HINT);
    at += match[0].length;
    return { name: match[0].trim(), quoted: false };
  };
  const first = identifier();
  let schema: SubjectSpec['schema'] = null;
  let table = first;
  if (spec[at] === '.') {
    at++;
    schema = first;
    table = identifier();
  }
  if (spec[at] !== '=' || at + 1 >= spec.length) throw new UsageError(`--subject ${spec} has no key.`, SYNTAX_HINT);
  return { schema, table, key: spec.slice(at + 1) };
}

/** The table a spec names: an exact match, else the only one whose unquoted name matches without regard to case. */
export function resolveSubjectTable(spec: SubjectSpec, tables: SchemaTable[]): SchemaTable {
  const same = (actual: string | null, wanted: { name: string; quoted: boolean }, exact: boolean) =>
    actual !== null && (actual === wanted.name || (!exact && !wanted.quoted && actual.toLowerCase() === wanted.name.toLowerCase()));
  const matching = (exact: boolean) =>
    tables.filter((t) => same(t.name, spec.table, exact) && (spec.schema === null || same(t.schema, spec.schema, exact)));
  const exact = matching(true);
  const candidates = exact.length > 0 ? exact : matching(false);
  const shown = `${spec.schema ? `${spec.schema.name}.` : ''}${spec.table.name}`;
  if (candidates.length === 0) {
    throw new UsageError(`No table ${shown} in the database.`, `Its tables: ${tables.map((t) => t.id).slice(0, 20).join(', ') || 'none'}.`);
  }
  if (candidates.length > 1) {
    throw new UsageError(`${shown} names several tables: ${candidates.map((t) => t.id).join(', ')}.`, 'Qualify it with its schema (schema.table), or quote its exact name.');
  }
  return candidates[0]!;
}

/** The subject's primary key values, by column, from the spec's key text. */
export function subjectKey(table: SchemaTable, keyText: string): Record<string, string> {
  const pk = table.primaryKey;
  if (pk.length === 0) {
    throw new UsageError(`Table ${table.id} has no primary key: a subject must be one row named by its primary key.`, 'Add a primary key to the table, or export from the table that owns these rows.');
  }
  if (pk.length === 1) {
    const value = keyText.startsWith(`${pk[0]}:`) ? keyText.slice(pk[0]!.length + 1) : keyText;
    if (value === '') throw new UsageError(`The key of ${table.id} is empty.`);
    return { [pk[0]!]: value };
  }
  const key: Record<string, string> = {};
  for (const part of keyText.split(',')) {
    const colon = part.indexOf(':');
    if (colon > 0) key[part.slice(0, colon)] = part.slice(colon + 1);
  }
  const given = Object.keys(key);
  if (given.length !== pk.length || !pk.every((c) => c in key)) {
    throw new UsageError(`${table.id} has a composite primary key (${pk.join(', ')}): name every column.`, `e.g. --subject ${table.name}=${pk.map((c) => `${c}:…`).join(',')}`);
  }
  return key;
}
