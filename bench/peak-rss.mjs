// Preloaded into the dbguard process (node --import): on exit, writes its peak RSS in kilobytes to
// $BENCH_PEAK_RSS_FILE. getrusage(RUSAGE_SELF) covers worker threads, not child processes (pg_dump, pg_restore).
import { writeFileSync } from 'node:fs';

const file = process.env.BENCH_PEAK_RSS_FILE;
if (file) process.on('exit', () => writeFileSync(file, String(process.resourceUsage().maxRSS)));
