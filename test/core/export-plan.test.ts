import { describe, expect, it } from 'vitest';
import { decideRetention } from '../../src/core/retention.js';
import { exportQueries, planExport, unindexedForeignKeys } from '../../src/core/export-plan.js';
import { looksSecret, treatTable } from '../../src/core/export-redaction.js';
import { parseSubject, resolveSubjectTable, subjectKey } from '../../src/core/export-subject.js';
import type { ForeignKey, SchemaGraph, SchemaTable } from '../../src/engines/types.js';
import { UsageError } from '../../src/errors.js';

function table(id: string, primaryKey: string[] = ['id'], indexes: string[][] = [], columns: string[] = []): SchemaTable {
  const dot = id.indexOf('.');
  return { id, schema: dot === -1 ? null : id.slice(0, dot), name: id.slice(dot + 1), columns: [...new Set([...primaryKey, ...columns])], primaryKey, indexes: primaryKey.length > 0 ? [primaryKey, ...indexes] : indexes };
}
const fk = (from: string, columns: string[], to: string, references: string[] = ['id']): ForeignKey => ({ table: from, columns, references: { table: to, columns: references } });

/** users <- posts <- comments (self), orders <- items -> products, tags join, teams <-> memberships, an unrelated table. */
const SCHEMA: SchemaGraph = {
  tables: [
    table('users', ['id'], [], ['invited_by']),
    table('posts', ['id'], [['author_id']]),
    table('comments', ['id'], [['post_id'], ['author_id', 'post_id']]),
    table('products'),
    table('orders', ['id'], [['user_id']]),
    table('items', ['order_id', 'line'], [['product_id']]),
    table('tags'),
    table('post_tags', [], [['tag_id', 'post_id']]),
    table('teams'),
    table('memberships', ['id'], [['user_id'], ['team_id']]),
    table('settings', ['key']),
  ],
  foreignKeys: [
    fk('users', ['invited_by'], 'users'),
    fk('posts', ['author_id'], 'users'),
    fk('comments', ['post_id'], 'posts'),
    fk('comments', ['author_id'], 'users'),
    fk('comments', ['parent_id'], 'comments'),
    fk('orders', ['user_id'], 'users'),
    fk('items', ['order_id'], 'orders'),
    fk('items', ['product_id'], 'products'),
    fk('post_tags', ['post_id'], 'posts'),
    fk('post_tags', ['tag_id'], 'tags'),
    fk('teams', ['owner_membership_id'], 'memberships'),
    fk('memberships', ['team_id'], 'teams'),
    fk('memberships', ['user_id'], 'users'),
  ],
};

const describeStep = (plan: ReturnType<typeof planExport>) =>
  Object.fromEntries(
    plan.steps.map((s) => [
      s.table.id,
      {
        direct: s.direct.map((f) => f.columns.join()),
        parents: s.parents.map((f) => `${f.columns.join()}->${f.references.table}`),
        cyclic: s.cyclic.map((f) => `${f.columns.join()}->${f.references.table}`),
        cycle: s.cycle !== null,
      },
    ]),
  );

describe('planExport', () => {
  it('follows foreign keys into the subject\'s table, transitively, and nothing else', () => {
    const plan = planExport(SCHEMA, 'users');
    expect(describeStep(plan)).toEqual({
      posts: { direct: ['author_id'], parents: [], cyclic: [], cycle: false },
      comments: { direct: ['author_id'], parents: ['post_id->posts'], cyclic: ['parent_id->comments'], cycle: true },
      orders: { direct: ['user_id'], parents: [], cyclic: [], cycle: false },
      items: { direct: [], parents: ['order_id->orders'], cyclic: [], cycle: false },
      post_tags: { direct: [], parents: ['post_id->posts'], cyclic: [], cycle: false },
      memberships: { direct: ['user_id'], parents: [], cyclic: ['team_id->teams'], cycle: true },
      teams: { direct: [], parents: [], cyclic: ['owner_membership_id->memberships'], cycle: true },
    });
    // Products, tags and settings hold no rows of the subject: they are only referenced (or unrelated).
    expect(plan.steps.map((s) => s.table.id)).not.toContain('products');
    expect(plan.outgoing.map((f) => `${f.table}.${f.columns.join()}`)).toContain('items.product_id');
    expect(plan.outgoing.map((f) => `${f.table}.${f.columns.join()}`)).toContain('users.invited_by');
  });

  it('orders every table after the tables its rows depend on', () => {
    const order = planExport(SCHEMA, 'users').steps.map((s) => s.table.id);
    const before = (a: string, b: string) => order.indexOf(a) < order.indexOf(b);
    expect(before('posts', 'comments') && before('posts', 'post_tags') && before('orders', 'items')).toBe(true);
  });

  it('from another subject table, the users table is only referenced', () => {
    const plan = planExport(SCHEMA, 'orders');
    expect(plan.steps.map((s) => s.table.id)).toEqual(['items']);
    expect(plan.outgoing.map((f) => `${f.table}.${f.columns.join()}->${f.references.table}`).sort()).toEqual([
      'items.order_id->orders',
      'items.product_id->products',
      'orders.user_id->users',
    ]);
  });

  it('names the followed foreign keys that no index leads with', () => {
    expect(unindexedForeignKeys(planExport(SCHEMA, 'users')).map((f) => `${f.table}(${f.columns.join()})`).sort()).toEqual([
      'comments(parent_id)',
      'post_tags(post_id)',
      'teams(owner_membership_id)',
    ]);
  });

  it('writes one query per exported table, recursive where the schema has a cycle, quoting every name', () => {
    const schema: SchemaGraph = {
      tables: [table('auth.User'), table('public.Post "x"', ['id'])],
      foreignKeys: [fk('public.Post "x"', ['authorId'], 'auth.User')],
    };
    const queries = exportQueries(planExport(schema, 'auth.User'), 'postgres', { id: "o'neil\\" });
    expect(queries.subject).toBe(`SELECT t."id" FROM "auth"."User" t WHERE t."id" = E'o''neil\\\\'`);
    expect(queries.rows.map((r) => r.table)).toEqual(['auth.User', 'public.Post "x"']);
    expect(queries.rows[1]!.sql).toContain('FROM "public"."Post ""x""" t WHERE t."authorId" IN (SELECT o."id" FROM subject o)');
    const sqlite = exportQueries(planExport(SCHEMA, 'users'), 'sqlite', { id: '7' });
    expect(sqlite.rows.find((r) => r.table === 'comments')!.sql).toMatch(/^WITH RECURSIVE .*cycle_\d\(tbl, key_text\)/);
    expect(sqlite.rows.find((r) => r.table === 'orders')!.sql).not.toContain('cycle_');
  });
});

