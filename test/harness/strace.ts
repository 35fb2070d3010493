import { spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { CLI, type CliResult } from './cli.js';

/** One system call of a traced run, as strace -y printed it (file descriptors shown with their paths). */
export interface Syscall {
  call: string;
  /** The path of the file descriptor (fsync, write) or the path arguments (rename, unlink). */
  paths: string[];
  result: string;
}

export function requireStrace(): void {
  if (spawnSync('strace', ['-V']).status !== 0) throw new Error('strace is missing: apt-get install strace (bash .ci/run installs it)');
}

/**
 * Runs the CLI under strace, following every thread and child. `inject` is strace's -e inject= expression (a signal
 * delivered on entering a system call: the call itself never runs). libuv gets one thread, so that every fs call of
 * dbguard's own counts in one sequence (strace counts calls per thread).
 */
export function tracedCli(
  args: string[],
  options: { cwd: string; env?: Record<string, string | undefined>; trace: string; inject?: string; paths?: string[] },
): Promise<CliResult & { calls: Syscall[] }> {
  const log = path.join(options.cwd, `strace-${Date.now()}-${Math.random().toString(36).slice(2)}.log`);
  const straceArgs = ['-f', '-qq', '-y', '-s', '512', '-o', log, '-e', `trace=${options.trace}`];
  // -P: only calls on these paths are traced, counted and injected.
  for (const file of options.paths ?? []) straceArgs.push('-P', file);
  // Stopping only at the traced calls (seccomp) is much faster, but strace 6.1 then delivers no injected signal.
  straceArgs.push(...(options.inject ? ['-e', `inject=${options.inject}`] : ['--seccomp-bpf']));
  const env = { ...process.env, DATABASE_URL: undefined, NO_COLOR: '1', UV_THREADPOOL_SIZE: '1', ...options.env };
  return new Promise((resolve, reject) => {
    const child = spawn('strace', [...straceArgs, process.execPath, CLI, ...args], { cwd: options.cwd, env: env as NodeJS.ProcessEnv, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr, calls: parseTrace(readFileSync(log, 'utf8')) }));
  });
}

/** Parses `pid call(args) = result` lines; calls split across threads (`<unfinished ...>`) are joined. */
export function parseTrace(text: string): Syscall[] {
  const pending = new Map<string, string>();
  const calls: Syscall[] = [];
  for (const line of text.split('\n')) {
    const unfinished = /^(\d+)\s+(.*) <unfinished \.\.\.>$/.exec(line);
    if (unfinished) {
      pending.set(unfinished[1]!, unfinished[2]!);
      continue;
    }
    const resumed = /^(\d+)\s+<\.\.\. \w+ resumed>(.*)$/.exec(line);
    const full = resumed ? `${pending.get(resumed[1]!) ?? ''}${resumed[2]}` : /^\d+\s+(.*)$/.exec(line)?.[1];
    if (resumed) pending.delete(resumed[1]!);
    const parsed = full && /^(\w+)\((.*)\)\s+=\s+(.*)$/.exec(full);
    if (!parsed) continue;
    const [, call, argText, result] = parsed;
    const paths = [...argText!.matchAll(/<([^<>]*)>|"((?:[^"\\]|\\.)*)"/g)].map((m) => m[1] ?? m[2]!);
    calls.push({ call: call!, paths, result: result! });
  }
  return calls;
}
