/**
 * A realistic schema for personal-data exports, in PostgreSQL and SQLite: Prisma-style "User" (mixed case, text ids,
 * a self-reference), profiles, posts, comments by several users (with replies), reactions, orders and order items
 * pointing at products, a tag join table without a key, an audit log with nullable references, messages between
 * users, a Prisma implicit many-to-many table, teams and memberships referencing each other (a cycle), a composite
 * key and, on PostgreSQL, a second schema. Subject: "User" u1. EXPECTED lists exactly what belongs to u1.
 */
export function exportSchemaSql(engine: 'postgres' | 'sqlite', withData = true): string {
  const pg = engine === 'postgres';
  const ddl = `
    CREATE TABLE "User" (id TEXT PRIMARY KEY, email TEXT NOT NULL, "passwordHash" TEXT, "invitedById" TEXT REFERENCES "User"(id), avatar ${pg ? 'BYTEA' : 'BLOB'}, "createdAt" ${pg ? 'TIMESTAMPTZ' : 'TEXT'});
    CREATE TABLE profiles (id INTEGER PRIMARY KEY, user_id TEXT UNIQUE REFERENCES "User"(id), bio TEXT);
    CREATE TABLE posts (id INTEGER PRIMARY KEY, author_id TEXT NOT NULL REFERENCES "User"(id), title TEXT);
    CREATE TABLE comments (id INTEGER PRIMARY KEY, post_id INTEGER NOT NULL REFERENCES posts(id), author_id TEXT REFERENCES "User"(id),
      parent_id INTEGER REFERENCES comments(id), body TEXT);
    CREATE TABLE reactions (id INTEGER PRIMARY KEY, comment_id INTEGER NOT NULL REFERENCES comments(id), user_id TEXT REFERENCES "User"(id), kind TEXT);
    CREATE TABLE products (id INTEGER PRIMARY KEY, name TEXT);
    CREATE TABLE orders (id INTEGER PRIMARY KEY, user_id TEXT NOT NULL REFERENCES "User"(id), total BIGINT);
    CREATE TABLE order_items (order_id INTEGER NOT NULL REFERENCES orders(id), line INTEGER NOT NULL, product_id INTEGER REFERENCES products,
      qty INTEGER, PRIMARY KEY (order_id, line));
    CREATE TABLE tags (id INTEGER PRIMARY KEY, name TEXT);
    CREATE TABLE post_tags (post_id INTEGER NOT NULL REFERENCES posts(id), tag_id INTEGER NOT NULL REFERENCES tags(id));
    CREATE TABLE audit_log (id INTEGER PRIMARY KEY, user_id TEXT REFERENCES "User"(id), post_id INTEGER REFERENCES posts(id), action TEXT);
    CREATE TABLE messages (id INTEGER PRIMARY KEY, sender_id TEXT NOT NULL REFERENCES "User"(id), recipient_id TEXT NOT NULL REFERENCES "User"(id), body TEXT);
    CREATE TABLE "Category" (id INTEGER PRIMARY KEY, name TEXT);
    CREATE TABLE "_CategoryToPost" ("A" INTEGER NOT NULL REFERENCES "Category"(id), "B" INTEGER NOT NULL REFERENCES posts(id));
    CREATE UNIQUE INDEX "_CategoryToPost_AB_unique" ON "_CategoryToPost"("A", "B");
    CREATE TABLE teams (id INTEGER PRIMARY KEY, name TEXT, owner_membership_id INTEGER${pg ? '' : ' REFERENCES memberships(id)'});
    CREATE TABLE memberships (id INTEGER PRIMARY KEY, team_id INTEGER NOT NULL REFERENCES teams(id), user_id TEXT REFERENCES "User"(id));
    ${pg ? 'ALTER TABLE teams ADD FOREIGN KEY (owner_membership_id) REFERENCES memberships(id);' : ''}
    ${pg ? `CREATE SCHEMA billing;
    CREATE TABLE billing.invoices (id INTEGER PRIMARY KEY, user_id TEXT NOT NULL REFERENCES "User"(id), api_token TEXT);
    CREATE TABLE billing."Line Items" (invoice_id INTEGER NOT NULL REFERENCES billing.invoices(id), n INTEGER NOT NULL, amount NUMERIC(10,2), PRIMARY KEY (invoice_id, n));
    CREATE TABLE billing.posts (id INTEGER PRIMARY KEY, note TEXT);` : ''}
    CREATE INDEX posts_author ON posts(author_id);
    CREATE INDEX comments_post ON comments(post_id);
  `;
  return withData ? ddl + sampleData(pg) : ddl;
}