describe('subjects', () => {
  const tables = [table('public.users'), table('auth.users'), table('public.User'), table('public.Order', ['id'], []), table('public.lines', ['order_id', 'n'])];
  it.each([
    ['public.users=42', 'public.users', { id: '42' }],
    ['auth.users=id:7', 'auth.users', { id: '7' }],
    ['"User"=ck8x:1', 'public.User', { id: 'ck8x:1' }],
    ['order=9', 'public.Order', { id: '9' }],
    ['"public"."Order"=9', 'public.Order', { id: '9' }],
    ['lines=n:2,order_id:1', 'public.lines', { order_id: '1', n: '2' }],
  ])('%s', (spec, id, key) => {
    const parsed = parseSubject(spec);
    const found = resolveSubjectTable(parsed, tables);
    expect(found.id).toBe(id);
    expect(subjectKey(found, parsed.key)).toEqual(key);
  });
  it.each([
    ['users=1', /names several tables: public.users, auth.users/],
    ['"order"=1', /No table order/],
    ['lines=1', /composite primary key \(order_id, n\)/],
    ['users', /has no key/],
    ['"User=1', /Unterminated/],
  ])('refuses %s', (spec, message) => {
    expect(() => {
      const parsed = parseSubject(spec);
      subjectKey(resolveSubjectTable(parsed, tables), parsed.key);
    }).toThrow(message);
    expect(() => {
      const parsed = parseSubject(spec);
      subjectKey(resolveSubjectTable(parsed, tables), parsed.key);
    }).toThrow(UsageError);
  });
  it('refuses a table without a primary key', () => {
    expect(() => subjectKey(table('log', []), '1')).toThrow(/no primary key/);
  });
});

describe('redaction', () => {
  it.each([
    ['password', true], ['passwordHash', true], ['hashed_password', true], ['reset_password_token', true], ['otpSecret', true],
    ['salt', true], ['API-Key', true], ['refreshToken', true], ['recovery_codes', true],
    ['email', false], ['hashtag', false], ['name', false], ['tokenizer', false], ['passport_country', false], ['keyboard_layout', false],
  ])('%s looks secret: %s', (column, secret) => {
    expect(looksSecret(column)).toBe(secret);
  });
  it('adds, keeps and leaves out what the configuration says', () => {
    const users = table('public.users', ['id'], [], ['email', 'token_count', 'password', 'note']);
    expect(treatTable(users, { redact: ['users.email'], include: ['token_count'], exclude: ['public.users.note'] })).toEqual({
      excluded: false,
      columns: [
        { name: 'id', redacted: false },
        { name: 'email', redacted: true },
        { name: 'token_count', redacted: false },
        { name: 'password', redacted: true },
      ],
    });
    expect(treatTable(users, { exclude: ['users'] }).excluded).toBe(true);
  });
});

describe('retention', () => {
  it('never counts an export as the newest backup of the database', () => {
    const db = 'sqlite:///app.db';
    const decisions = decideRetention(
      [
        { id: 'export-new', type: 'export', createdAt: '2026-11-29T00:00:00Z', database: db, ok: true },
        { id: 'auto-old', type: 'automatic', createdAt: '2026-10-01T00:00:00Z', database: db, ok: true },
      ],
      { automatic: { maxAgeDays: 7 } },
      new Date('2026-11-30T00:00:00Z'),
      { inUse: new Set() },
    );
    expect(decisions.map((d) => `${d.id} ${d.action} ${d.rule}`)).toEqual(['export-new keep never-pruned', 'auto-old keep newest-successful']);
  });
});
