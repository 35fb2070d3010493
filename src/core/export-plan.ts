/**
 * Which rows belong to a subject (one row of one table), found through the foreign keys of the live schema, and the
 * SQL that streams them. Pure: a schema graph in, a plan and SQL text out.
 *
 * A row belongs to the subject when
 *  1. it is the subject's row;
 *  2. one of its foreign keys into the subject's table points at the subject;
 *  3. none of its foreign keys into the subject's table points anywhere (it has none, or they are NULL) and one of
 *     its foreign keys points at a row that belongs to the subject, transitively (cycles end: a row is added once).
 * So other rows of the subject's table never belong to it, and a row pointing at another row of the subject's table
 * (another user's comment on the subject's post) belongs to that row's owner. What exported rows point to and does
 * not belong to the subject (a product, a tag, the user who invited the subject) is listed as a reference.
 */
import type { ForeignKey, SchemaGraph, SchemaTable } from '../engines/types.js';

export interface PlanStep {
  table: SchemaTable;
  /** Foreign keys into the subject's table. */
  direct: ForeignKey[];
  /** Foreign keys to other tables whose rows can belong to the subject, outside this step's cycle. */
  parents: ForeignKey[];
  /** Foreign keys inside this step's cycle (a self-reference, or tables that reference each other). */
  cyclic: ForeignKey[];
  /** Which cycle the table is part of, or null. */
  cycle: number | null;
}

export interface ExportPlan {
  subject: SchemaTable;
  /** Tables (other than the subject's) whose rows can belong to the subject, each after those it depends on. */
  steps: PlanStep[];
  /** Every foreign key of the subject's table and of the steps' tables: what exported rows point to. */
  outgoing: ForeignKey[];
}

export type SqlDialect = 'postgres' | 'sqlite';

/** What a table's foreign keys make of it, given the subject's table. */
export function planExport(schema: SchemaGraph, subjectId: string): ExportPlan {
  const tables = new Map(schema.tables.map((t) => [t.id, t]));
  const subject = tables.get(subjectId);
  if (!subject) throw new Error(`No table ${subjectId} in the schema.`);

  // Tables with a chain of foreign keys to the subject's table that does not pass through it again.
  const reachable = new Set<string>();
  const queue = [subjectId];
  while (queue.length > 0) {
    const current = queue.shift()!;
    for (const fk of schema.foreignKeys) {
      if (fk.references.table === current && fk.table !== subjectId && !reachable.has(fk.table)) {
        reachable.add(fk.table);
        queue.push(fk.table);
      }
    }
  }
  const edges = (id: string) => schema.foreignKeys.filter((fk) => fk.table === id && reachable.has(fk.references.table));
  const components = stronglyConnected([...reachable].sort(), (id) => edges(id).map((fk) => fk.references.table));

  const steps: PlanStep[] = [];
  let cycles = 0;
  for (const component of components) {
    const members = new Set(component);
    const cyclic = component.length > 1 || edges(component[0]!).some((fk) => fk.references.table === component[0]);
    const cycle = cyclic ? cycles++ : null;
    for (const id of component.sort()) {
      const own = schema.foreignKeys.filter((fk) => fk.table === id);
      steps.push({
        table: tables.get(id)!,
        direct: own.filter((fk) => fk.references.table === subjectId),
        parents: own.filter((fk) => reachable.has(fk.references.table) && !members.has(fk.references.table)),
        cyclic: own.filter((fk) => members.has(fk.references.table)),
        cycle,
      });
    }
  }
  const exported = new Set([subjectId, ...reachable]);
  return { subject, steps, outgoing: schema.foreignKeys.filter((fk) => exported.has(fk.table)) };
}

/**
 * Tarjan's algorithm. Edges run from a table to the tables it references; a component is emitted after every
 * component it references, so each table comes after the tables its ownership depends on.
 */
