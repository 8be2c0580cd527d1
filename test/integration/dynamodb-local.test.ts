/**
 * The DynamoDB Local the local mode starts listens on every interface (it has no option to bind
 * to loopback). Whoever else reaches its port, another host or a page in the engineer's
 * browser, must not reach the control plane's tables.
 */
import { randomUUID } from "node:crypto";
import { ListTablesCommand } from "@aws-sdk/client-dynamodb";
import { afterAll, describe, expect, inject, it } from "vitest";
import { createTable, localDynamoClient } from "../../src/local/dynamodb-local.ts";
import { dynamoClient } from "../support/dynamo.ts";

describe("the local mode's DynamoDB Local", () => {
  const endpoint = inject("dynamoEndpoint");
  const stranger = localDynamoClient(endpoint, { accessKeyId: "local", secretAccessKey: "local" });
  afterAll(() => stranger.destroy());

  it("keeps its tables under credentials of its own: a client with any other key sees none of them", async () => {
    const table = `isolation-${randomUUID()}`;
    await createTable(dynamoClient(), table);
    const own = await dynamoClient().send(new ListTablesCommand({}));
    expect(own.TableNames).toContain(table);
    // The credentials every earlier local control plane used, and any guess.
    const seen = await stranger.send(new ListTablesCommand({}));
    expect(seen.TableNames ?? []).not.toContain(table);
    expect(seen.TableNames ?? []).toEqual([]);
  });

  // A guard: DynamoDB Local sends CORS grants only when started with -cors.
  it("gives a page from another origin no CORS grant", async () => {
    const res = await fetch(endpoint, {
      method: "OPTIONS",
      headers: {
        Origin: "https://attacker.example",
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization,content-type,x-amz-target",
      },
    });
    await res.arrayBuffer();
    expect(res.headers.get("access-control-allow-origin")).toBeNull();
  });
});
