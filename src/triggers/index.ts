/** Triggers: what turns an approved change into a "Approved Change Merged" event. */
export * from "./artifact.ts";
export * from "./decisions.ts";
export * from "./github.ts";
export * from "./http.ts";
export * from "./in-memory.ts";
export type * from "./ports.ts";
export * from "./run-requests.ts";
