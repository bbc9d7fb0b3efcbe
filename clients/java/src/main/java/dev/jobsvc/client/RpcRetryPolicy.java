package dev.jobsvc.client;

import java.time.Duration;
import java.util.Objects;

/**
 * Exponential backoff for the client's own retries: of idempotent RPCs that failed with
 * UNAVAILABLE ({@code GetJob}, {@code ListJobs}, {@code ListHandlers}, through gRPC's service
 * config) and of event streams that dropped (resumed where they stopped).
 *
 * <p>The n-th retry waits {@code min(initialBackoff * multiplier^(n-1), maxBackoff)}, with
 * jitter. This is not the retry policy of a job ({@code dev.jobsvc.v1.RetryPolicy}), which the
 * server applies to failed attempts.
 *
 * @param maxAttempts attempts in all, the first included; 1 means no retry
 * @param initialBackoff wait before the first retry
 * @param maxBackoff longest wait between two attempts
 * @param multiplier growth of the wait per retry, at least 1
 */
public record RpcRetryPolicy(int maxAttempts, Duration initialBackoff, Duration maxBackoff, double multiplier) {

  /** Four attempts in all, waiting 100 ms, 200 ms, 400 ms: the default for unary RPCs. */
  public static final RpcRetryPolicy DEFAULT =
      new RpcRetryPolicy(4, Duration.ofMillis(100), Duration.ofSeconds(2), 2.0);

  /** Up to ten reconnects of a stream, waiting 100 ms doubling up to 5 s. */
  public static final RpcRetryPolicy DEFAULT_STREAM_RESUME =
      new RpcRetryPolicy(11, Duration.ofMillis(100), Duration.ofSeconds(5), 2.0);

  /** Validates the fields. */
  public RpcRetryPolicy {
    if (maxAttempts < 1) {
      throw new IllegalArgumentException("maxAttempts must be at least 1");
    }
    Objects.requireNonNull(initialBackoff, "initialBackoff");
    Objects.requireNonNull(maxBackoff, "maxBackoff");
    if (initialBackoff.isNegative() || initialBackoff.isZero() || maxBackoff.compareTo(initialBackoff) < 0) {
      throw new IllegalArgumentException("need 0 < initialBackoff <= maxBackoff");
    }
    if (!(multiplier >= 1.0)) {
      throw new IllegalArgumentException("multiplier must be at least 1");
    }
  }

  /** A policy that never retries. */
  public static RpcRetryPolicy none() {
    return new RpcRetryPolicy(1, Duration.ofMillis(100), Duration.ofMillis(100), 1.0);
  }

  /** Retries after the first attempt that this policy allows. */
  public int maxRetries() {
    return maxAttempts - 1;
  }

  /**
   * The wait before a retry, without jitter.
   *
   * @param retry 1 for the first retry
   */
  public Duration backoff(int retry) {
    double nanos = initialBackoff.toNanos() * Math.pow(multiplier, Math.max(0, retry - 1));
    return nanos >= maxBackoff.toNanos() ? maxBackoff : Duration.ofNanos((long) nanos);
  }
}
