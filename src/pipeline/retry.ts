/** Exponential backoff shared by every client's `retry` section. */

export interface RetryPolicy {
  /** Retries after the first attempt; 0 = try once. */
  maxRetries: number;
  /** Seconds before the first retry. */
  initialBackoff: number;
  /** Upper bound on any wait, seconds. */
  maxBackoff: number;
  /** Factor between consecutive waits. */
  backoffMultiplier: number;
}

/** Wait in milliseconds before retry number `attempt` (1-based). */
export function backoffMs(policy: RetryPolicy, attempt: number): number {
  const seconds = policy.initialBackoff * policy.backoffMultiplier ** Math.max(0, attempt - 1);
  return Math.round(Math.min(seconds, policy.maxBackoff) * 1000);
}

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/**
 * Runs `fn` until it succeeds, the error is not transient, retries are exhausted or the
 * signal aborts. `isTransient` is the adapter's one place that classifies errors. A signal
 * aborted before an attempt or during a backoff rejects at once with its reason; an attempt
 * it interrupted fails with that attempt's own error, and is not retried.
 */
export async function withRetry<T>(
  fn: (attempt: number) => Promise<T>,
  policy: RetryPolicy,
  isTransient: (err: unknown) => boolean,
  onRetry?: (err: unknown, attempt: number, waitMs: number) => void,
  signal?: AbortSignal,
): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    if (signal?.aborted) throw signal.reason;
    try {
      return await fn(attempt);
    } catch (err) {
      if (attempt >= policy.maxRetries || !isTransient(err) || signal?.aborted) throw err;
      const wait = backoffMs(policy, attempt + 1);
      onRetry?.(err, attempt + 1, wait);
      await sleep(wait, signal);
    }
  }
}
