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

  /**
   * Characters of an error's message and stack trace sent at most, so that a nack fits in a
   * message whatever the exception (the server cuts what it stores further). A Java stack trace
   * keeps its start, where the exception is.
   */
  static final int MAX_MESSAGE_CHARS = 8_000;
  static final int MAX_TRACE_CHARS = 32_000;

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
        .setMessage(cut(message, MAX_MESSAGE_CHARS))
        .setTraceback(cut(stackTrace(thrown), MAX_TRACE_CHARS))
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

  static String cut(String text, int chars) {
    return text.length() <= chars ? text : text.substring(0, chars) + "\n... (" + (text.length() - chars) + " more characters)";
  }

  static String stackTrace(Throwable thrown) {
    StringWriter text = new StringWriter();
    thrown.printStackTrace(new PrintWriter(text));
    return text.toString();
  }
}
