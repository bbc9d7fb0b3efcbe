package dev.jobsvc.worker;

/**
 * Thrown by {@link JobContext#waitFor} for a child that FAILED or was CANCELLED; uncaught, it
 * fails the parent's attempt (job error type {@code jobsvc.ChildJobFailed}).
 */
public final class ChildJobFailedException extends HandlerException {

  private final transient ChildJob child;

  ChildJobFailedException(ChildJob child, String message) {
    super("jobsvc.ChildJobFailed", message);
    this.child = child;
  }

  /** The child that did not succeed. */
  public ChildJob child() {
    return child;
  }
}
