/** A time budget for bookkeeping calls (Durable Object RPC), so that none can hang the request that made it. */

/** Settles as `work` does, or rejects with `onTimeout()` after `ms`; the timer is cleared either way. */
export async function withTimeout<T>(work: Promise<T>, ms: number, onTimeout: () => Error): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(onTimeout()), ms);
  });
  try {
    return await Promise.race([work, timeout]);
  } finally {
    if (timer !== undefined) clearTimeout(timer);
  }
}
