package dev.jobsvc.worker;

/**
 * Thrown by {@link JobContext#spawn} when the server refuses the child as it would refuse a
 * Submit of it: an unknown handler or version ({@code code} 5, NOT_FOUND), input its schema
 * rejects (3, INVALID_ARGUMENT). Not retried (job error type {@code jobsvc.SpawnRefused}).
 */
public final class SpawnRefusedException extends NonRetryableException {

  private final int code;
  private final String reason;
  private final String field;

  SpawnRefusedException(String message, int code, String reason, String field) {
    super("jobsvc.SpawnRefused", message);
    this.code = code;
    this.reason = reason;
    this.field = field;
  }

  /** The google.rpc.Code of the refusal. */
  public int code() {
    return code;
  }

  /** The ErrorInfo reason, for example {@code HANDLER_NOT_FOUND}. */
  public String reason() {
    return reason;
  }

  /** The request field the refusal is about ({@code spawn.job.handler}), or empty. */
  public String field() {
    return field;
  }
}
