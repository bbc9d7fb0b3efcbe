package dev.jobsvc.client;

import dev.jobsvc.v1.Job;

/** The job was cancelled before it produced a result. */
public final class JobCancelledException extends JobNotSucceededException {

  private static final long serialVersionUID = 1L;

  JobCancelledException(Job job) {
    super("job %s (%s) was cancelled".formatted(job.getId(), job.getHandler()), job);
  }
}
