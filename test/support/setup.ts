import "../../src/local/polyfills.ts";