function stronglyConnected(nodes: string[], next: (node: string) => string[]): string[][] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const result: string[][] = [];
  let counter = 0;
  const visit = (node: string): void => {
    index.set(node, counter);
    low.set(node, counter++);
    stack.push(node);
    onStack.add(node);
    for (const to of next(node)) {
      if (!index.has(to)) {
        visit(to);
        low.set(node, Math.min(low.get(node)!, low.get(to)!));
      } else if (onStack.has(to)) low.set(node, Math.min(low.get(node)!, index.get(to)!));
    }
    if (low.get(node) === index.get(node)) {
      const component: string[] = [];
      let member: string;
      do {
        member = stack.pop()!;
        onStack.delete(member);
        component.push(member);
      } while (member !== node);
      result.push(component);
    }
  };
  for (const node of nodes) if (!index.has(node)) visit(node);
  return result;
}

/** Foreign keys the traversal follows whose columns lead no index of their table: each makes the export scan it. */
export function unindexedForeignKeys(plan: ExportPlan): ForeignKey[] {
  return plan.steps.flatMap((step) =>
    [...step.direct, ...step.parents, ...step.cyclic].filter(
      (fk) => !step.table.indexes.some((index) => sameSet(index.slice(0, fk.columns.length), fk.columns)),
    ),
  );
}

function sameSet(a: string[], b: string[]): boolean {
  return a.length === b.length && a.every((x) => b.includes(x));
}

export interface RowQuery {
  table: string;
  sql: string;
}

export interface ReferenceQuery {
  /** The referenced table, and the referenced columns each result row holds (the rows' key). */
  table: string;
  columns: string[];
  sql: string;
}

export interface ExportQueries {
  /** The subject's row (existence check and its typed key). */
  subject: string;
  rows: RowQuery[];
  references: ReferenceQuery[];
}

interface Cte {
  name: string;
  sql: string;
  deps: string[];
}

/**
 * The SQL for a plan: one query per exported table, one per referenced table and key. Tables in `skip` are still
 * followed (rows below them can belong to the subject) but neither their rows nor what they point to are exported.
 */
