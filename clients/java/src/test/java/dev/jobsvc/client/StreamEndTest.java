package dev.jobsvc.client;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.jobsvc.v1.GetJobRequest;
import dev.jobsvc.v1.GetJobResponse;
import dev.jobsvc.v1.Job;
import dev.jobsvc.v1.JobEvent;
import dev.jobsvc.v1.JobServiceGrpc;
import dev.jobsvc.v1.JobState;
import dev.jobsvc.v1.JobView;
import dev.jobsvc.v1.StreamRequest;
import dev.jobsvc.v1.StreamResponse;
import dev.jobsvc.v1.StreamServiceGrpc;
import io.grpc.Grpc;
import io.grpc.InsecureServerCredentials;
import io.grpc.Server;
import io.grpc.Status;
import io.grpc.stub.StreamObserver;
import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * A stream that ends OK before the terminal event, against stand-in Stream and Job services on
 * loopback (no live server): over for a finished job, re-opened for a running one.
 */
class StreamEndTest {

  private static final RpcRetryPolicy QUICK = new RpcRetryPolicy(4, Duration.ofMillis(5), Duration.ofMillis(20), 2.0);

  /** The stand-in job "j1": events 1..last, the last one terminal. */
  private volatile long last;
  private volatile JobState state;
  /** Streams that end OK at once, before any event (a server shutting down). */
  private final AtomicInteger drains = new AtomicInteger();
  private final Queue<Long> opened = new ConcurrentLinkedQueue<>();
  private final Queue<JobView> lookups = new ConcurrentLinkedQueue<>();
  private Server server;

  @BeforeEach
  void startServer() throws IOException {
    server =
        Grpc.newServerBuilderForPort(0, InsecureServerCredentials.create())
            .addService(new StandInStreams())
            .addService(new StandInJobs())
            .build()
            .start();
  }

  @AfterEach
  void stopServer() throws InterruptedException {
    server.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
  }

  private List<Long> follow(long afterSequence) {
    List<Long> sequences = new ArrayList<>();
    try (JobsvcClient client =
            JobsvcClient.builder()
                .address("127.0.0.1:" + server.getPort())
                .plaintext()
                .defaultDeadline(Duration.ofSeconds(5))
                .streamResumePolicy(QUICK)
                .build();
        EventStream events = client.stream("j1", afterSequence)) {
      events.forEachRemaining(event -> sequences.add(event.getSequence()));
      assertFalse(events.hasNext());
    }
    return sequences;
  }

  @Test
  void resumedAfterAFinishedJobsLastEventCompletesAfterOneLookup() {
    last = 4;
    state = JobState.JOB_STATE_SUCCEEDED;
    assertEquals(List.of(), follow(4));
    assertEquals(List.of(4L), List.copyOf(opened));
    assertEquals(List.of(JobView.JOB_VIEW_BASIC), List.copyOf(lookups));
  }

  @Test
  void aRunningJobIsResumedWhereItStopped() {
    last = 3;
    state = JobState.JOB_STATE_RUNNING;
    drains.set(2);
    assertEquals(List.of(1L, 2L, 3L), follow(0));
    assertEquals(List.of(0L, 0L, 0L), List.copyOf(opened));
    assertEquals(2, lookups.size());
  }

  @Test
  void aFinishedJobWithEventsLeftIsResumed() {
    last = 3;
    state = JobState.JOB_STATE_FAILED;
    drains.set(1);
    assertEquals(List.of(2L, 3L), follow(1));
  }

  @Test
  void aServerThatKeepsEndingEarlyStillFailsAfterThePolicy() {
    last = 3;
    state = JobState.JOB_STATE_RUNNING;
    drains.set(100);
    JobsvcException error = assertThrows(JobsvcException.class, () -> follow(0));
    assertEquals(Status.Code.UNAVAILABLE, error.code());
    assertEquals(1 + QUICK.maxRetries(), opened.size());
  }

  private final class StandInStreams extends StreamServiceGrpc.StreamServiceImplBase {
    @Override
    public void stream(StreamRequest request, StreamObserver<StreamResponse> response) {
      opened.add(request.getAfterSequence());
      if (drains.getAndDecrement() <= 0) {
        for (long seq = request.getAfterSequence() + 1; seq <= last; seq++) {
          JobEvent.Builder event = JobEvent.newBuilder().setJobId(request.getJobId()).setSequence(seq);
          if (seq == last) {
            event.setSucceeded(JobEvent.Succeeded.getDefaultInstance());
          }
          response.onNext(StreamResponse.newBuilder().setEvent(event).build());
        }
      }
      response.onCompleted();
    }
  }

  private final class StandInJobs extends JobServiceGrpc.JobServiceImplBase {
    @Override
    public void getJob(GetJobRequest request, StreamObserver<GetJobResponse> response) {
      lookups.add(request.getView());
      Job job = Job.newBuilder().setId(request.getId()).setState(state).setLastSequence(last).build();
      response.onNext(GetJobResponse.newBuilder().setJob(job).build());
      response.onCompleted();
    }
  }
}
