import type { DatabaseEngine } from '../engines/types.js';
import type { Finding } from './analyze.js';

export interface MeasuredFinding extends Finding {
  /** Rows or values this statement destroys in the live database; undefined when not measurable. */
  affected?: number | undefined;
  /** What `affected` counts, e.g. "non-null values". */
  unit?: string | undefined;
  /** Table rewrites: old columns the copy leaves behind. */
  lostColumns?: string[] | undefined;
  /** The SQL file it is in. */
  file?: string | undefined;
  /** Unallowed, and it destroys data (or the amount could not be measured). */
  needsConfirmation: boolean;
}

/** Measures each finding against the live database (or marks it unmeasured without one). */
export async function measureFindings(findings: Finding[], engine: DatabaseEngine | undefined): Promise<MeasuredFinding[]> {
  const measured: MeasuredFinding[] = [];
  for (const finding of findings) {
    const result = engine && finding.table ? await measureOne(finding, engine) : {};
    const affected = 'affected' in result ? result.affected : undefined;
    measured.push({ ...finding, ...result, needsConfirmation: !finding.allowed && (affected === undefined || affected > 0) });
  }
  return measured;
}

async function measureOne(finding: Finding, engine: DatabaseEngine): Promise<Partial<MeasuredFinding>> {
  const table = finding.table!;
  switch (finding.kind) {
    case 'drop-table':
    case 'truncate':
    case 'delete-without-where':
    case 'update-without-where':
      return { affected: await engine.measure({ table, rows: 'all' }), unit: 'rows' };
    case 'drop-column':
    case 'alter-column-type':
      return { affected: await engine.measure({ table, column: finding.column, rows: 'non-null' }), unit: 'non-null values' };
    case 'set-not-null':
      return { affected: await engine.measure({ table, column: finding.column, rows: 'null' }), unit: 'NULL values (the migration fails on them)' };
    case 'table-rewrite': {
      const columns = await liveColumns(engine, table.name);
      if (!columns) return {};
      const lostColumns = columns.filter((c) => !(finding.copiedColumns ?? []).includes(c));
      let affected = 0;
      for (const column of lostColumns) affected += (await engine.measure({ table, column, rows: 'non-null' })) ?? 0;
      return { affected, unit: 'non-null values in columns the copy drops', lostColumns };
    }
    default:
      return {};
  }
}

async function liveColumns(engine: DatabaseEngine, table: string): Promise<string[] | undefined> {
  const literal = `'${table.replace(/'/g, "''")}'`;
  const rows =
    engine.kind === 'sqlite'
      ? await engine.selectRows(`SELECT name FROM pragma_table_info(${literal})`)
      : await engine.selectRows(`SELECT column_name AS name FROM information_schema.columns WHERE table_name = ${literal}`);
  return rows && rows.length > 0 ? rows.map((r) => String(r.name)) : undefined;
}

/** `DROP COLUMN "User"."name": 12,034 non-null values` */
export function describeFinding(f: MeasuredFinding): string {
  const where = f.table ? `${f.table.schema ? `${f.table.schema}.` : ''}${f.table.name}${f.column ? `.${f.column}` : ''}` : '';
  const what = f.kind.toUpperCase().replace(/-/g, ' ');
  const amount = f.affected === undefined ? (f.kind === 'unparseable' ? 'could not be parsed' : 'not measured') : `${f.affected.toLocaleString('en-US')} ${f.unit}`;
  const lost = f.lostColumns && f.lostColumns.length > 0 ? ` (drops ${f.lostColumns.join(', ')})` : '';
  return `${what}${where ? ` ${where}` : ''}: ${amount}${lost}${f.allowed ? ' [allowed]' : ''}`;
}
