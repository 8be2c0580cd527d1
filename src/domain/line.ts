/**
 * The pipeline's line (safety rule 3, tightened): from the instant the first rollback of a
 * version starts, no deploy step of that version or of any newer version (which contains the bad
 * change) starts anywhere. The rollback's halt writes a stop in the same transaction as the run's
 * halt; every deploy step's write checks the line in its own transaction; an engineer's decision
 * on the halted run clears its stop in the same write as the decision.
 */

/** One run's rollback stopping its pipeline's line (safety rule 3). */
export interface LineStop {
  /** The arrival number of the run's version: it and every newer version start no deploy step. */
  seq: number;
  version: string;
  /** The scope whose rollback stopped the line. */
  scope: string;
  at: string;
}

/**
 * The pipeline's line (`PIPELINE#<name>` / `LINE`): the rollbacks stopping it, by run id, each
 * until an engineer's decision on that run. `stoppedAt` is the lowest of their arrival numbers
 * (absent: the line runs); a deploy step's write checks it in its own transaction.
 */
export interface LineState {
  pipeline: string;
  stops: Record<string, LineStop>;
  stoppedAt?: number;
  /** Compare-and-set token; 0 when the item was never written. */
  rev: number;
}

/** The line after adding or clearing `runId`'s stop; undefined when nothing changes. */
export function changedLine(
  line: LineState,
  runId: string,
  change: { stop?: LineStop; clear?: true },
): LineState | undefined {
  const stops = { ...line.stops };
  if (change.stop && !stops[runId]) stops[runId] = change.stop;
  else if (change.clear && stops[runId]) delete stops[runId];
  else return undefined;
  const seqs = Object.values(stops).map((s) => s.seq);
  const { stoppedAt: _old, ...rest } = line;
  return { ...rest, stops, ...(seqs.length ? { stoppedAt: Math.min(...seqs) } : {}) };
}

/** Whether the line lets a deploy step of the version at arrival `seq` start. */
export function lineOpenFor(line: Pick<LineState, "stoppedAt">, seq: number): boolean {
  return line.stoppedAt === undefined || line.stoppedAt > seq;
}
