package dev.jobsvc.worker;

import java.util.Objects;

/**
 * A handler failure with an explicit error type, reported as {@code JobError.type} instead of
 * the exception's class name: for example {@code new HandlerException("ValueError", "bad
 * size")}, to match a retry policy's {@code non_retryable_error_types} or a Python handler's
 * error types. The attempt is retried per the job's retry policy.
 */
public class HandlerException extends RuntimeException {

  private final String errorType;

  public HandlerException(String errorType, String message) {
    this(errorType, message, null);
  }

  public HandlerException(String errorType, String message, Throwable cause) {
    super(message, cause);
    this.errorType = Objects.requireNonNull(errorType, "errorType");
  }

  /** The type the job's error reports. */
  public String errorType() {
    return errorType;
  }
}
