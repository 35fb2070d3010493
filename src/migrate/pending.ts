import { existsSync, promises as fs, readFileSync } from 'node:fs';
import path from 'node:path';
import type { DatabaseEngine } from '../engines/types.js';
import { UsageError } from '../errors.js';

export type MigrationTool = 'prisma' | 'drizzle' | 'knex' | 'node-pg-migrate';

export interface Migration {
  name: string;
  /** Absolute path of its SQL file. */
  file: string;
}

export interface MigrationState {
  tool: MigrationTool;
  /** Where the migration files are. */
  folder: string;
  /** Every migration on disk, in order. */
  all: Migration[];
  applied: string[];
  pending: Migration[];
  lastApplied: string | null;
}

export interface ProjectTool {
  tool: MigrationTool;
  folder: string;
}

/** The project's migration tool: Prisma (prisma/schema.prisma or prisma.config.ts) or Drizzle (drizzle.config.*). */
export function detectTool(cwd: string): ProjectTool | undefined {
  if (existsSync(path.join(cwd, 'prisma', 'schema.prisma')) || existsSync(path.join(cwd, 'prisma.config.ts'))) {
    return { tool: 'prisma', folder: path.join(cwd, 'prisma', 'migrations') };
  }
  const drizzleConfig = ['drizzle.config.ts', 'drizzle.config.js', 'drizzle.config.mjs', 'drizzle.config.json'].find((f) => existsSync(path.join(cwd, f)));
  if (drizzleConfig) return { tool: 'drizzle', folder: path.join(cwd, drizzleOutFolder(path.join(cwd, drizzleConfig))) };
  if (['knexfile.js', 'knexfile.ts', 'knexfile.cjs', 'knexfile.mjs'].some((f) => existsSync(path.join(cwd, f)))) {
    return { tool: 'knex', folder: path.join(cwd, 'migrations') };
  }
  if (dependsOn(cwd, 'node-pg-migrate')) return { tool: 'node-pg-migrate', folder: path.join(cwd, 'migrations') };
  return undefined;
}

/**
 * The SQL dialect the project's migrations are written in, when no database is configured to tell: Prisma's
 * datasource provider or drizzle-kit's `dialect`; PostgreSQL otherwise.
 */
export function projectDialect(cwd: string): 'postgres' | 'sqlite' | 'mysql' {
  const prisma = /provider\s*=\s*"(\w+)"/.exec(readFileSafe(path.join(cwd, 'prisma', 'schema.prisma')).replace(/generator\s+\w+\s*\{[^}]*\}/g, ''))?.[1];
  const drizzleConfig = ['drizzle.config.ts', 'drizzle.config.js', 'drizzle.config.mjs', 'drizzle.config.json'].find((f) => existsSync(path.join(cwd, f)));
  const drizzle = drizzleConfig ? /\bdialect\W+(\w+)/.exec(readFileSafe(path.join(cwd, drizzleConfig)))?.[1] : undefined;
  const named = prisma ?? drizzle;
  if (named === 'mysql' || named === 'singlestore') return 'mysql';
  if (named === 'sqlite' || named === 'turso') return 'sqlite';
  return 'postgres';
}

function dependsOn(cwd: string, pkg: string): boolean {
  try {
    const manifest = JSON.parse(readFileSync(path.join(cwd, 'package.json'), 'utf8')) as Record<string, Record<string, string> | undefined>;
    return Boolean(manifest.dependencies?.[pkg] ?? manifest.devDependencies?.[pkg]);
  } catch {
    return false;
  }
}

/** The migration command each tool applies pending migrations with. */
export const DEFAULT_COMMANDS: Record<Exclude<MigrationTool, 'prisma'>, string[]> = {
  drizzle: ['npx', 'drizzle-kit', 'migrate'],
  knex: ['npx', 'knex', 'migrate:latest'],
  'node-pg-migrate': ['npx', 'node-pg-migrate', 'up'],
};

/**
 * drizzle-kit's `out` folder (default ./drizzle). Evaluating the TypeScript config would run user code, so only a
 * literal `out: '...'` is read; anything else falls back to the default (and --migrations overrides both).
 */
