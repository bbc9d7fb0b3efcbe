package dev.jobsvc.client;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.jobsvc.v1.Job;
import dev.jobsvc.v1.JobEvent;
import dev.jobsvc.v1.JobEvent.KindCase;
import dev.jobsvc.v1.JobState;
import dev.jobsvc.v1.JobView;
import io.grpc.Status;
import io.grpc.stub.StreamObserver;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.stream.LongStream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Event streams on the live server: content, resumption after a cut connection and after a
 * finished job's last event, cancellation.
 */
class StreamTest {

  private static JobsvcClient client;

  @BeforeAll
  static void connect() {
    client = LiveServer.client();
  }

  @AfterAll
  static void disconnect() {
    if (client != null) {
      client.close();
    }
  }

  @Test
  void streamCarriesProgressPartialOutputAndResult() {
    List<JobEvent> events = new ArrayList<>();
    try (EventStream stream = client.stream(JobSpecs.of("steps", Map.of("count", 3)))) {
      stream.forEachRemaining(events::add);
      assertEquals(events.get(0).getJobId(), stream.jobId().orElseThrow());
    }

    assertGapFree(events);
    assertEquals(KindCase.QUEUED, events.get(0).getKindCase());
    assertEquals("steps", events.get(0).getQueued().getHandler());
    assertEquals(KindCase.STARTED, events.get(1).getKindCase());
    List<Object> partials =
        events.stream()
            .filter(e -> e.getKindCase() == KindCase.PARTIAL_OUTPUT)
            .map(e -> Payloads.toJava(e.getPartialOutput().getOutput()))
            .toList();
    assertEquals(List.of(Map.of("step", 1L), Map.of("step", 2L), Map.of("step", 3L)), partials);
    List<String> progress =
        events.stream()
            .filter(e -> e.getKindCase() == KindCase.PROGRESS)
            .map(e -> e.getProgress().getMessage())
            .toList();
    assertEquals(List.of("step 1/3", "step 2/3", "step 3/3"), progress);
    JobEvent last = events.get(events.size() - 1);
    assertEquals(KindCase.SUCCEEDED, last.getKindCase());
    assertEquals(Map.of("steps", 3L), Payloads.toJava(last.getSucceeded().getResult()));
  }

  @Test
  void streamResumesAfterTheConnectionIsCut() throws Exception {
    List<JobEvent> events = new ArrayList<>();
    try (TcpProxy proxy = new TcpProxy(LiveServer.address());
        JobsvcClient proxied = LiveServer.client(proxy.address());
        // 1.5 s of events after the cut: the cut lands mid-stream even on a slow machine.
        EventStream stream = proxied.stream(JobSpecs.of("steps", Map.of("count", 5, "pause", 0.3)))) {
      while (stream.hasNext()) {
        JobEvent event = stream.next();
        events.add(event);
        if (event.getSequence() == 3) {
          proxy.cut();
        }
      }
      assertTrue(stream.reconnects() >= 1, "the stream was never re-opened");
      assertTrue(proxy.accepted() >= 2, "no second connection");
    }

    assertGapFree(events);
    assertEquals(1 + 1 + 2 * 5 + 1, events.size()); // queued, started, 5 x (progress, partial), succeeded
    JobEvent last = events.get(events.size() - 1);
    assertEquals(Map.of("steps", 5L), Payloads.toJava(last.getSucceeded().getResult()));
  }

  @Test
  void streamAttachesAfterASequence() {
    Job job = client.call("steps", Map.of("count", 2));
    List<JobEvent> events = new ArrayList<>();
    try (EventStream stream = client.stream(job.getId(), 2)) {
      stream.forEachRemaining(events::add);
    }
    assertEquals(LongStream.rangeClosed(3, job.getLastSequence()).boxed().toList(), sequences(events));
  }

  @Test
  void streamResumedAtAFinishedJobsLastSequenceEndsAtOnce() throws Exception {
    Job job = client.submit("steps", Map.of("count", 1));
    long giveUp = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
    while (job.getState() != JobState.JOB_STATE_SUCCEEDED) {
      assertTrue(System.nanoTime() < giveUp, "the job did not finish: " + job.getState());
      Thread.sleep(50);
      job = client.get(job.getId(), JobView.JOB_VIEW_BASIC);
    }
    long last = job.getLastSequence();
    assertTrue(last > 0, "no last sequence");
    String id = job.getId();

    // Before the end-of-job check this re-opened the stream per the resume policy (seconds of
    // backoff) and then failed with UNAVAILABLE "ended before the job's terminal event".
    CompletableFuture<List<JobEvent>> resumed =
        CompletableFuture.supplyAsync(
            () -> {
              List<JobEvent> events = new ArrayList<>();
              try (EventStream stream = client.stream(id, last)) {
                stream.forEachRemaining(events::add);
                assertEquals(0, stream.reconnects());
              }
              return events;
            });
    assertEquals(List.of(), resumed.get(3, TimeUnit.SECONDS));

    CompletableFuture<JobsvcException> beyond =
        CompletableFuture.supplyAsync(
            () -> {
              try (EventStream stream = client.stream(id, last + 5)) {
                JobsvcException error = assertThrows(JobsvcException.class, stream::hasNext);
                assertEquals(0, stream.reconnects(), "OUT_OF_RANGE was retried");
                return error;
              }
            });
    JobsvcException error = beyond.get(3, TimeUnit.SECONDS);
    assertEquals(Status.Code.OUT_OF_RANGE, error.code());
    assertEquals("SEQUENCE_NOT_REACHED", error.reason());
    assertEquals(String.valueOf(last), error.metadata().get("last_sequence"));
  }

