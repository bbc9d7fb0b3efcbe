package dev.jobsvc.client;

import com.google.protobuf.Timestamp;
import dev.jobsvc.v1.JobSpec;
import java.time.Duration;
import java.time.Instant;

/** Builds the {@link JobSpec}s that submit, call, stream and batch requests carry. */
public final class JobSpecs {

  private JobSpecs() {}

  /** A job of the newest version of {@code handler} with this input ({@link Payloads#toPayload}). */
  public static JobSpec of(String handler, Object input) {
    return of(handler, input, SubmitOptions.defaults());
  }

  /** A job of {@code handler} with this input and these options. */
  public static JobSpec of(String handler, Object input, SubmitOptions options) {
    if (handler == null || handler.isEmpty()) {
      throw new IllegalArgumentException("handler is required");
    }
    JobSpec.Builder spec =
        JobSpec.newBuilder()
            .setHandler(handler)
            .setVersion(options.version())
            .setInput(Payloads.toPayload(input))
            .setPriority(options.priority())
            .setIdempotencyKey(options.idempotencyKey())
            .putAllLabels(options.labels());
    options.delay().map(JobSpecs::duration).ifPresent(spec::setDelay);
    options.runAt().map(JobSpecs::timestamp).ifPresent(spec::setRunAt);
    options.retryPolicy().ifPresent(spec::setRetryPolicy);
    options.attemptTimeout().map(JobSpecs::duration).ifPresent(spec::setAttemptTimeout);
    options.executionTimeout().map(JobSpecs::duration).ifPresent(spec::setExecutionTimeout);
    return spec.build();
  }

  static com.google.protobuf.Duration duration(Duration duration) {
    long seconds = duration.getSeconds();
    int nanos = duration.getNano();
    if (seconds < 0 && nanos > 0) { // protobuf wants seconds and nanos of one sign
      seconds += 1;
      nanos -= 1_000_000_000;
    }
    return com.google.protobuf.Duration.newBuilder().setSeconds(seconds).setNanos(nanos).build();
  }

  static Timestamp timestamp(Instant instant) {
    return Timestamp.newBuilder().setSeconds(instant.getEpochSecond()).setNanos(instant.getNano()).build();
  }
}
