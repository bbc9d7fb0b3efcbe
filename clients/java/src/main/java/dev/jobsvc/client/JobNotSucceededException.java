package dev.jobsvc.client;

import dev.jobsvc.v1.Job;

/**
 * A job that was asked for its result ended without one: it failed or was cancelled. The RPC
 * itself succeeded; {@link #job()} is the job in its terminal state.
 */
public abstract sealed class JobNotSucceededException extends RuntimeException
    permits JobFailedException, JobCancelledException {

  private static final long serialVersionUID = 1L;

  private final transient Job job;

  JobNotSucceededException(String message, Job job) {
    super(message);
    this.job = job;
  }

  /** The job, FAILED or CANCELLED. */
  public Job job() {
    return job;
  }

  /** The job's id. */
  public String jobId() {
    return job.getId();
  }

  /** The exception for a job that did not succeed. */
  static JobNotSucceededException of(Job job) {
    return switch (job.getState()) {
      case JOB_STATE_FAILED -> new JobFailedException(job);
      case JOB_STATE_CANCELLED -> new JobCancelledException(job);
      default -> throw new IllegalStateException("job " + job.getId() + " is " + job.getState());
    };
  }
}
