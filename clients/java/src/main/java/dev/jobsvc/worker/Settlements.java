package dev.jobsvc.worker;

import dev.jobsvc.v1.AckRequest;
import dev.jobsvc.v1.JobError;
import dev.jobsvc.v1.NackRequest;
import dev.jobsvc.v1.Payload;
import dev.jobsvc.v1.WorkRequest;
import java.io.PrintWriter;
import java.io.StringWriter;

/** The ack or nack that settles an attempt. */
final class Settlements {

  private Settlements() {}

  static WorkRequest ack(String jobId, String token, Payload result) {
    return WorkRequest.newBuilder()
        .setAck(AckRequest.newBuilder().setJobId(jobId).setAttemptToken(token).setResult(result))
        .build();
  }

  static WorkRequest nack(String jobId, String token, JobError error) {
    return WorkRequest.newBuilder()
        .setNack(NackRequest.newBuilder().setJobId(jobId).setAttemptToken(token).setError(error))
        .build();
  }

  /** The error of a handler's exception: its type, message and stack trace. */
  static JobError error(Throwable thrown, int attempt) {
    String type = thrown instanceof HandlerException typed ? typed.errorType() : thrown.getClass().getName();
    String message = thrown.getMessage() != null ? thrown.getMessage() : "";
    return JobError.newBuilder()
        .setType(type)
        .setMessage(message)
        .setTraceback(stackTrace(thrown))
        .setAttempt(attempt)
        .setNonRetryable(thrown instanceof NonRetryableException)
        .build();
  }

  static JobError error(String type, String message, int attempt, boolean nonRetryable) {
    return JobError.newBuilder()
        .setType(type)
        .setMessage(message)
        .setAttempt(attempt)
        .setNonRetryable(nonRetryable)
        .build();
  }

  static String stackTrace(Throwable thrown) {
    StringWriter text = new StringWriter();
    thrown.printStackTrace(new PrintWriter(text));
    return text.toString();
  }
}
