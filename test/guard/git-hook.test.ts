import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { scanText } from '../../src/guard/scan.js';
import { CLI, runCli } from '../harness/cli.js';
import { tempDir } from '../harness/tmp.js';

/** A git repository where dbguard is "installed" as node_modules/.bin/dbguard, as npm would do. */
async function repository(): Promise<{ dir: string; git: (...args: string[]) => { status: number | null; stdout: string; stderr: string } }> {
  const dir = tempDir('dbguard-git-');
  const git = (...args: string[]) => spawnSync('git', args, { cwd: dir, encoding: 'utf8' as const, env: { ...process.env, NO_COLOR: '1' } });
  execFileSync('git', ['init', '-q', '-b', 'main'], { cwd: dir });
  git('config', 'user.name', 'Test');
  git('config', 'user.email', 'test@example.com');
  await mkdir(path.join(dir, 'node_modules', '.bin'), { recursive: true });
  await writeFile(path.join(dir, 'node_modules', '.bin', 'dbguard'), `#!/bin/sh\nexec "${process.execPath}" "${CLI}" "$@"\n`);
  chmodSync(path.join(dir, 'node_modules', '.bin', 'dbguard'), 0o755);
  await writeFile(path.join(dir, '.gitignore'), 'node_modules\n');
  await writeFile(path.join(dir, 'package.json'), JSON.stringify({ name: 'app', scripts: { build: 'tsc' } }, null, 2));
  git('add', '-A');
  expect(git('commit', '-qm', 'initial').status).toBe(0);
  return { dir, git };
}