function sampleData(pg: boolean): string {
  return `
    INSERT INTO "User" VALUES ('u3', 'u3@example.com', 'h3', NULL, NULL, ${pg ? "'2024-01-02 03:04:05.123456+00'" : "'2024-01-02'"});
    INSERT INTO "User" VALUES ('u1', 'u1@example.com', 'secret-hash-1', 'u3', ${pg ? "'\\x00ff10'::bytea" : "X'00FF10'"}, ${pg ? "'2024-05-06 07:08:09+02'" : "'2024-05-06'"});
    INSERT INTO "User" VALUES ('u2', 'u2@example.com', 'h2', 'u1', NULL, NULL);
    INSERT INTO profiles VALUES (1, 'u1', 'hello'), (2, 'u2', 'other');
    INSERT INTO posts VALUES (10, 'u1', 'mine'), (11, 'u2', 'theirs');
    INSERT INTO comments VALUES
      (100, 10, 'u1', NULL, 'own comment on own post'),
      (101, 10, 'u2', NULL, 'another user on my post'),
      (102, 11, 'u1', NULL, 'my comment on their post'),
      (103, 10, NULL, 101, 'anonymous on my post'),
      (104, 11, NULL, 102, 'anonymous reply to my comment'),
      (105, 11, NULL, 101, 'anonymous reply to their comment'),
      (106, 11, 'u2', 102, 'their reply to my comment'),
      (107, 11, NULL, 104, 'anonymous reply, two levels below my comment');
    INSERT INTO reactions VALUES (1, 100, 'u2', 'like'), (2, 101, 'u1', 'like'), (3, 104, NULL, 'wow'), (4, 105, NULL, 'sad');
    INSERT INTO products VALUES (1, 'pen'), (2, 'ink'), (3, 'paper');
    INSERT INTO orders VALUES (500, 'u1', 9007199254740993), (501, 'u2', 3);
    INSERT INTO order_items VALUES (500, 1, 1, 2), (500, 2, 2, 1), (501, 1, 3, 5);
    INSERT INTO tags VALUES (1, 'a'), (2, 'b');
    INSERT INTO post_tags VALUES (10, 1), (11, 2);
    INSERT INTO audit_log VALUES (1, 'u1', NULL, 'login'), (2, NULL, 10, 'post viewed'), (3, NULL, NULL, 'system'), (4, 'u2', 10, 'u2 viewed my post');
    INSERT INTO messages VALUES (1, 'u1', 'u2', 'hi'), (2, 'u2', 'u1', 'hello'), (3, 'u2', 'u3', 'not mine');
    INSERT INTO "Category" VALUES (1, 'news'), (2, 'misc');
    INSERT INTO "_CategoryToPost" VALUES (1, 10), (2, 11);
    INSERT INTO teams VALUES (1, 'my team', NULL), (2, 'their team', NULL);
    INSERT INTO memberships VALUES (10, 1, 'u1'), (11, 2, 'u2'), (12, 1, NULL), (13, 2, NULL), (14, 1, 'u2');
    UPDATE teams SET owner_membership_id = 10 WHERE id = 1;
    UPDATE teams SET owner_membership_id = 11 WHERE id = 2;
    ${pg ? `INSERT INTO billing.invoices VALUES (1, 'u1', 'tok-1'), (2, 'u2', 'tok-2');
    INSERT INTO billing."Line Items" VALUES (1, 1, 9.50), (1, 2, 0.50), (2, 1, 7.00);
    INSERT INTO billing.posts VALUES (10, 'same name, other schema, no foreign key');` : ''}
  `;
}

/** Rows of u1 per table (primary key values, or a description for tables without one), and references. */
export function expectedExport(engine: 'postgres' | 'sqlite') {
  const t = (name: string) => (engine === 'postgres' ? `public.${name}` : name);
  const rows: Record<string, string[]> = {
    [t('User')]: ['u1'],
    [t('profiles')]: ['1'],
    [t('posts')]: ['10'],
    [t('comments')]: ['100', '102', '103', '104', '107'],
    [t('reactions')]: ['2', '3'],
    [t('orders')]: ['500'],
    [t('order_items')]: ['500/1', '500/2'],
    [t('post_tags')]: ['10/1'],
    [t('audit_log')]: ['1', '2'],
    [t('messages')]: ['1', '2'],
    [t('_CategoryToPost')]: ['1/10'],
    [t('memberships')]: ['10', '12'],
    [t('teams')]: ['1'],
    ...(engine === 'postgres' ? { 'billing.invoices': ['1'], 'billing.Line Items': ['1/1', '1/2'] } : {}),
  };
  const references = [
    `${t('User')} id=u2`,
    `${t('User')} id=u3`,
    `${t('posts')} id=11`,
    `${t('comments')} id=101`,
    `${t('products')} id=1`,
    `${t('products')} id=2`,
    `${t('tags')} id=1`,
    `${t('Category')} id=1`,
  ].sort();
  return { rows, references };
}

/** The key of an exported row as listed in EXPECTED. */
export function rowKey(table: string, row: Record<string, unknown>): string {
  const name = table.slice(table.lastIndexOf('.') + 1);
  if (name === 'order_items') return `${row.order_id}/${row.line}`;
  if (name === 'post_tags') return `${row.post_id}/${row.tag_id}`;
  if (name === '_CategoryToPost') return `${row.A}/${row.B}`;
  if (name === 'Line Items') return `${row.invoice_id}/${row.n}`;
  return String(row.id);
}
