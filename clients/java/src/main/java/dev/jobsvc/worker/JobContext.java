package dev.jobsvc.worker;

import com.google.protobuf.Any;
import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.Message;
import com.google.protobuf.Value;
import dev.jobsvc.client.Payloads;
import dev.jobsvc.v1.Assignment;
import dev.jobsvc.v1.Job;
import dev.jobsvc.v1.Payload;
import dev.jobsvc.v1.Progress;
import dev.jobsvc.v1.ReportProgressRequest;
import java.time.Instant;
import java.util.Map;

/**
 * One attempt of a job, as a {@link JobHandler} sees it: the job's id, attempt, labels and
 * input, ways to report progress and partial output, and whether it was cancelled. Thread-safe.
 */
public final class JobContext {

  private final Assignment assignment;
  private final JobsvcWorker.RunningJob running;
  private final JobsvcWorker worker;

  JobContext(Assignment assignment, JobsvcWorker.RunningJob running, JobsvcWorker worker) {
    this.assignment = assignment;
    this.running = running;
    this.worker = worker;
  }

  /** The job's id. */
  public String id() {
    return assignment.getJob().getId();
  }

  /** The handler's name. */
  public String handler() {
    return assignment.getJob().getHandler();
  }

  /** The exact handler version the job runs. */
  public String version() {
    return assignment.getJob().getVersion();
  }

  /** This attempt's number: 1 on the first. */
  public int attempt() {
    return assignment.getJob().getAttempt();
  }

  /** The job's labels. */
  public Map<String, String> labels() {
    return assignment.getJob().getLabelsMap();
  }

  /** When the attempt's first lease ran out; the worker's session extends it while the job runs. */
  public Instant leaseDeadline() {
    return Instant.ofEpochSecond(
        assignment.getLeaseDeadline().getSeconds(), assignment.getLeaseDeadline().getNanos());
  }

  /** The job as the server assigned it. */
  public Job job() {
    return assignment.getJob();
  }

  /** The input payload as it came. */
  public Payload inputPayload() {
    return assignment.getJob().getInput();
  }

  /**
   * The input as a plain Java value ({@link Payloads#toJava(Value)}: Map, List, String, Long,
   * Double, Boolean, null), or the {@link Any} of a typed input.
   */
  public Object input() {
    return Payloads.toJava(inputPayload());
  }

  /**
   * The JSON input.
   *
   * @throws IllegalStateException when the input is a typed (protobuf) payload
   */
  public Value inputJson() {
    Payload input = inputPayload();
    return switch (input.getKindCase()) {
      case JSON -> input.getJson();
      case KIND_NOT_SET -> Value.getDefaultInstance();
      case PROTO -> throw new IllegalStateException("the input is a typed payload: " + input.getProto().getTypeUrl());
    };
  }

  /**
   * The input as a protobuf message: unpacked from a typed payload, or read from a JSON one
   * through the message's JSON mapping.
   *
   * @throws IllegalArgumentException when the input is of another type
   */
  public <T extends Message> T input(Class<T> type) {
    Payload input = inputPayload();
    if (input.getKindCase() == Payload.KindCase.PROTO) {
      try {
        return input.getProto().unpack(type);
      } catch (InvalidProtocolBufferException e) {
        throw new IllegalArgumentException("the input is not a " + type.getName() + ": " + e.getMessage(), e);
      }
    }
    return Payloads.toMessage(input.getJson(), type);
  }

  /** Reports progress (0..100) and a message: watchers of the job see a progress event. Sent in the background. */
  public void progress(double percent, String message) {
    report(ReportProgressRequest.newBuilder()
        .setProgress(Progress.newBuilder().setPercent(percent).setMessage(message == null ? "" : message)));
  }

  /**
   * Streams a partial output (any value a handler may return) to watchers of the job before its
   * result. Sent in the background.
   *
   * @throws NonRetryableException ({@code jobsvc.PartialOutputTooLarge}) when it is over the
   *     server's payload limit: the attempt fails, as it would on the server
   * @throws IllegalArgumentException when the value has no JSON mapping
   */
  public void partialOutput(Object output) {
    Payload payload = Payloads.toPayload(output);
    long limit = worker.maxPayloadBytes();
    if (limit > 0 && payload.getSerializedSize() > limit) {
      throw new NonRetryableException(
          "jobsvc.PartialOutputTooLarge",
          "partial output of " + payload.getSerializedSize() + " bytes is over the server's limit of " + limit);
    }
    report(ReportProgressRequest.newBuilder().setPartialOutput(payload));
  }

  /**
   * True once the server has cancelled the job (or its lease was lost, or the worker stopped
   * without finishing it): the handler should stop; its outcome is not reported. Its thread is
   * interrupted too.
   */
  public boolean isCancelled() {
    return running.abandoned();
  }

  private void report(ReportProgressRequest.Builder request) {
    if (running.abandoned()) {
      return;
    }
    worker.report(request.setJobId(id()).setAttemptToken(assignment.getAttemptToken()).build());
  }
}
