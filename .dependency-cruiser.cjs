/**
 * Dependency rules (docs/design.md "Layers"): dependencies point inward, and nothing imports in
 * a circle. Checked by `npm run lint`; test/unit/dependency-rules.test.ts proves the rules bite.
 * @type {import('dependency-cruiser').IConfiguration}
 */
module.exports = {
  forbidden: [
    {
      name: "no-circular",
      severity: "error",
      comment: "An import cycle makes module init order matter and blurs which layer owns what.",
      from: {},
      to: { circular: true },
    },
    {
      name: "domain-imports-only-domain",
      severity: "error",
      comment:
        "src/domain is pure: it imports only itself and npm packages (no node builtins, no outer layer).",
      from: { path: "^src/domain/" },
      to: {
        // node_modules is a symlink to a shared install here, so match it anywhere in the path;
        // a node builtin (node:fs...) matches neither and is refused.
        pathNot: ["^src/domain/", "(^|/)node_modules/"],
      },
    },
    {
      name: "no-test-from-production",
      severity: "error",
      comment: "Production code never imports test code or fixtures.",
      from: { path: "^(src|functions|stacks|scripts|bench)/" },
      to: { path: "^test/" },
    },
    {
      name: "services-not-to-outer-layers",
      severity: "error",
      comment:
        "Application services and the trigger, notification and ops rules work through ports: never an adapter, the local mode, the CLI or a handler.",
      from: { path: "^src/(app|triggers|notify|ops)/" },
      to: { path: "^(functions/|src/(adapters|local|cli)/)" },
    },
    {
      name: "adapters-not-to-handlers-or-cli",
      severity: "error",
      comment:
        "Adapters implement ports; they never reach up into handlers, the CLI or the local mode (src/local composes them, not the reverse).",
      from: { path: "^src/adapters/" },
      to: { path: "^(functions/|src/(local|cli)/)" },
    },
    {
      name: "not-to-unresolvable",
      severity: "error",
      comment: "An import that does not resolve is a typo or a missing dependency.",
      from: {},
      to: { couldNotResolve: true },
    },
  ],
  options: {
    doNotFollow: { path: "node_modules" },
    // Absolute, so the rule test can cruise a fixture tree (cwd) with this same config.
    tsConfig: { fileName: `${__dirname}/tsconfig.json` },
    tsPreCompilationDeps: true,
    enhancedResolveOptions: {
      exportsFields: ["exports"],
      conditionNames: ["import", "require", "node", "default", "types"],
      extensions: [".ts", ".d.ts", ".js", ".mjs", ".cjs", ".json"],
      mainFields: ["module", "main", "types", "typings"],
    },
    reporterOptions: { text: { highlightFocused: true } },
  },
};
