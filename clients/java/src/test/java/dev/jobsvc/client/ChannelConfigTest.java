package dev.jobsvc.client;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import com.google.protobuf.Any;
import com.google.rpc.BadRequest;
import com.google.rpc.ErrorInfo;
import dev.jobsvc.v1.GetJobRequest;
import dev.jobsvc.v1.GetJobResponse;
import dev.jobsvc.v1.Job;
import dev.jobsvc.v1.JobServiceGrpc;
import io.grpc.Grpc;
import io.grpc.InsecureServerCredentials;
import io.grpc.Metadata;
import io.grpc.Server;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.ServerInterceptors;
import io.grpc.Status;
import io.grpc.protobuf.StatusProto;
import io.grpc.stub.StreamObserver;
import java.io.IOException;
import java.time.Duration;
import java.util.List;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** Token, retries and error details, against a stand-in JobService on loopback (no live server). */
class ChannelConfigTest {

  private static final RpcRetryPolicy QUICK = new RpcRetryPolicy(3, Duration.ofMillis(10), Duration.ofMillis(50), 2.0);

  private final Queue<String> authorizations = new ConcurrentLinkedQueue<>();
  private final AtomicInteger getJobCalls = new AtomicInteger();
  private volatile int unavailableAnswers;
  private Server server;

  @BeforeEach
  void startServer() throws IOException {
    ServerInterceptor recordAuthorization =
        new ServerInterceptor() {
          @Override
          public <Q, R> ServerCall.Listener<Q> interceptCall(
              ServerCall<Q, R> call, Metadata headers, ServerCallHandler<Q, R> next) {
            String value = headers.get(JobsvcClientBuilder.AUTHORIZATION);
            authorizations.add(value == null ? "" : value);
            return next.startCall(call, headers);
          }
        };
    server =
        Grpc.newServerBuilderForPort(0, InsecureServerCredentials.create())
            .addService(ServerInterceptors.intercept(new StandInJobService(), recordAuthorization))
            .build()
            .start();
  }

  @AfterEach
  void stopServer() throws InterruptedException {
    server.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
  }

  private JobsvcClient client(RpcRetryPolicy retryPolicy, String token) {
    return JobsvcClient.builder()
        .address("127.0.0.1:" + server.getPort())
        .plaintext()
        .token(token)
        .retryPolicy(retryPolicy)
        .build();
  }

  @Test
  void tokenIsSentAsBearer() {
    try (JobsvcClient client = client(QUICK, "s3cret")) {
      assertEquals("job-1", client.get("job-1").getId());
    }
    assertEquals(List.of("Bearer s3cret"), List.copyOf(authorizations));
  }

  @Test
  void readsAreRetriedOnUnavailable() {
    unavailableAnswers = 2;
    try (JobsvcClient client = client(QUICK, null)) {
      assertEquals("job-1", client.get("job-1").getId());
    }
    assertEquals(3, getJobCalls.get());
  }

  @Test
  void noRetryPolicyMeansOneAttempt() {
    unavailableAnswers = 1;
    try (JobsvcClient client = client(RpcRetryPolicy.none(), null)) {
      JobsvcException error = assertThrows(JobsvcException.class, () -> client.get("job-1"));
      assertEquals(Status.Code.UNAVAILABLE, error.code());
    }
    assertEquals(1, getJobCalls.get());
  }

  @Test
  void errorDetailsAreRead() {
    try (JobsvcClient client = client(QUICK, null)) {
      JobsvcException error = assertThrows(JobsvcException.class, () -> client.get("bad"));
      assertEquals(Status.Code.INVALID_ARGUMENT, error.code());
      assertEquals("id is not a job id", error.description());
      assertEquals("MALFORMED_ID", error.reason());
      assertEquals(java.util.Map.of("id", "bad"), error.metadata());
      assertEquals(List.of(new JobsvcException.FieldViolation("id", "must be a UUID")), error.fieldViolations());
      assertEquals("INVALID_ARGUMENT: id is not a job id [MALFORMED_ID]\n  id: must be a UUID", error.getMessage());
    }
  }

  /** GetJob answers UNAVAILABLE {@code unavailableAnswers} times, then the job; "bad" is invalid. */
  private final class StandInJobService extends JobServiceGrpc.JobServiceImplBase {
    @Override
    public void getJob(GetJobRequest request, StreamObserver<GetJobResponse> response) {
      if (getJobCalls.incrementAndGet() <= unavailableAnswers) {
        response.onError(Status.UNAVAILABLE.withDescription("try again").asRuntimeException());
      } else if (request.getId().equals("bad")) {
        response.onError(StatusProto.toStatusRuntimeException(invalidId(request.getId())));
      } else {
        response.onNext(GetJobResponse.newBuilder().setJob(Job.newBuilder().setId(request.getId())).build());
        response.onCompleted();
      }
    }

    private com.google.rpc.Status invalidId(String id) {
      ErrorInfo info = ErrorInfo.newBuilder().setReason("MALFORMED_ID").setDomain("jobsvc.v1").putMetadata("id", id).build();
      BadRequest bad =
          BadRequest.newBuilder()
              .addFieldViolations(BadRequest.FieldViolation.newBuilder().setField("id").setDescription("must be a UUID"))
              .build();
      return com.google.rpc.Status.newBuilder()
          .setCode(Status.Code.INVALID_ARGUMENT.value())
          .setMessage("id is not a job id")
          .addDetails(Any.pack(info))
          .addDetails(Any.pack(bad))
          .build();
    }
  }
}
