/** `allow` runs as is, `backup` runs after a backup, `block` can destroy data and needs a human's approval. */
export type Verdict = 'allow' | 'backup' | 'block';

export const VERDICTS: readonly Verdict[] = ['allow', 'backup', 'block'];

export interface Reason {
  /** Id of the rule that matched, e.g. `prisma-migrate-reset`. */
  rule: string;
  /** The resolved command chain, e.g. `npm run db:reset -> prisma migrate reset --force`. */
  command: string;
  message: string;
}

export interface Classification {
  verdict: Verdict;
  reasons: Reason[];
  /** Every command the line runs, as the chain that leads to it (`npm run build -> tsc -b`). */
  checked?: string[];
}

/** A finding before it is tied to the command that produced it. */
export interface Finding {
  rule: string;
  verdict: Verdict;
  message: string;
}

/** Reads a text file by absolute path; undefined when it cannot be read. */
export type ReadFile = (absolutePath: string) => string | undefined;

export function moreSevere(a: Verdict, b: Verdict): Verdict {
  return VERDICTS.indexOf(a) >= VERDICTS.indexOf(b) ? a : b;
}

export function worstVerdict(verdicts: Iterable<Verdict>): Verdict {
  let worst: Verdict = 'allow';
  for (const verdict of verdicts) worst = moreSevere(worst, verdict);
  return worst;
}
