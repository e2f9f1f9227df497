/** A `retry` section of the config as the retry helper's policy (seconds stay seconds). */
import type { RetryPolicy } from "../pipeline/retry";
import type { RetryConfig } from "./schema";

export function retryPolicy(r: RetryConfig): RetryPolicy {
  return { maxRetries: r.max_retries, initialBackoff: r.initial_backoff, maxBackoff: r.max_backoff, backoffMultiplier: r.backoff_multiplier };
}