describe('git pre-commit hook', () => {
  it('refuses a commit that adds a destructive command, with file and line; --no-verify and dbguard:allow override', async () => {
    const { dir, git } = await repository();
    await writeFile(path.join(dir, '.git', 'hooks', 'pre-commit'), '#!/bin/sh\necho "existing hook ran" >> hook.log\n');
    chmodSync(path.join(dir, '.git', 'hooks', 'pre-commit'), 0o755);
    const installed = await runCli(['init', '--git-hook'], { cwd: dir });
    expect(installed.code, installed.stderr).toBe(0);
    expect((await runCli(['init', '--git-hook'], { cwd: dir })).stdout).toContain('nothing to change');
    const hook = await readFile(path.join(dir, '.git', 'hooks', 'pre-commit'), 'utf8');
    expect(hook.match(/guard scan --staged/g)).toHaveLength(1);
    expect(hook).toContain('existing hook ran');

    await writeFile(
      path.join(dir, 'package.json'),
      JSON.stringify({ name: 'app', scripts: { build: 'tsc', 'db:reset': 'prisma migrate reset --force' } }, null, 2),
    );
    await mkdir(path.join(dir, '.github', 'workflows'), { recursive: true });
    await writeFile(
      path.join(dir, '.github', 'workflows', 'ci.yml'),
      'on: push\njobs:\n  test:\n    runs-on: ubuntu-latest\n    steps:\n      - run: npm ci\n      - run: |\n          echo "prisma migrate reset"\n          npx prisma db push --force-reset\n',
    );
    await writeFile(path.join(dir, 'Makefile'), 'reset:\n\t@psql -c "DROP TABLE users"\nok:\n\tnpx prisma generate\n');
    await writeFile(path.join(dir, 'Dockerfile'), 'FROM node:20\nRUN npm ci && \\\n    npx drizzle-kit push --force\nRUN echo done\n');
    await writeFile(path.join(dir, 'seed.sh'), '#!/bin/sh\nset -e\nnpx prisma generate\nrm -f prisma/dev.db\n');
    git('add', '-A');
    const refused = git('commit', '-m', 'add scripts');
    expect(refused.status).not.toBe(0);
    const output = `${refused.stdout}${refused.stderr}`;
    expect(output).toContain('package.json:5: prisma migrate reset --force');
    expect(output).toContain('.github/workflows/ci.yml:9: npx prisma db push --force-reset');
    expect(output).not.toContain('ci.yml:8');
    expect(output).toContain('Makefile:2: psql -c "DROP TABLE users"');
    expect(output).toContain('Dockerfile:2:');
    expect(output).toContain('seed.sh:4: rm -f prisma/dev.db');
    expect(output).toContain('git commit --no-verify');
    expect(git('log', '--oneline').stdout.trim().split('\n')).toHaveLength(1);
    expect(await readFile(path.join(dir, 'hook.log'), 'utf8').catch(() => '')).toBe('');

    await writeFile(
      path.join(dir, 'package.json'),
      JSON.stringify({ name: 'app', scripts: { build: 'tsc', 'db:reset': 'prisma migrate reset --force # dbguard:allow' } }, null, 2),
    );
    await writeFile(path.join(dir, 'Makefile'), 'reset:\n\t@psql -c "DROP TABLE users" # dbguard:allow\n');
    await writeFile(path.join(dir, 'Dockerfile'), 'FROM node:20\n# dbguard:allow\nRUN npx drizzle-kit push --force\n');
    await writeFile(path.join(dir, 'seed.sh'), '#!/bin/sh\nrm -f prisma/dev.db # dbguard:allow\n');
    git('add', '-A');
    const stillRefused = git('commit', '-m', 'allowed lines');
    expect(`${stillRefused.stdout}${stillRefused.stderr}`).toContain('ci.yml:9');
    expect(`${stillRefused.stdout}${stillRefused.stderr}`).not.toContain('package.json:');

    const forced = git('commit', '--no-verify', '-m', 'override');
    expect(forced.status).toBe(0);
    expect(git('log', '--oneline').stdout.trim().split('\n')).toHaveLength(2);

    await writeFile(path.join(dir, 'notes.sh'), '#!/bin/sh\necho "never run prisma migrate reset"\nnpx dbguard run -- prisma migrate reset --force\n');
    git('add', 'notes.sh');
    const clean = git('commit', '-m', 'harmless');
    expect(clean.status, `${clean.stdout}${clean.stderr}`).toBe(0);
    expect(await readFile(path.join(dir, 'hook.log'), 'utf8')).toContain('existing hook ran');
  });

  it('scans what is staged, not the working tree', async () => {
    const { dir, git } = await repository();
    await runCli(['init', '--git-hook'], { cwd: dir });
    await writeFile(path.join(dir, 'wipe.sh'), '#!/bin/sh\ndropdb app\n');
    git('add', 'wipe.sh');
    await writeFile(path.join(dir, 'wipe.sh'), '#!/bin/sh\necho fine\n');
    const result = git('commit', '-m', 'staged dropdb');
    expect(result.status).not.toBe(0);
    expect(`${result.stdout}${result.stderr}`).toContain('wipe.sh:2: dropdb app');
  });

  it('dbguard guard scan reports files given on the command line (exit 3) and is quiet on clean ones', async () => {
    const dir = tempDir('dbguard-scan-');
    await writeFile(path.join(dir, 'Makefile'), 'build:\n\tnpx prisma generate\n');
    expect((await runCli(['guard', 'scan', 'Makefile'], { cwd: dir })).code).toBe(0);
    await writeFile(path.join(dir, 'Makefile'), 'reset:\n\tnpx prisma migrate reset --force\n');
    const result = await runCli(['guard', 'scan', '--json', 'Makefile'], { cwd: dir });
    expect(result.code).toBe(3);
    expect(JSON.parse(result.stdout).findings).toEqual([expect.objectContaining({ file: 'Makefile', line: 2, command: 'npx prisma migrate reset --force' })]);
  });

  it('reads CI workflows with a YAML parser: flow style and quoted scalars', async () => {
    const yaml = 'jobs: {deploy: {steps: [{run: "supabase db reset"}, {name: x, run: echo hi}]}}\n';
    const findings = await scanText('.github/workflows/deploy.yaml', yaml, tempDir());
    expect(findings).toEqual([expect.objectContaining({ line: 1, command: 'supabase db reset' })]);
    expect(await scanText('docs/example.yml', yaml, tempDir())).toEqual([]);
  });
});
