package dev.jobsvc.client;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.jobsvc.v1.GetJobRequest;
import dev.jobsvc.v1.GetJobResponse;
import dev.jobsvc.v1.Job;
import dev.jobsvc.v1.JobEvent;
import dev.jobsvc.v1.JobSpec;
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
import java.util.function.Function;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * A stream that ends OK before the terminal event, against stand-in Stream and Job services on
 * loopback (no live server): over for a finished job, re-opened for a running one. Also events
 * that come batched per message: handed out one by one, resumed after the last one.
 */
class StreamEndTest {

  private static final RpcRetryPolicy QUICK = new RpcRetryPolicy(4, Duration.ofMillis(5), Duration.ofMillis(20), 2.0);

  /** The stand-in job "j1": events 1..last, the last one terminal. */
  private volatile long last;
  private volatile JobState state;
  /** Streams that end OK at once, before any event (a server shutting down). */
  private final AtomicInteger drains = new AtomicInteger();
  /**
   * Each stream's first messages' sizes in {@code events}; 0 (and every message after them) is one
   * event in {@code event}, as an older server sends it.
   */
  private volatile int[] batches = {};
  /** Above 0: the first stream fails UNAVAILABLE right after the message holding this sequence. */
  private volatile long dropAfter;
  private final Queue<StreamRequest> opened = new ConcurrentLinkedQueue<>();
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
    return follow(client -> client.stream("j1", afterSequence));
  }

  private List<Long> follow(Function<JobsvcClient, EventStream> open) {
    List<Long> sequences = new ArrayList<>();
    try (JobsvcClient client =
            JobsvcClient.builder()
                .address("127.0.0.1:" + server.getPort())
                .plaintext()
                .defaultDeadline(Duration.ofSeconds(5))
                .streamResumePolicy(QUICK)
                .build();
        EventStream events = open.apply(client)) {
      events.forEachRemaining(event -> sequences.add(event.getSequence()));
      assertFalse(events.hasNext());
    }
    return sequences;
  }

  /** The after_sequence of each stream opened so far. */
  private List<Long> afters() {
    return opened.stream().map(StreamRequest::getAfterSequence).toList();
  }

  @Test
  void resumedAfterAFinishedJobsLastEventCompletesAfterOneLookup() {
    last = 4;
    state = JobState.JOB_STATE_SUCCEEDED;
    assertEquals(List.of(), follow(4));
    assertEquals(List.of(4L), afters());
    assertEquals(List.of(JobView.JOB_VIEW_BASIC), List.copyOf(lookups));
  }

  @Test
  void aRunningJobIsResumedWhereItStopped() {
    last = 3;
    state = JobState.JOB_STATE_RUNNING;
    drains.set(2);
    assertEquals(List.of(1L, 2L, 3L), follow(0));
    assertEquals(List.of(0L, 0L, 0L), afters());
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

  @Test
  void batchedAndSingleEventsComeOutOneByOneAndADropResumesAfterTheLastOne() {
    last = 12;
    state = JobState.JOB_STATE_RUNNING;
    batches = new int[] {3, 0, 3, 2};
    dropAfter = 7; // the first stream drops after the batch 5..7
    JobSpec spec = JobSpec.newBuilder().setHandler("steps").build();
    assertEquals(List.of(1L, 2L, 3L, 4L, 5L, 6L, 7L, 8L, 9L, 10L, 11L, 12L), follow(client -> client.stream(spec)));
    List<StreamRequest> requests = List.copyOf(opened);
    assertEquals(2, requests.size());
    assertEquals(spec, requests.get(0).getSubmit());
    assertEquals("j1", requests.get(1).getJobId());
    assertEquals(List.of(0L, 7L), afters());
    for (StreamRequest request : requests) {
      assertEquals(ResumableStream.EVENTS_PER_MESSAGE, request.getMaxEventsPerMessage());
    }
    assertEquals(1000, ResumableStream.EVENTS_PER_MESSAGE);
  }

  private final class StandInStreams extends StreamServiceGrpc.StreamServiceImplBase {
    @Override
    public void stream(StreamRequest request, StreamObserver<StreamResponse> response) {
      opened.add(request);
      boolean drop = dropAfter > 0 && opened.size() == 1;
      if (drains.getAndDecrement() <= 0) {
        long seq = request.getAfterSequence() + 1;
        for (int message = 0; seq <= last; message++) {
          int size = message < batches.length ? batches[message] : 0;
          StreamResponse.Builder next = StreamResponse.newBuilder();
          for (long end = Math.min(last, seq + Math.max(size, 1) - 1); seq <= end; seq++) {
            JobEvent event = event(seq);
            if (size == 0) {
              next.setEvent(event);
            } else {
              next.addEvents(event);
            }
          }
          response.onNext(next.build());
          if (drop && seq > dropAfter) {
            response.onError(Status.UNAVAILABLE.withDescription("connection dropped").asRuntimeException());
            return;
          }
        }
      }
      response.onCompleted();
    }

    /** The job's event {@code seq}, the last one succeeded. */
    private JobEvent event(long seq) {
      JobEvent.Builder event = JobEvent.newBuilder().setJobId("j1").setSequence(seq);
      if (seq == last) {
        event.setSucceeded(JobEvent.Succeeded.getDefaultInstance());
      }
      return event.build();
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
