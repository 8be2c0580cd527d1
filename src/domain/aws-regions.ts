/**
 * The AWS regions Breakwater knows, and the Availability Zone ids of each, as a static table (no
 * network: the pipeline schema runs in Lambda, in the CLI and in the browser). A typo such as
 * `us-est-1` is a schema error with "did you mean", instead of a region whose local time cannot
 * be known and whose run sits blocked until the horizon (issue 14).
 *
 * AZ ids (`use1-az1`) are the same in every account, unlike AZ names (`us-east-1a`); each
 * region's ids are `<prefix>-az<n>` for n from 1 to the count below. The count is the highest
 * id AWS has published for the region (a few ids inside that range are retired, e.g. apne1-az3
 * for new accounts; the table does not try to know which account sees which).
 *
 * A region AWS opens after this table was written is added here (one line); until then a
 * pipeline cannot name it (fail closed). Sources: AWS "Regions and Availability Zones" and the
 * AZ id lists of the AWS Global Infrastructure pages, as of 2026-12.
 */

/** Region name → its AZ id prefix and the number of its AZ ids. */
export const AWS_REGIONS: Readonly<
  Record<string, { azPrefix: string; azs: number } | { azPrefix?: undefined; azs?: undefined }>
> = Object.freeze({
  "us-east-1": { azPrefix: "use1", azs: 6 },
  "us-east-2": { azPrefix: "use2", azs: 3 },
  "us-west-1": { azPrefix: "usw1", azs: 3 },
  "us-west-2": { azPrefix: "usw2", azs: 4 },
  "af-south-1": { azPrefix: "afs1", azs: 3 },
  "ap-east-1": { azPrefix: "ape1", azs: 3 },
  "ap-east-2": { azPrefix: "ape2", azs: 3 },
  "ap-south-1": { azPrefix: "aps1", azs: 3 },
  "ap-south-2": { azPrefix: "aps2", azs: 3 },
  "ap-southeast-1": { azPrefix: "apse1", azs: 3 },
  "ap-southeast-2": { azPrefix: "apse2", azs: 3 },
  "ap-southeast-3": { azPrefix: "apse3", azs: 3 },
  "ap-southeast-4": { azPrefix: "apse4", azs: 3 },
  "ap-southeast-5": { azPrefix: "apse5", azs: 3 },
  "ap-southeast-6": { azPrefix: "apse6", azs: 3 },
  "ap-southeast-7": { azPrefix: "apse7", azs: 3 },
  "ap-northeast-1": { azPrefix: "apne1", azs: 4 },
  "ap-northeast-2": { azPrefix: "apne2", azs: 4 },
  "ap-northeast-3": { azPrefix: "apne3", azs: 3 },
  "ca-central-1": { azPrefix: "cac1", azs: 4 },
  "ca-west-1": { azPrefix: "caw1", azs: 3 },
  "eu-central-1": { azPrefix: "euc1", azs: 3 },
  "eu-central-2": { azPrefix: "euc2", azs: 3 },
  "eu-north-1": { azPrefix: "eun1", azs: 3 },
  "eu-south-1": { azPrefix: "eus1", azs: 3 },
  "eu-south-2": { azPrefix: "eus2", azs: 3 },
  "eu-west-1": { azPrefix: "euw1", azs: 3 },
  "eu-west-2": { azPrefix: "euw2", azs: 3 },
  "eu-west-3": { azPrefix: "euw3", azs: 3 },
  "il-central-1": { azPrefix: "ilc1", azs: 3 },
  "me-central-1": { azPrefix: "mec1", azs: 3 },
  "me-south-1": { azPrefix: "mes1", azs: 3 },
  "mx-central-1": { azPrefix: "mxc1", azs: 3 },
  "sa-east-1": { azPrefix: "sae1", azs: 3 },
  "us-gov-east-1": { azPrefix: "usge1", azs: 3 },
  "us-gov-west-1": { azPrefix: "usgw1", azs: 3 },
  "cn-north-1": { azPrefix: "cnn1", azs: 3 },
  "cn-northwest-1": { azPrefix: "cnnw1", azs: 3 },
  // The ISO partitions publish no AZ ids: their AZ ids are taken as written.
  "us-iso-east-1": {},
  "us-iso-west-1": {},
  "us-isob-east-1": {},
  "us-isof-south-1": {},
  "us-isof-east-1": {},
  "eu-isoe-west-1": {},
});

/** The AZ ids of a known region, in order (`use1-az1` …); empty for an unknown region. */
export function azIdsOf(region: string): string[] {
  const r = AWS_REGIONS[region];
  if (!r?.azPrefix) return [];
  return Array.from({ length: r.azs }, (_, i) => `${r.azPrefix}-az${i + 1}`);
}

/** Levenshtein distance, for "did you mean" (short strings only: names, ids). */
export function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      row[j] = Math.min(
        (prev[j] as number) + 1,
        (row[j - 1] as number) + 1,
        (prev[j - 1] as number) + cost,
      );
    }
    prev = row;
  }
  return prev[b.length] as number;
}

/**
 * The closest candidate, when it is close enough to be a typo (at most a third of the word's
 * length, and at most 3 edits); undefined otherwise. Ties go to the first candidate.
 *
 * @example
 * closest("us-est-1", Object.keys(AWS_REGIONS)) // "us-east-1"
 */
export function closest(word: string, candidates: readonly string[]): string | undefined {
  // Long input is not a typo of a short name: do not spend quadratic time on it.
  if (word.length > 64) return undefined;
  const limit = Math.min(3, Math.max(1, Math.floor(word.length / 3)));
  let best: { name: string; d: number } | undefined;
  for (const name of candidates) {
    const d = editDistance(word, name);
    if (d <= limit && (!best || d < best.d)) best = { name, d };
  }
  return best?.name;
}

const didYouMean = (hint: string | undefined) => (hint ? ` (did you mean "${hint}"?)` : "");

/** Why a region name is not one AWS has, or undefined when it is known. */
export function regionProblem(region: string): string | undefined {
  if (Object.hasOwn(AWS_REGIONS, region)) return undefined;
  return `unknown AWS region "${region.slice(0, 64)}"${didYouMean(closest(region, Object.keys(AWS_REGIONS)))}`;
}

/**
 * Why an AZ id does not belong to its region, or undefined when it does. An unknown region has
 * its own problem, so its AZs are not judged.
 */
export function azProblem(region: string, az: string): string | undefined {
  // An unknown region has its own problem; a region with no published ids takes any.
  if (!AWS_REGIONS[region]?.azPrefix) return undefined;
  const ids = azIdsOf(region);
  if (ids.includes(az)) return undefined;
  const owner = Object.keys(AWS_REGIONS).find((r) => azIdsOf(r).includes(az));
  if (owner) {
    return `Availability Zone "${az}" is in ${owner}, not ${region} (${region}'s ids are ${ids[0]}..${ids.at(-1)})`;
  }
  return `Availability Zone "${az.slice(0, 64)}" is not an AZ id of ${region} (${ids[0]}..${ids.at(-1)})${didYouMean(closest(az, ids))}`;
}
