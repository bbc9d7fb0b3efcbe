package dev.jobsvc.worker;

/**
 * Runs one attempt of a job. What it returns is the job's result: a plain Java value (maps,
 * lists, strings, numbers, booleans, {@code null}) or a JSON {@code Value} as JSON, a protobuf
 * message as a typed payload ({@code google.protobuf.Any}), a {@code Payload} as it is.
 *
 * <p>What it throws fails the attempt: the job is retried per its retry policy, with the
 * exception's class name as the error type (see {@link HandlerException} to name another), its
 * message and its stack trace. A {@link NonRetryableException} fails the job at once. When the
 * server cancels the job (or its lease is lost), {@link JobContext#isCancelled()} turns true and
 * the handler's thread is interrupted; whatever it returns or throws then is not reported.
 */
@FunctionalInterface
public interface JobHandler {
  Object handle(JobContext job) throws Exception;
}
