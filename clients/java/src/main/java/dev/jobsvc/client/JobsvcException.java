package dev.jobsvc.client;

import com.google.protobuf.Any;
import com.google.protobuf.InvalidProtocolBufferException;
import com.google.rpc.BadRequest;
import com.google.rpc.ErrorInfo;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.protobuf.StatusProto;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * A failed jobsvc RPC: its gRPC status code and the {@code google.rpc} details the server sent,
 * {@code ErrorInfo} (a stable {@link #reason()} and {@link #metadata()}) and {@code BadRequest}
 * ({@link #fieldViolations()}). The {@link #getCause() cause} is the gRPC exception.
 *
 * <p>A job that ran and failed is not an RPC error: see {@link JobFailedException}.
 */
public final class JobsvcException extends RuntimeException {

  private static final long serialVersionUID = 1L;

  /** The {@code ErrorInfo.domain} of errors that jobsvc itself raises. */
  public static final String DOMAIN = "jobsvc.v1";

  /**
   * One bad field of a request.
   *
   * @param field path of the request field, for example {@code job.input.name}
   * @param description what is wrong with it
   */
  public record FieldViolation(String field, String description) {}

  private final Status.Code code;
  private final String description;
  private final String reason;
  private final String domain;
  private final Map<String, String> metadata;
  private final List<FieldViolation> fieldViolations;
  private final String jobId;

  private JobsvcException(Throwable cause, String jobId) {
    super(cause);
    Status status = Status.fromThrowable(cause);
    this.code = status.getCode();
    this.description = status.getDescription() == null ? "" : status.getDescription();
    this.jobId = jobId;
    ErrorInfo info = ErrorInfo.getDefaultInstance();
    BadRequest badRequest = BadRequest.getDefaultInstance();
    com.google.rpc.Status details = StatusProto.fromThrowable(cause);
    for (Any detail : details == null ? List.<Any>of() : details.getDetailsList()) {
      if (detail.is(ErrorInfo.class)) {
        info = unpack(detail, ErrorInfo.class, info);
      } else if (detail.is(BadRequest.class)) {
        badRequest = unpack(detail, BadRequest.class, badRequest);
      }
    }
    this.reason = info.getReason();
    this.domain = info.getDomain();
    this.metadata = Map.copyOf(info.getMetadataMap());
    this.fieldViolations =
        badRequest.getFieldViolationsList().stream()
            .map(v -> new FieldViolation(v.getField(), v.getDescription()))
            .toList();
  }

  /** The exception for a failed RPC (usually a {@link StatusRuntimeException}). */
  public static JobsvcException from(Throwable error) {
    return from(error, null);
  }

  /**
   * The exception for a failed RPC that concerns a known job (for example a {@code Call} whose
   * deadline passed after the server sent the job id).
   */
  public static JobsvcException from(Throwable error, String jobId) {
    return error instanceof JobsvcException known ? known : new JobsvcException(error, jobId);
  }

  /** The gRPC status code. */
  public Status.Code code() {
    return code;
  }

  /** The status message. */
  public String description() {
    return description;
  }

  /** {@code ErrorInfo.reason}, for example {@code HANDLER_NOT_FOUND}; empty when not sent. */
  public String reason() {
    return reason;
  }

  /** {@code ErrorInfo.domain}: {@value #DOMAIN} for jobsvc's own errors; empty when not sent. */
  public String domain() {
    return domain;
  }

  /** {@code ErrorInfo.metadata}, for example {@code available_versions}. */
  public Map<String, String> metadata() {
    return metadata;
  }

  /** The bad fields of the request ({@code BadRequest}), in the server's order. */
  public List<FieldViolation> fieldViolations() {
    return fieldViolations;
  }

  /**
   * The id of the job the RPC made or followed, when the server sent it: a {@code Call} that
   * ended with DEADLINE_EXCEEDED leaves a job that {@link JobsvcClient#get} fetches later.
   */
  public Optional<String> jobId() {
    return Optional.ofNullable(jobId);
  }

  @Override
  public String getMessage() {
    StringBuilder message = new StringBuilder(code.name());
    if (!description.isEmpty()) {
      message.append(": ").append(description);
    }
    if (!reason.isEmpty()) {
      message.append(" [").append(reason).append(']');
    }
    for (FieldViolation violation : fieldViolations) {
      message.append("\n  ").append(violation.field()).append(": ").append(violation.description());
    }
    return message.toString();
  }

  private static <T extends com.google.protobuf.Message> T unpack(Any detail, Class<T> type, T fallback) {
    try {
      return detail.unpack(type);
    } catch (InvalidProtocolBufferException e) {
      return fallback;
    }
  }
}