  @Test
  void streamAsyncDeliversEveryEventThenCompletes() throws Exception {
    List<JobEvent> events = new CopyOnWriteArrayList<>();
    CompletableFuture<Void> done = new CompletableFuture<>();
    StreamObserver<JobEvent> observer =
        new StreamObserver<>() {
          @Override
          public void onNext(JobEvent event) {
            events.add(event);
          }

          @Override
          public void onError(Throwable error) {
            done.completeExceptionally(error);
          }

          @Override
          public void onCompleted() {
            done.complete(null);
          }
        };
    try (Subscription subscription = client.streamAsync(JobSpecs.of("chunks", Map.of("count", 2)), observer)) {
      done.get(20, TimeUnit.SECONDS);
      assertEquals(events.size(), subscription.lastSequence());
    }
    assertGapFree(events);
    assertEquals(List.of("chunk-0", "chunk-1"), Payloads.toJava(events.get(events.size() - 1).getSucceeded().getResult()));
  }

  @Test
  void cancelStopsARunningJob() {
    Job job = client.submit("wait_cancel", null);
    List<KindCase> kinds = new ArrayList<>();
    try (EventStream stream = client.stream(job.getId(), 0)) {
      while (stream.hasNext()) {
        JobEvent event = stream.next();
        kinds.add(event.getKindCase());
        if (event.getKindCase() == KindCase.STARTED) {
          client.cancel(job.getId(), "test is done");
        }
      }
    }

    assertEquals(List.of(KindCase.QUEUED, KindCase.STARTED, KindCase.CANCELLED), kinds);
    assertEquals(JobState.JOB_STATE_CANCELLED, client.get(job.getId()).getState());
    assertEquals(JobState.JOB_STATE_CANCELLED, client.cancel(job.getId()).getState()); // a no-op
  }

  @Test
  void cancelOfAFinishedJobIsRefused() {
    Job done = client.call("echo", 1);
    JobsvcException error = assertThrows(JobsvcException.class, () -> client.cancel(done.getId()));
    assertEquals(Status.Code.FAILED_PRECONDITION, error.code());
    assertEquals("JOB_ALREADY_FINISHED", error.reason());
  }

  @Test
  void callResultOfACancelledJobThrows() throws Exception {
    String tag = UUID.randomUUID().toString();
    SubmitOptions options =
        SubmitOptions.builder().label("test", tag).deadline(Duration.ofSeconds(20)).build();
    CompletableFuture<Object> result = CompletableFuture.supplyAsync(() -> client.callResult("wait_cancel", null, options));

    Job job = awaitJob(tag);
    client.cancel(job.getId());

    ExecutionException error = assertThrows(ExecutionException.class, () -> result.get(20, TimeUnit.SECONDS));
    JobCancelledException cancelled = assertInstanceOf(JobCancelledException.class, error.getCause());
    assertEquals(job.getId(), cancelled.jobId());
  }

  /** The queued or running job with this test label (the Call that made it is still waiting). */
  private static Job awaitJob(String tag) throws InterruptedException {
    long giveUp = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    while (System.nanoTime() < giveUp) {
      var found =
          client
              .listAll(JobState.JOB_STATE_QUEUED, JobState.JOB_STATE_RUNNING)
              .filter(job -> tag.equals(job.getLabelsOrDefault("test", "")))
              .findFirst();
      if (found.isPresent()) {
        return found.get();
      }
      Thread.sleep(50);
    }
    throw new AssertionError("the called job never showed up");
  }

  private static List<Long> sequences(List<JobEvent> events) {
    return events.stream().map(JobEvent::getSequence).toList();
  }

  /** Sequences 1..n, each once, in order, ending with the one terminal event. */
  private static void assertGapFree(List<JobEvent> events) {
    assertEquals(LongStream.rangeClosed(1, events.size()).boxed().toList(), sequences(events));
    assertTrue(ResumableStream.isTerminal(events.get(events.size() - 1)), "no terminal event at the end");
    assertEquals(1, events.stream().filter(ResumableStream::isTerminal).count());
  }
}
