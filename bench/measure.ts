/** Runs one command, timed, and reads its peak resident memory. */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export interface Sample {
  seconds: number;
  /** Peak RSS in MB: of the node process itself for dbguard, of the largest process for a raw command. */
  rssMB: number | null;
  stdout: string;
  /** Killed after `timeoutMs` (the time is then the timeout). */
  timedOut: boolean;
}

const PEAK_RSS_HOOK = fileURLToPath(new URL('./peak-rss.mjs', import.meta.url));
const GNU_TIME = '/usr/bin/time';
const HAS_GNU_TIME = existsSync(GNU_TIME);
/** Running children, ended if the benchmark is interrupted. */
export const running = new Set<ChildProcess>();

/** Kills a child started with `detached: true` and everything it started (a raw command's pipeline). */
export function killGroup(child: ChildProcess, signal: NodeJS.Signals = 'SIGKILL'): void {
  try {
    process.kill(-child.pid!, signal);
  } catch {
    // already gone
  }
}

interface RunOptions {
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  timeoutMs?: number;
  /** A scratch file the peak RSS is written to. */
  rssFile: string;
  /** Written to the child's standard input (closed right after); none by default. */
  input?: string;
}

/** `node <cli> args`; the hook writes the node process's own peak RSS (worker threads included, children not). */
export function runDbguard(cli: string, args: string[], options: RunOptions): Promise<Sample> {
  const nodeArgs = (process.env.BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean); // e.g. --cpu-prof --cpu-prof-dir=/tmp/prof
  const env = { ...(options.env ?? process.env), BENCH_PEAK_RSS_FILE: options.rssFile };
  return timed(process.execPath, [...nodeArgs, '--import', PEAK_RSS_HOOK, cli, ...args], { ...options, env }, 'kilobytes-file');
}

/** `bash -c <command>` under GNU time: the peak RSS of its largest process (for a pipeline, its largest stage). */
export function runRaw(command: string, options: RunOptions): Promise<Sample> {
  if (!HAS_GNU_TIME) return timed('bash', ['-c', command], options, 'none');
  return timed(GNU_TIME, ['-f', '%M', '-o', options.rssFile, 'bash', '-c', command], options, 'kilobytes-file');
}

function timed(command: string, args: string[], options: RunOptions, rss: 'kilobytes-file' | 'none'): Promise<Sample> {
  rmSync(options.rssFile, { force: true });
  return new Promise((resolve, reject) => {
    const started = performance.now();
    // Its own process group, so a timeout ends the whole pipeline (an orphan would keep the pipes open).
    const child = spawn(command, args, { env: options.env, cwd: options.cwd, stdio: [options.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'], detached: true });
    running.add(child);
    if (options.input !== undefined) child.stdin!.end(options.input);
    let stdout = '';
    let stderr = '';
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr = (stderr + chunk).slice(-4000)));
    let timedOut = false;
    const timer = options.timeoutMs
      ? setTimeout(() => {
          timedOut = true;
          killGroup(child);
        }, options.timeoutMs)
      : undefined;
    child.once('error', reject);
    child.once('close', (code) => {
      const seconds = (performance.now() - started) / 1000;
      clearTimeout(timer);
      running.delete(child);
      if (code !== 0 && !timedOut) {
        reject(new Error(`${path.basename(args.find((a) => a.endsWith('.js')) ?? command)} ${args.slice(-6).join(' ')} exited ${code}:\n${stderr}`));
        return;
      }
      resolve({ seconds, rssMB: rss === 'none' || timedOut ? null : readKilobytes(options.rssFile), stdout, timedOut });
    });
  });
}

function readKilobytes(file: string): number | null {
  try {
    const lines = readFileSync(file, 'utf8').trim().split('\n');
    const kb = Number(lines[lines.length - 1]);
    return Number.isFinite(kb) ? kb / 1024 : null;
  } catch {
    return null;
  }
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** Quotes a value for bash. */
export function sh(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}
