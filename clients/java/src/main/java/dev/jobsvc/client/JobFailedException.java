package dev.jobsvc.client;

import dev.jobsvc.v1.Job;
import dev.jobsvc.v1.JobError;

/** The job ran and its handler raised (on its last attempt): {@link #error()} says what. */
public final class JobFailedException extends JobNotSucceededException {

  private static final long serialVersionUID = 1L;

  JobFailedException(Job job) {
    super(
        "job %s (%s) failed: %s: %s"
            .formatted(job.getId(), job.getHandler(), job.getError().getType(), job.getError().getMessage()),
        job);
  }

  /** The error of the attempt that failed the job. */
  public JobError error() {
    return job().getError();
  }

  /** The error's type as the handler raised it, for example {@code ValueError}. */
  public String errorType() {
    return error().getType();
  }

  /** The error's message. */
  public String errorMessage() {
    return error().getMessage();
  }

  /** The handler's traceback (empty when the worker sent none). */
  public String traceback() {
    return error().getTraceback();
  }
}
