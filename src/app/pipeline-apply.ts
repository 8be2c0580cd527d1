/**
 * `pipelines apply` on the control plane's side: an operator registers or changes a pipeline
 * definition without redeploying the control plane. It is an override action, so it has the
 * override's guarantees: an authenticated caller, an audit entry in the same transaction as
 * the change, an event on the bus. Here: what the action does.
 *
 * - The definition is validated as a pipeline file is (every problem under `definition.`).
 * - A pipeline the control plane's `pipelines/` folder registered is refused: it lives there.
 * - `expectRevision` makes the change conditional on the revision it was reviewed against.
 * - In AWS (the deployed override function passes `needs`): the pipeline may only use what the
 *   deployed roles hold and the alarm forwarders cover (the capabilities written at deploy);
 *   else it would fail with AccessDenied in the middle of a wave. Fail closed when they are
 *   unknown.
 * - The same definition again changes nothing (its digest is the revision's).
 * - Runs keep the definition they started with (the run's snapshot): a change applies to runs
 *   requested after it.
 */
import { createHash } from "node:crypto";
import { lintPipeline } from "../domain/lint.ts";
import {
  type ApplyPipelineOverride,
  OverrideRejectedError,
  type Principal,
} from "../domain/override.ts";
import { type Pipeline, PipelineValidationError, parsePipeline } from "../domain/pipeline.ts";
import {
  type Capabilities,
  diffDefinitions,
  MAX_DEFINITION_BYTES,
  missingCapabilities,
  type PipelineNeeds,
  type PipelineRecord,
} from "../domain/pipeline-registry.ts";
import type { OverrideWrite } from "../domain/ports.ts";
import { pipelineScopes } from "../domain/scope.ts";
import type { Deps } from "./deps.ts";

/** What a pipeline needs from the deployed control plane (the stack's own IAM and forwarder code). */
export type NeedsOf = (pipeline: Pipeline, capabilities: Capabilities) => PipelineNeeds;

export interface ApplyOptions {
  /** Present in AWS: the applied pipeline must fit the deployed capabilities. */
  needs?: NeedsOf;
}

/** At most this many missing grants are named in a refusal (then a count). */
const MAX_NAMED_MISSING = 20;

/** The name a request's definition gives (for the audit target before it is validated). */
export function appliedName(o: ApplyPipelineOverride): string {
  const name = o.definition.name;
  return typeof name === "string" ? name.slice(0, 64) : "?";
}

/** `sha256:` of the definition's canonical JSON (keys sorted): the same definition, the same digest. */
export function definitionDigest(definition: Pipeline): string {
  const canonical = (v: unknown): unknown =>
    Array.isArray(v)
      ? v.map(canonical)
      : v && typeof v === "object"
        ? Object.fromEntries(
            Object.keys(v)
              .sort()
              .map((k) => [k, canonical((v as Record<string, unknown>)[k])]),
          )
        : v;
  return `sha256:${createHash("sha256")
    .update(JSON.stringify(canonical(definition)))
    .digest("hex")}`;
}

function parseDefinition(o: ApplyPipelineOverride): Pipeline {
  const size = Buffer.byteLength(JSON.stringify(o.definition), "utf8");
  if (size > MAX_DEFINITION_BYTES) {
    throw new OverrideRejectedError([
      {
        path: "definition",
        message: `is ${size} bytes of JSON; at most ${MAX_DEFINITION_BYTES} (it is stored as one DynamoDB item)`,
      },
    ]);
  }
  let pipeline: Pipeline;
  try {
    pipeline = parsePipeline(o.definition, "definition");
  } catch (err) {
    if (!(err instanceof PipelineValidationError)) throw err;
    throw new OverrideRejectedError(
      err.problems.map((p) => ({ ...p, path: p.path ? `definition.${p.path}` : "definition" })),
    );
  }
  // The lint's errors refuse it, as they refuse the synth (`breakwater lint`).
  const more = [
    ...lintPipeline(pipeline)
      .filter((f) => f.severity === "error")
      .map((f) => ({ path: f.path, message: `${f.message} (lint ${f.rule})` })),
  ];
  if (more.length) {
    throw new OverrideRejectedError(
      more.map((p) => ({ ...p, path: p.path ? `definition.${p.path}` : "definition" })),
    );
  }
  return pipeline;
}

async function checkCapabilities(deps: Deps, pipeline: Pipeline, needs: NeedsOf): Promise<void> {
  const capabilities = await deps.store.getCapabilities();
  if (!capabilities) {
    throw new OverrideRejectedError([
      {
        path: "definition",
        message:
          "this control plane has not recorded what its roles may deploy to (it was deployed before `pipelines apply` existed): deploy it once more, then apply",
      },
    ]);
  }
  const missing = missingCapabilities(needs(pipeline, capabilities), capabilities);
  if (missing.length === 0) return;
  const named = missing.slice(0, MAX_NAMED_MISSING).join("; ");
  const more =
    missing.length > MAX_NAMED_MISSING ? `; and ${missing.length - MAX_NAMED_MISSING} more` : "";
  throw new OverrideRejectedError([
    {
      path: "definition.target",
      message: `needs what the deployed control plane does not hold: ${named}${more}. Give the target a roleArn the control plane may assume, or add the pipeline to the control plane's pipelines/ folder and deploy it`,
    },
  ]);
}

