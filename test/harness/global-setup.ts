import type { TestProject } from 'vitest/node';
import { type PgServer, startPostgres } from './postgres.js';

declare module 'vitest' {
  export interface ProvidedContext {
    pg: { host: string; port: number };
  }
}

let server: PgServer | undefined;

export async function setup(project: TestProject): Promise<void> {
  server = await startPostgres();
  project.provide('pg', { host: server.host, port: server.port });
}

export async function teardown(): Promise<void> {
  server?.stop();
}
