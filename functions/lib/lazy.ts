/**
 * A port whose adapter (and the AWS SDK client behind it) is loaded on its first call, not at
 * module init. A function then pays only for the clients its path really uses: the fast-rollback
 * function never loads STS, Lambda or CloudWatch unless it calls them (docs/decisions.md,
 * 2026-12-02). Every port method is async, so a call simply awaits the load first.
 *
 * @example
 * const events = lazyPort<EventPublisher>(async () => {
 *   const { EventBridgeClient } = await import("@aws-sdk/client-eventbridge");
 *   const { EventBridgePublisher } = await import("../../src/adapters/aws/event-bus.ts");
 *   return new EventBridgePublisher(new EventBridgeClient({}), config.eventBusName());
 * });
 * await events.publish([...]); // loads the SDK client here, once
 */
export function lazyPort<T extends object>(load: () => Promise<T>): T {
  let loading: Promise<T> | undefined;
  const target = () => {
    loading ??= load().catch((error: unknown) => {
      loading = undefined; // a failed load is tried again on the next call
      throw error;
    });
    return loading;
  };
  return new Proxy({} as T, {
    get(_, property) {
      // Not a thenable: `await port` must not call into the adapter.
      if (property === "then" || typeof property === "symbol") return undefined;
      return async (...args: unknown[]) => {
        const port = (await target()) as Record<string, unknown>;
        const method = port[property];
        if (typeof method !== "function") {
          throw new TypeError(`${String(property)} is not a method of the loaded adapter`);
        }
        return method.apply(port, args);
      };
    },
  });
}

/** One value built on first use and shared afterwards (a client several ports use). */
export function once<T>(load: () => Promise<T>): () => Promise<T> {
  let value: Promise<T> | undefined;
  return () => {
    value ??= load().catch((error: unknown) => {
      value = undefined;
      throw error;
    });
    return value;
  };
}
