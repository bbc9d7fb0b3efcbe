/**
 * Remote worker of jobsvc: runs Java handlers on jobs a jobsvc server assigns over the
 * bidirectional {@code AckService.Work} stream.
 *
 * <p>{@link dev.jobsvc.worker.JobsvcWorker#builder()} is the entry point: name the server, the
 * handlers ({@link dev.jobsvc.worker.JobHandler}, given a {@link dev.jobsvc.worker.JobContext})
 * and the concurrency, then {@code run()} (blocking) or {@code start()}, and {@code close()} to
 * drain. A handler that throws fails the attempt (retried per the job's policy); a {@link
 * dev.jobsvc.worker.NonRetryableException} fails the job at once.
 */
package dev.jobsvc.worker;