export function exportQueries(plan: ExportPlan, dialect: SqlDialect, key: Record<string, string>, skip: ReadonlySet<string> = new Set()): ExportQueries {
  const q = quoteIdent;
  const relation = (t: SchemaTable) => (t.schema !== null ? `${q(t.schema)}.${q(t.name)}` : q(t.name));
  const literal = (value: string) =>
    dialect === 'postgres' ? `E'${value.replace(/\\/g, '\\\\').replace(/'/g, "''")}'` : `'${value.replace(/'/g, "''")}'`;
  const identity = (t: SchemaTable, alias: string) =>
    t.primaryKey.length > 0 ? t.primaryKey.map((c) => `${alias}.${q(c)}`) : [`${alias}.${dialect === 'postgres' ? 'ctid' : 'rowid'}`];
  const encode = (exprs: string[]) =>
    dialect === 'postgres' ? `CAST(ROW(${exprs.join(', ')}) AS TEXT)` : exprs.map((e) => `quote(${e})`).join(` || ',' || `);
  const cols = (alias: string, columns: string[]) => columns.map((c) => `${alias}.${q(c)}`);
  const tuple = (items: string[]) => (items.length === 1 ? items[0]! : `(${items.join(', ')})`);

  const subjectWhere = plan.subject.primaryKey.map((c) => `t.${q(c)} = ${literal(key[c]!)}`).join(' AND ');
  const ctes: Cte[] = [{ name: 'subject', sql: `SELECT t.* FROM ${relation(plan.subject)} t WHERE ${subjectWhere}`, deps: [] }];
  const index = new Map(plan.steps.map((step, i) => [step.table.id, i]));
  const source = (tableId: string) => (tableId === plan.subject.id ? 'subject' : `owned_${index.get(tableId)}`);
  /** `fk` of the row aliased `alias` points at a row of `source`. */
  const pointsInto = (fk: ForeignKey, alias: string, from: string) =>
    `${tuple(cols(alias, fk.columns))} IN (SELECT ${cols('o', fk.references.columns).join(', ')} FROM ${from} o)`;
  const pointsNowhere = (fk: ForeignKey, alias: string) => `(${cols(alias, fk.columns).map((c) => `${c} IS NULL`).join(' OR ')})`;

  /** Rules 2 and 3, without the cycle: which sources the condition reads. */
  const base = (step: PlanStep, alias: string): { sql: string; deps: string[] } => {
    const parts = step.direct.map((fk) => pointsInto(fk, alias, 'subject'));
    if (step.parents.length > 0) {
      const inherited = step.parents.map((fk) => pointsInto(fk, alias, source(fk.references.table))).join(' OR ');
      const nowhere = step.direct.map((fk) => pointsNowhere(fk, alias));
      parts.push(nowhere.length > 0 ? `(${nowhere.join(' AND ')} AND (${inherited}))` : `(${inherited})`);
    }
    const deps = [...(step.direct.length > 0 ? ['subject'] : []), ...step.parents.map((fk) => source(fk.references.table))];
    return { sql: parts.length > 0 ? parts.join(' OR ') : '1 = 0', deps };
  };

  // Columns other queries read from each table's owned rows.
  const needed = new Map<string, Set<string>>();
  for (const fk of plan.outgoing) {
    const set = needed.get(fk.references.table) ?? new Set<string>();
    fk.references.columns.forEach((c) => set.add(c));
    needed.set(fk.references.table, set);
  }

  const owned = new Map<string, { sql: string; deps: string[] }>();
  const cycles = new Map<number, PlanStep[]>();
  for (const step of plan.steps) if (step.cycle !== null) cycles.set(step.cycle, [...(cycles.get(step.cycle) ?? []), step]);
  const cycleDefined = new Set<number>();
  for (const [i, step] of plan.steps.entries()) {
    if (step.cycle === null) {
      owned.set(step.table.id, base(step, 't'));
    } else {
      if (!cycleDefined.has(step.cycle)) {
        cycleDefined.add(step.cycle);
        ctes.push(cycleCte(step.cycle, cycles.get(step.cycle)!));
      }
      owned.set(step.table.id, {
        sql: `${encode(identity(step.table, 't'))} IN (SELECT c.key_text FROM cycle_${step.cycle} c WHERE c.tbl = ${i})`,
        deps: [`cycle_${step.cycle}`],
      });
    }
    const columns = [...(needed.get(step.table.id) ?? [])];
    if (columns.length > 0) {
      const own = owned.get(step.table.id)!;
      ctes.push({ name: `owned_${i}`, sql: `SELECT ${cols('t', columns).join(', ')} FROM ${relation(step.table)} t WHERE ${own.sql}`, deps: own.deps });
    }
  }

  /** Rows of a cycle's tables: those that belong by rules 2 and 3, then rows pointing at them inside the cycle. */
  function cycleCte(cycle: number, members: PlanStep[]): Cte {
    const seeds = members.map((step) => {
      const own = base(step, 't');
      return { sql: `SELECT ${index.get(step.table.id)} AS tbl, ${encode(identity(step.table, 't'))} AS key_text FROM ${relation(step.table)} t WHERE ${own.sql}`, deps: own.deps };
    });
    const links = members.flatMap((step) =>
      step.cyclic.map((fk) => {
        const parent = plan.steps[index.get(fk.references.table)!]!.table;
        const on = fk.columns.map((c, k) => `p.${q(fk.references.columns[k]!)} = t.${q(c)}`).join(' AND ');
        const nowhere = step.direct.map((d) => pointsNowhere(d, 't'));
        return (
          `SELECT ${index.get(step.table.id)} AS tbl, ${encode(identity(step.table, 't'))} AS key_text, ` +
          `${index.get(parent.id)} AS parent_tbl, ${encode(identity(parent, 'p'))} AS parent_key ` +
          `FROM ${relation(step.table)} t JOIN ${relation(parent)} p ON ${on}${nowhere.length > 0 ? ` WHERE ${nowhere.join(' AND ')}` : ''}`
        );
      }),
    );
    const name = `cycle_${cycle}`;
    return {
      name: `${name}(tbl, key_text)`,
      sql:
        `${seeds.map((s) => s.sql).join(' UNION ')} UNION ` +
        `SELECT l.tbl, l.key_text FROM ${name} c JOIN (${links.join(' UNION ALL ')}) l ON l.parent_tbl = c.tbl AND l.parent_key = c.key_text`,
      deps: [...new Set(seeds.flatMap((s) => s.deps))],
    };
  }

  const cteName = (cte: Cte) => cte.name.replace(/\(.*$/, '');
  const byName = new Map(ctes.map((cte) => [cteName(cte), cte]));
  const withClause = (deps: string[]): string => {
    const wanted = new Set<string>();
    const add = (name: string) => {
      if (wanted.has(name)) return;
      wanted.add(name);
      byName.get(name)!.deps.forEach(add);
    };
    deps.forEach(add);
    const used = ctes.filter((cte) => wanted.has(cteName(cte)));
    return used.length > 0 ? `WITH RECURSIVE ${used.map((cte) => `${cte.name} AS (${cte.sql})`).join(', ')} ` : '';
  };

  const subjectOwn = { sql: subjectWhere, deps: [] as string[] };
  const ownOf = (tableId: string) => (tableId === plan.subject.id ? subjectOwn : owned.get(tableId)!);
  const exported = [plan.subject, ...plan.steps.map((s) => s.table)];
  const rows = exported.filter((t) => !skip.has(t.id)).map((table) => {
    const own = ownOf(table.id);
    return { table: table.id, sql: `${withClause(own.deps)}SELECT t.* FROM ${relation(table)} t WHERE ${own.sql}` };
  });

  // References: grouped by referenced table and columns, so each key is listed once.
  const groups = new Map<string, { table: string; columns: string[]; selects: string[]; deps: string[] }>();
  for (const fk of plan.outgoing.filter((f) => !skip.has(f.table) && !skip.has(f.references.table))) {
    const from = exported.find((t) => t.id === fk.table)!;
    const own = ownOf(fk.table);
    const target = fk.references.table;
    const ownable = target === plan.subject.id || index.has(target);
    const conditions = [`(${own.sql})`, ...cols('t', fk.columns).map((c) => `${c} IS NOT NULL`)];
    // NOT EXISTS rather than NOT IN: a NULL among the owned rows' columns must not hide a reference.
    if (ownable) {
      const match = fk.columns.map((c, k) => `o.${q(fk.references.columns[k]!)} = t.${q(c)}`).join(' AND ');
      conditions.push(`NOT EXISTS (SELECT 1 FROM ${source(target)} o WHERE ${match})`);
    }
    const select = `SELECT ${fk.columns.map((c, k) => `t.${q(c)} AS ${q(fk.references.columns[k]!)}`).join(', ')} FROM ${relation(from)} t WHERE ${conditions.join(' AND ')}`;
    const groupKey = JSON.stringify([target, fk.references.columns]);
    const group = groups.get(groupKey) ?? { table: target, columns: fk.references.columns, selects: [], deps: [] };
    group.selects.push(select);
    group.deps.push(...own.deps, ...(ownable ? [source(target)] : []));
    groups.set(groupKey, group);
  }
  const references = [...groups.values()].map((g) => ({
    table: g.table,
    columns: g.columns,
    sql: `${withClause(g.deps)}SELECT DISTINCT * FROM (${g.selects.join(' UNION ALL ')}) r`,
  }));
  return { subject: `SELECT ${cols('t', plan.subject.primaryKey).join(', ')} FROM ${relation(plan.subject)} t WHERE ${subjectWhere}`, rows, references };
}

export function quoteIdent(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}
