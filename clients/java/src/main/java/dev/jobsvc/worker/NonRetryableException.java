package dev.jobsvc.worker;

/**
 * Thrown by a handler: the job fails at once ({@code JobError.non_retryable}), whatever its
 * retry policy. The error type is the one given, else the cause's class name, else this class's
 * name.
 */
public class NonRetryableException extends HandlerException {

  public NonRetryableException(String message) {
    super(NonRetryableException.class.getName(), message);
  }

  /** Fails the job with the cause's type and stack trace, and this message. */
  public NonRetryableException(String message, Throwable cause) {
    super(cause == null ? NonRetryableException.class.getName() : cause.getClass().getName(), message, cause);
  }

  /** Fails the job with an explicit error type, for example {@code "ValueError"}. */
  public NonRetryableException(String errorType, String message) {
    super(errorType, message);
  }
}