/**
 * The scopes of the pipeline that hold no version yet (a new pipeline, a new stage or region):
 * they need `initialVersion`, the version they run now, so a rollback has a version to return
 * to. They are seeded after the definition is committed (seeding writes only absent scopes, with
 * a history record naming the caller): a repeat of the same apply finishes an interrupted one.
 */
async function scopesToSeed(
  deps: Deps,
  o: ApplyPipelineOverride,
  pipeline: Pipeline,
  principal: Principal,
  at: string,
): Promise<{ after?: () => Promise<void> }> {
  const known = new Set((await deps.store.listScopes(pipeline.name)).map((s) => s.scope));
  const missing = pipelineScopes(pipeline).filter((s) => !known.has(s.id));
  if (missing.length === 0) return {};
  const initial = o.initialVersion;
  if (initial === undefined) {
    throw new OverrideRejectedError([
      {
        path: "initialVersion",
        message: `is required: ${missing.length} scope${missing.length === 1 ? "" : "s"} of ${pipeline.name} hold no version yet (${missing[0]?.id}${missing.length > 1 ? ", …" : ""}): name the version they run now`,
      },
    ]);
  }
  return {
    after: async () => {
      await deps.store.seedScopes(
        missing.map((scope) => ({
          pipeline: pipeline.name,
          scope: scope.id,
          version: initial,
          percent: 100,
          status: "stable" as const,
          since: at,
          cause: `initial version ${initial} (pipelines apply by ${principal.arn}: ${o.reason})`,
        })),
        principal.arn,
      );
    },
  };
}

/**
 * Decides what applying the definition does: the writes (the record, conditional on the record
 * read, and the new revision) and the effect the audit entry records.
 */
export async function decideApply(
  deps: Deps,
  o: ApplyPipelineOverride,
  principal: Principal,
  at: string,
  options: ApplyOptions,
): Promise<{
  changed: boolean;
  effect: string;
  writes: OverrideWrite[];
  after?: () => Promise<void>;
}> {
  const pipeline = parseDefinition(o);
  const seeding = await scopesToSeed(deps, o, pipeline, principal, at);
  const current = await deps.store.getPipelineRecord(pipeline.name);
  if (current && current.source !== "apply") {
    throw new OverrideRejectedError([
      {
        path: "definition.name",
        message: `pipeline "${pipeline.name}" is registered from the control plane's pipelines/ folder: change it there and deploy, or remove it there first`,
      },
    ]);
  }
  const revisionNow = current?.revision ?? 0;
  if (o.expectRevision !== undefined && o.expectRevision !== revisionNow) {
    throw new OverrideRejectedError([
      {
        path: "expectRevision",
        message: `is ${o.expectRevision}, but the applied revision is ${revisionNow}${current?.appliedBy ? ` (applied by ${current.appliedBy} at ${current.appliedAt})` : ""}: diff again`,
      },
    ]);
  }
  if (options.needs) await checkCapabilities(deps, pipeline, options.needs);
  const digest = definitionDigest(pipeline);
  if (current?.digest === digest) {
    return {
      changed: false,
      effect: `unchanged (revision ${revisionNow} is this definition)`,
      writes: [],
      // A first apply whose seeding was cut short finishes it on the repeat.
      ...seeding,
    };
  }
  const revision = revisionNow + 1;
  const record: PipelineRecord = {
    name: pipeline.name,
    definition: pipeline,
    source: "apply",
    revision,
    digest,
    appliedAt: at,
    appliedBy: principal.arn,
    actor: o.actor,
    reason: o.reason,
  };
  const changes = current ? diffDefinitions(current.definition, pipeline).length : 0;
  return {
    changed: true,
    effect: current
      ? `applied ${pipeline.name} revision ${revision} (was ${revisionNow}; ${changes} change${changes === 1 ? "" : "s"})`
      : `registered ${pipeline.name} revision 1`,
    ...seeding,
    writes: [
      {
        kind: "pipeline",
        name: pipeline.name,
        ...(current?.rev !== undefined ? { was: { rev: current.rev } } : {}),
        set: record,
        revision: {
          name: pipeline.name,
          revision,
          digest,
          definition: pipeline,
          appliedAt: at,
          appliedBy: principal.arn,
          actor: o.actor,
          reason: o.reason,
        },
      },
    ],
  };
}
