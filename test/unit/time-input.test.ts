/** The one strict parser of times given as input (issue 10, finding 9). */
import { describe, expect, it } from "vitest";
import {
  MAX_OFFSET_MS,
  parseInstant,
  parseOffset,
  parseTimeOrOffset,
  TimeInputError,
} from "../../src/domain/time-input.ts";
import { versionProblem } from "../../src/domain/version.ts";

const BASE = new Date("2026-01-05T09:00:00Z");

describe("parseInstant", () => {
  it.each([
    ["2026-01-05T09:00:00Z", "2026-01-05T09:00:00.000Z"],
    ["2026-01-05T09:00Z", "2026-01-05T09:00:00.000Z"],
    ["2026-01-05T10:00:00+01:00", "2026-01-05T09:00:00.000Z"],
    ["2024-02-29T00:00:00Z", "2024-02-29T00:00:00.000Z"],
    ["1970-01-01T00:00:00Z", "1970-01-01T00:00:00.000Z"],
    ["9999-12-31T23:59:59Z", "9999-12-31T23:59:59.000Z"],
  ])("accepts %s", (text, iso) => {
    expect(parseInstant(text).toISOString()).toBe(iso);
  });

  it.each([
    ["2026-02-30T09:00:00Z", "a date that exists"],
    ["2025-02-29T09:00:00Z", "a date that exists"],
    ["2026-04-31T09:00:00Z", "a date that exists"],
    ["2026-01-05T24:00:00Z", "a date that exists"],
    ["2026-01-05T09:00:00", "Z or an offset"],
    ["2026-01-05", "Z or an offset"],
    ["yesterday", "must be an ISO time"],
    ["1969-12-31T23:59:59Z", "must be in the years 1970 to 9999"],
    ["1970-01-01T00:30:00+01:00", "must be in the years 1970 to 9999"],
    ["+010000-01-01T00:00:00Z", "must be an ISO time"],
  ])("rejects %s", (text, message) => {
    expect(() => parseInstant(text)).toThrow(TimeInputError);
    expect(() => parseInstant(text)).toThrow(message);
  });
});

describe("parseOffset", () => {
  it.each([
    ["+90m", 90 * 60_000],
    ["+3h", 3 * 3_600_000],
    ["+1d2h30m", (26 * 60 + 30) * 60_000],
    ["+45s", 45_000],
    ["+365d", MAX_OFFSET_MS],
  ])("%s is %d ms", (text, ms) => {
    expect(parseOffset(text)).toBe(ms);
  });

  it.each(["+", "90m", "+1x", "+-1h", "soon"])("%j is not an offset", (text) => {
    expect(parseOffset(text)).toBeUndefined();
  });

  it.each(["+366d", "+8761h", "+99999999999d", "+999999999d"])(
    "%s is refused (longer than a year, or overflowing)",
    (text) => {
      expect(() => parseOffset(text)).toThrow("must be an offset of at most 365 days (+365d)");
    },
  );
});

describe("parseTimeOrOffset", () => {
  it("resolves an offset from the base, or parses an instant", () => {
    expect(parseTimeOrOffset("+1h", BASE).toISOString()).toBe("2026-01-05T10:00:00.000Z");
    expect(parseTimeOrOffset("2026-03-01T00:00:00Z", BASE).toISOString()).toBe(
      "2026-03-01T00:00:00.000Z",
    );
  });

  it("an offset that lands past the year 9999 is refused", () => {
    expect(() => parseTimeOrOffset("+2d", new Date("9999-12-31T00:00:00Z"))).toThrow(
      "must be in the years 1970 to 9999",
    );
  });
});

describe("versionProblem", () => {
  it.each(["v2", "1.4.0+build.7", "c4295bd74fb0f4fda03689c3df3f2803b658fd85", "a".repeat(128)])(
    "accepts %s",
    (v) => {
      expect(versionProblem(v)).toBeUndefined();
    },
  );

  it.each(["", "a".repeat(129), "v 2", "v2;rm", "-v2", "v2/x", "v2@x", "é"])("rejects %j", (v) => {
    expect(versionProblem(v)).toBe(
      "must be 1-128 letters, digits, '.', '_', '+' or '-', starting with a letter or digit",
    );
  });
});
