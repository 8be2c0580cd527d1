/** The in-memory store keeps the same contract as the DynamoDB store, without Java. */
import { MemoryStateStore } from "../../src/adapters/memory/memory-store.ts";
import { describeStoreContract } from "../contract/state-store.ts";

describeStoreContract("MemoryStateStore", async () => new MemoryStateStore());
