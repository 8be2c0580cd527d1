/**
 * The layout of one region entry of a stage: its groups (each AZ, or the whole region) and the
 * cells inside each group. Scopes, the planner and the schema's limits all read a region entry
 * through this one function, so they agree on what the scopes are and in which order they go.
 */

/** An AZ as written: its id, or `{ az, cells }`. */
export type AzEntryLike = string | { az: string; cells?: readonly string[] | undefined };

/** A region entry as written: its name, or `{ region, azs?, cells? }`. */
export type RegionEntryLike =
  | string
  | {
      region: string;
      azs?: readonly AzEntryLike[] | undefined;
      cells?: readonly string[] | undefined;
    };

/** One AZ of a region (or the whole region when `az` is absent) and its cells (maybe none). */
export interface CellGroup {
  az?: string;
  cells: string[];
}

/** Where one scope is inside its region: an AZ, a cell, both, or neither (the whole region). */
export interface Placement {
  az?: string;
  cell?: string;
}

/** The AZ id of an AZ entry. */
export const azName = (entry: AzEntryLike): string =>
  typeof entry === "string" ? entry : entry.az;

/**
 * A region entry's groups, in deployment order.
 *
 * @example
 * regionLayout({ region: "us-east-1", azs: [{ az: "use1-az1", cells: ["c1", "c2"] }] })
 * // { region: "us-east-1", groups: [{ az: "use1-az1", cells: ["c1", "c2"] }] }
 */
export function regionLayout(entry: RegionEntryLike): { region: string; groups: CellGroup[] } {
  if (typeof entry === "string") return { region: entry, groups: [{ cells: [] }] };
  const azs = entry.azs ?? [];
  if (azs.length === 0)
    return { region: entry.region, groups: [{ cells: [...(entry.cells ?? [])] }] };
  return {
    region: entry.region,
    groups: azs.map((a) =>
      typeof a === "string" ? { az: a, cells: [] } : { az: a.az, cells: [...(a.cells ?? [])] },
    ),
  };
}

const placement = (az: string | undefined, cell?: string): Placement => ({
  ...(az ? { az } : {}),
  ...(cell ? { cell } : {}),
});

/** The scopes of one group, in order: one per cell, or the group itself when it has no cells. */
export function groupPlacements(group: CellGroup): Placement[] {
  return group.cells.length === 0
    ? [placement(group.az)]
    : group.cells.map((cell) => placement(group.az, cell));
}

/**
 * A group's deploy batches: its cells `cellsInParallel` at a time (a group without cells is one
 * batch of itself). Safety rule 1: never more than `cellsInParallel` cells of one AZ (or
 * region) at once.
 *
 * @example
 * groupBatches({ az: "use1-az1", cells: ["c1", "c2", "c3"] }, 2) // [[c1, c2], [c3]] (as placements)
 */
export function groupBatches(group: CellGroup, cellsInParallel = 1): Placement[][] {
  const all = groupPlacements(group);
  const size = Math.max(1, cellsInParallel);
  const out: Placement[][] = [];
  for (let i = 0; i < all.length; i += size) out.push(all.slice(i, i + size));
  return out;
}

/** Whether any region entry of a stage lists cells. */
export function stageHasCells(regions: readonly RegionEntryLike[]): boolean {
  return regions.some((r) => regionLayout(r).groups.some((g) => g.cells.length > 0));
}
