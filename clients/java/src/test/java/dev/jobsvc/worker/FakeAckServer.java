package dev.jobsvc.worker;

import static org.junit.jupiter.api.Assertions.assertNotNull;

import com.google.protobuf.util.Durations;
import dev.jobsvc.v1.AckServiceGrpc;
import dev.jobsvc.v1.Assignment;
import dev.jobsvc.v1.Job;
import dev.jobsvc.v1.Payload;
import dev.jobsvc.v1.WorkRequest;
import dev.jobsvc.v1.WorkResponse;
import io.grpc.Grpc;
import io.grpc.InsecureServerCredentials;
import io.grpc.Server;
import io.grpc.Status;
import io.grpc.stub.StreamObserver;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

/** A scripted AckService on a local port: each Work stream is a {@link Session} the test drives. */
final class FakeAckServer implements AutoCloseable {

  private final BlockingQueue<Session> sessions = new LinkedBlockingQueue<>();
  private final Server server;

  FakeAckServer() throws IOException {
    server =
        Grpc.newServerBuilderForPort(0, InsecureServerCredentials.create())
            .addService(
                new AckServiceGrpc.AckServiceImplBase() {
                  @Override
                  public StreamObserver<WorkRequest> work(StreamObserver<WorkResponse> responses) {
                    Session session = new Session(responses);
                    sessions.add(session);
                    return session;
                  }
                })
            .build()
            .start();
  }

  String target() {
    return "127.0.0.1:" + server.getPort();
  }

  Session nextSession() throws InterruptedException {
    Session session = sessions.poll(10, TimeUnit.SECONDS);
    assertNotNull(session, "the worker opened no stream");
    return session;
  }

  @Override
  public void close() {
    server.shutdownNow();
  }

  static WorkResponse welcome(boolean batches, long maxMessageBytes, long heartbeatMillis) {
    return WorkResponse.newBuilder()
        .setWelcome(
            WorkResponse.Welcome.newBuilder()
                .setSessionId("fake")
                .setLeaseDuration(Durations.fromSeconds(30))
                .setHeartbeatInterval(Durations.fromMillis(heartbeatMillis))
                .setAcceptsBatches(batches)
                .setMaxMessageBytes(maxMessageBytes)
                .setMaxPayloadBytes(1 << 20))
        .build();
  }

  static Assignment assignment(String jobId, String token, String handler) {
    return Assignment.newBuilder()
        .setJob(Job.newBuilder().setId(jobId).setHandler(handler).setVersion("1.0.0").setAttempt(1)
            .setInput(Payload.newBuilder().setJson(com.google.protobuf.Value.newBuilder().setNumberValue(1))))
        .setAttemptToken(token)
        .build();
  }

  static WorkResponse assign(Assignment... assignments) {
    if (assignments.length == 1) {
      return WorkResponse.newBuilder().setAssignment(assignments[0]).build();
    }
    return WorkResponse.newBuilder()
        .setAssignments(WorkResponse.Assignments.newBuilder().addAllItems(List.of(assignments)))
        .build();
  }

  static WorkResponse.Settled ok(String jobId, String token) {
    return WorkResponse.Settled.newBuilder().setJobId(jobId).setAttemptToken(token).build();
  }

  /** A message as the singles it stands for (a batch's items). */
  static List<WorkRequest> singles(WorkRequest request) {
    if (request.getKindCase() != WorkRequest.KindCase.BATCH) {
      return List.of(request);
    }
    List<WorkRequest> out = new ArrayList<>();
    for (WorkRequest.Batch.Item item : request.getBatch().getItemsList()) {
      WorkRequest.Builder single = WorkRequest.newBuilder();
      switch (item.getKindCase()) {
        case ACK -> single.setAck(item.getAck());
        case NACK -> single.setNack(item.getNack());
        case REJECT -> single.setReject(item.getReject());
        case PROGRESS -> single.setProgress(item.getProgress());
        default -> throw new AssertionError("empty batch item");
      }
      out.add(single.build());
    }
    return out;
  }

  /** One Work stream, from the server's side. */
  static final class Session implements StreamObserver<WorkRequest> {
    private final StreamObserver<WorkResponse> responses;
    final BlockingQueue<WorkRequest> received = new LinkedBlockingQueue<>();
    final CompletableFuture<Status> ended = new CompletableFuture<>();

    Session(StreamObserver<WorkResponse> responses) {
      this.responses = responses;
    }

    /** The next message the worker sent, heartbeats skipped unless asked for. */
    WorkRequest next(boolean heartbeats) throws InterruptedException {
      while (true) {
        WorkRequest request = received.poll(10, TimeUnit.SECONDS);
        assertNotNull(request, "the worker sent nothing more");
        if (heartbeats || request.getKindCase() != WorkRequest.KindCase.HEARTBEAT) {
          return request;
        }
      }
    }

    WorkRequest next() throws InterruptedException {
      return next(false);
    }

    synchronized void send(WorkResponse response) {
      responses.onNext(response);
    }

    synchronized void fail(Status status) {
      responses.onError(status.asRuntimeException());
    }

    synchronized void complete() {
      responses.onCompleted();
    }

    @Override
    public void onNext(WorkRequest request) {
      received.add(request);
    }

    @Override
    public void onError(Throwable error) {
      ended.complete(Status.fromThrowable(error));
    }

    @Override
    public void onCompleted() {
      ended.complete(Status.OK);
      try {
        complete(); // the worker hung up: so does the server, as jobsvc does
      } catch (IllegalStateException e) {
        // ended already
      }
    }
  }
}
