/**
 * Measures the built-in detector's false-positive rate per scope on simulated healthy scopes
 * (test/support/anomaly-sim.ts, the generator of the detector's unit properties), the way the
 * README's figure was measured: many healthy scopes, each judged, counting those judged
 * Unhealthy. Three ways of judging each scope:
 *
 * - one look at the bake's end with the built-in thresholds (before issue 13 item 7);
 * - a look every 5 minutes (`bake.checkEveryMinutes` default) with the thresholds corrected
 *   for the looks (`rulesForLook`: Bonferroni, and fault-rate's O'Brien–Fleming shape; what
 *   evaluateStep does now);
 * - the same looks with uncorrected thresholds (why the correction is needed).
 *
 *   node bin/run-ts.mjs test/safety/detector-false-positives.ts [scopes] [seed] [--uncorrected]

 * The third way (about as costly as the second) runs only with `--uncorrected`.
 *
 * Prints the counts and rates; docs/decisions.md (2026-12-02) and the README record the run.
 */
import fc from "fast-check";
import { detectAnomalies, rulesForLook } from "../../src/domain/anomaly/index.ts";
import { bakeLooks, DEFAULT_CHECK_EVERY_MINUTES } from "../../src/domain/bake.ts";
import { healthyScopeArb, looksAt, simulateScope } from "../support/anomaly-sim.ts";

const [scopesArg, seedArg] = process.argv.slice(2).filter((a) => !a.startsWith("--"));
const scopes = Number(scopesArg ?? 220_000);
const seed = Number(seedArg ?? 0x5eed);
const withUncorrected = process.argv.includes("--uncorrected");
const counts = { scopes: 0, single: 0, corrected: 0, uncorrected: 0, looks: 0 };
const started = performance.now();

fc.assert(
  fc.property(healthyScopeArb, (scope) => {
    const input = simulateScope(scope);
    if (detectAnomalies(input).phase === "Unhealthy") counts.single++;
    const policy = {
      minutes: scope.bakeMinutes,
      maxMinutes: scope.bakeMinutes,
      onInsufficientTraffic: "halt" as const,
      checkEveryMinutes: DEFAULT_CHECK_EVERY_MINUTES,
    };
    const { everyMinutes, planned } = bakeLooks(policy);
    const looks = looksAt(input, everyMinutes);
    counts.looks += looks.length;
    const unhealthy = (l: (typeof looks)[number]) =>
      detectAnomalies(l.input, rulesForLook({ planned, fraction: l.fraction })).phase ===
      "Unhealthy";
    if (looks.some(unhealthy)) counts.corrected++;
    if (withUncorrected && looks.some((l) => detectAnomalies(l.input).phase === "Unhealthy")) {
      counts.uncorrected++;
    }
    // Progress on stderr: a long run reports what it has so far.
    if (++counts.scopes % 20_000 === 0) console.error(JSON.stringify(counts));
  }),
  { numRuns: scopes, seed },
);

const rate = (n: number) => (n / scopes).toExponential(1);
console.log(
  [
    `${scopes} simulated healthy scopes (seed ${seed}), ${(counts.looks / scopes).toFixed(1)} looks each on average, ${((performance.now() - started) / 1000).toFixed(0)} s`,
    `  one look at the end, built-in thresholds:      ${counts.single} false positives (${rate(counts.single)} per scope)`,
    `  a look every ${DEFAULT_CHECK_EVERY_MINUTES} min, corrected:            ${counts.corrected} false positives (${rate(counts.corrected)} per scope)`,
    ...(withUncorrected
      ? [
          `  a look every ${DEFAULT_CHECK_EVERY_MINUTES} min, uncorrected:          ${counts.uncorrected} false positives (${rate(counts.uncorrected)} per scope)`,
        ]
      : []),
  ].join("\n"),
);
