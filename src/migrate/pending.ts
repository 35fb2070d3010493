import { existsSync, promises as fs, readFileSync } from 'node:fs';
import path from 'node:path';
import type { DatabaseEngine } from '../engines/types.js';
import { UsageError } from '../errors.js';

export type MigrationTool = 'prisma' | 'drizzle';

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
  return undefined;
}

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
  const all = project.tool === 'prisma' ? await prismaMigrations(project.folder) : await drizzleMigrations(project.folder);
  const applied = !exists ? [] : project.tool === 'prisma' ? await prismaApplied(engine) : await drizzleApplied(engine, all);
  const pending = all.filter((m) => !applied.includes(m.name));
  return { ...project, all, applied, pending, lastApplied: applied.at(-1) ?? null };
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
