package dev.jobsvc.client;

import dev.jobsvc.v1.RetryPolicy;
import java.time.Duration;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;

/**
 * How to run a job (version selector, priority, idempotency key, labels, schedule, timeouts,
 * retry policy) and the deadline of the RPC that submits it. Immutable; unset fields keep the
 * server's or the handler's defaults.
 *
 * <pre>{@code
 * SubmitOptions options = SubmitOptions.builder().version("^2").priority(10).build();
 * }</pre>
 */
public final class SubmitOptions {

  private static final SubmitOptions DEFAULTS = builder().build();

  private final String version;
  private final int priority;
  private final String idempotencyKey;
  private final Map<String, String> labels;
  private final Duration delay;
  private final Instant runAt;
  private final RetryPolicy retryPolicy;
  private final Duration attemptTimeout;
  private final Duration executionTimeout;
  private final Duration deadline;

  private SubmitOptions(Builder builder) {
    this.version = builder.version;
    this.priority = builder.priority;
    this.idempotencyKey = builder.idempotencyKey;
    this.labels = Map.copyOf(builder.labels);
    this.delay = builder.delay;
    this.runAt = builder.runAt;
    this.retryPolicy = builder.retryPolicy;
    this.attemptTimeout = builder.attemptTimeout;
    this.executionTimeout = builder.executionTimeout;
    this.deadline = builder.deadline;
  }

  /** No options: the newest version, default priority, the client's default deadline. */
  public static SubmitOptions defaults() {
    return DEFAULTS;
  }

  /** A builder with nothing set. */
  public static Builder builder() {
    return new Builder();
  }

  /** A builder holding these options. */
  public Builder toBuilder() {
    Builder builder = new Builder();
    builder.version = version;
    builder.priority = priority;
    builder.idempotencyKey = idempotencyKey;
    builder.labels.putAll(labels);
    builder.delay = delay;
    builder.runAt = runAt;
    builder.retryPolicy = retryPolicy;
    builder.attemptTimeout = attemptTimeout;
    builder.executionTimeout = executionTimeout;
    builder.deadline = deadline;
    return builder;
  }

  /** The version selector; empty for the newest release. */
  public String version() {
    return version;
  }

  /** The priority, -1000..1000. */
  public int priority() {
    return priority;
  }

  /** The idempotency key; empty for none. */
  public String idempotencyKey() {
    return idempotencyKey;
  }

  /** The job's labels. */
  public Map<String, String> labels() {
    return labels;
  }

  /** Run no sooner than this long after submission. */
  public Optional<Duration> delay() {
    return Optional.ofNullable(delay);
  }

  /** Run no sooner than this time. */
  public Optional<Instant> runAt() {
    return Optional.ofNullable(runAt);
  }

  /** Overrides of the handler's retry policy for failed attempts. */
  public Optional<RetryPolicy> retryPolicy() {
    return Optional.ofNullable(retryPolicy);
  }

  /** Each attempt is stopped after this long. */
  public Optional<Duration> attemptTimeout() {
    return Optional.ofNullable(attemptTimeout);
  }

  /** The job fails if it has not succeeded this long after submission. */
  public Optional<Duration> executionTimeout() {
    return Optional.ofNullable(executionTimeout);
  }

  /**
   * The deadline of the submitting RPC (for {@code call}, of the wait for the result); when
   * empty, the client's default deadline.
   */
  public Optional<Duration> deadline() {
    return Optional.ofNullable(deadline);
  }

  /** Builds {@link SubmitOptions}. */
  public static final class Builder {
    private String version = "";
    private int priority;
    private String idempotencyKey = "";
    private final Map<String, String> labels = new LinkedHashMap<>();
    private Duration delay;
    private Instant runAt;
    private RetryPolicy retryPolicy;
    private Duration attemptTimeout;
    private Duration executionTimeout;
    private Duration deadline;

    private Builder() {}

    /** Version selector: exact ({@code 1.4.0}), caret ({@code ^1.4}), tilde, ranges, or empty. */
    public Builder version(String version) {
      this.version = Objects.requireNonNull(version, "version");
      return this;
    }

    /** Higher runs first among jobs that are due; -1000..1000. */
    public Builder priority(int priority) {
      this.priority = priority;
      return this;
    }

    /** A repeated submit with the same key returns the same job instead of a new one. */
    public Builder idempotencyKey(String idempotencyKey) {
      this.idempotencyKey = Objects.requireNonNull(idempotencyKey, "idempotencyKey");
      return this;
    }

    /** Adds one label. */
    public Builder label(String key, String value) {
      labels.put(Objects.requireNonNull(key, "key"), Objects.requireNonNull(value, "value"));
      return this;
    }

    /** Adds these labels. */
    public Builder labels(Map<String, String> labels) {
      labels.forEach(this::label);
      return this;
    }

    /** Not before now + delay; clears {@link #runAt}. */
    public Builder delay(Duration delay) {
      this.delay = delay;
      this.runAt = null;
      return this;
    }

    /** Not before this time; clears {@link #delay}. */
    public Builder runAt(Instant runAt) {
      this.runAt = runAt;
      this.delay = null;
      return this;
    }

    /** Overrides the handler's retry policy field by field. */
    public Builder retryPolicy(RetryPolicy retryPolicy) {
      this.retryPolicy = retryPolicy;
      return this;
    }

    /** Each attempt is stopped (and counts as failed) after this long. */
    public Builder attemptTimeout(Duration attemptTimeout) {
      this.attemptTimeout = attemptTimeout;
      return this;
    }

    /** The job fails if it has not succeeded this long after submission. */
    public Builder executionTimeout(Duration executionTimeout) {
      this.executionTimeout = executionTimeout;
      return this;
    }

    /** Deadline of the RPC (for {@code call}: how long to wait for the result). */
    public Builder deadline(Duration deadline) {
      this.deadline = deadline;
      return this;
    }

    /** The options. */
    public SubmitOptions build() {
      return new SubmitOptions(this);
    }
  }
}