function drizzleOutFolder(configFile: string): string {
  const text = readFileSafe(configFile);
  const literal = /\bout\s*:\s*(['"`])([^'"`]+)\1/.exec(text)?.[2] ?? /"out"\s*:\s*"([^"]+)"/.exec(text)?.[1];
  return literal ?? 'drizzle';
}

function readFileSafe(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}

/** Migrations on disk against those recorded in the database (`exists` false: a database yet to be created). */
export async function migrationState(engine: DatabaseEngine, project: ProjectTool, exists: boolean): Promise<MigrationState> {
  const all = await MIGRATIONS_ON_DISK[project.tool](project.folder);
  const applied = !exists ? [] : await APPLIED[project.tool](engine, all);
  const pending = all.filter((m) => !applied.includes(m.name));
  return { ...project, all, applied, pending, lastApplied: applied.at(-1) ?? null };
}

const MIGRATIONS_ON_DISK: Record<MigrationTool, (folder: string) => Promise<Migration[]>> = {
  prisma: prismaMigrations,
  drizzle: drizzleMigrations,
  // knex records file names with their extension; node-pg-migrate without.
  knex: (folder) => migrationFiles(folder, (file) => file),
  'node-pg-migrate': (folder) => migrationFiles(folder, (file) => file.replace(/\.[^.]+$/, '')),
};

const APPLIED: Record<MigrationTool, (engine: DatabaseEngine, all: Migration[]) => Promise<string[]>> = {
  prisma: (engine) => prismaApplied(engine),
  drizzle: drizzleApplied,
  knex: (engine) => namesIn(engine, 'SELECT name FROM knex_migrations ORDER BY id'),
  'node-pg-migrate': (engine) => namesIn(engine, 'SELECT name FROM pgmigrations ORDER BY run_on, id'),
};

async function namesIn(engine: DatabaseEngine, sql: string): Promise<string[]> {
  return ((await engine.selectRows(sql)) ?? []).map((r) => String(r.name));
}

/** One file per migration (JavaScript, TypeScript or SQL), in name order. */
async function migrationFiles(folder: string, nameOf: (file: string) => string): Promise<Migration[]> {
  return (await readdirOrEmpty(folder))
    .filter((f) => /\.(js|cjs|mjs|ts|sql)$/.test(f))
    .sort()
    .map((f) => ({ name: nameOf(f), file: path.join(folder, f) }));
}

async function prismaMigrations(folder: string): Promise<Migration[]> {
  const entries = await readdirOrEmpty(folder);
  const migrations: Migration[] = [];
  for (const name of entries.sort()) {
    const file = path.join(folder, name, 'migration.sql');
    if (existsSync(file)) migrations.push({ name, file });
  }
  return migrations;
}

/** Applied = finished and not rolled back, in `_prisma_migrations` (absent table: nothing applied). */
async function prismaApplied(engine: DatabaseEngine): Promise<string[]> {
  const rows = await engine.selectRows(
    'SELECT migration_name FROM _prisma_migrations WHERE finished_at IS NOT NULL AND rolled_back_at IS NULL ORDER BY migration_name',
  );
  return (rows ?? []).map((r) => String(r.migration_name));
}

interface DrizzleJournal {
  entries: Array<{ idx: number; tag: string; when: number }>;
}

async function drizzleMigrations(folder: string): Promise<Array<Migration & { when: number }>> {
  const journalFile = path.join(folder, 'meta', '_journal.json');
  let journal: DrizzleJournal;
  try {
    journal = JSON.parse(await fs.readFile(journalFile, 'utf8')) as DrizzleJournal;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw new UsageError(`${journalFile} is not a readable drizzle-kit journal: ${(error as Error).message}`);
  }
  return journal.entries
    .sort((a, b) => a.idx - b.idx)
    .map((e) => ({ name: e.tag, file: path.join(folder, `${e.tag}.sql`), when: e.when }));
}

/**
 * drizzle-kit records each applied migration's journal timestamp in `__drizzle_migrations.created_at` (schema
 * `drizzle` on PostgreSQL); a migration is applied when the newest recorded timestamp is at or after its own.
 */
async function drizzleApplied(engine: DatabaseEngine, all: Migration[]): Promise<string[]> {
  const table = engine.kind === 'postgres' ? 'drizzle.__drizzle_migrations' : '__drizzle_migrations';
  const rows = await engine.selectRows(`SELECT max(created_at) AS last FROM ${table}`);
  const last = rows?.[0]?.last == null ? undefined : Number(rows[0].last);
  if (last === undefined) return [];
  return (all as Array<Migration & { when: number }>).filter((m) => m.when <= last).map((m) => m.name);
}

async function readdirOrEmpty(dir: string): Promise<string[]> {
  try {
    return await fs.readdir(dir);
  } catch {
    return [];
  }
}
