package dev.jobsvc.worker;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.util.Durations;
import dev.jobsvc.client.EventStream;
import dev.jobsvc.client.JobSpecs;
import dev.jobsvc.client.JobsvcClient;
import dev.jobsvc.client.JobsvcException;
import dev.jobsvc.client.Payloads;
import dev.jobsvc.client.TcpProxy;
import dev.jobsvc.v1.HandlerInfo;
import dev.jobsvc.v1.Job;
import dev.jobsvc.v1.JobError;
import dev.jobsvc.v1.JobEvent;
import dev.jobsvc.v1.JobEvent.KindCase;
import dev.jobsvc.v1.JobSpec;
import dev.jobsvc.v1.JobState;
import dev.jobsvc.v1.JobView;
import dev.jobsvc.v1.RetryPolicy;
import io.grpc.Grpc;
import io.grpc.InsecureChannelCredentials;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * A Java worker on the live server in {@code JOBSVC_SERVER}: many jobs at once, retries and
 * failures, cancellation, progress on a stream. Its handlers ({@code java_live_*}) are served by
 * this worker only.
 */
class WorkerLiveTest {

  private static final int CONCURRENCY = 32;
  private static final AtomicInteger inFlight = new AtomicInteger();
  private static final AtomicInteger mostInFlight = new AtomicInteger();
  private static final CompletableFuture<String> blockedHandlerEnd = new CompletableFuture<>();

  private static final WorkTraffic traffic = new WorkTraffic();
  private static JobsvcClient client;
  private static ManagedChannel channel;
  private static JobsvcWorker worker;
  private static CompletableFuture<Void> stopped;

  @BeforeAll
  static void startWorker() throws InterruptedException {
    client = Live.client();
    channel =
        Grpc.newChannelBuilder(Live.address(), InsecureChannelCredentials.create()).intercept(traffic).build();
    worker =
        JobsvcWorker.builder()
            .channel(channel)
            .workerId("java-live-test")
            .concurrency(CONCURRENCY)
            .leaseDuration(Duration.ofSeconds(10))
            .shutdownGrace(Duration.ofSeconds(5))
            .handle("java_live_double", "1.0.0", WorkerLiveTest::doubled)
            .handle(
                HandlerInfo.newBuilder()
                    .setName("java_live_fail")
                    .setVersion("1.0.0")
                    .setRetryPolicy(
                        RetryPolicy.newBuilder()
                            .setMaximumAttempts(3)
                            .setInitialInterval(Durations.fromMillis(10))
                            .setBackoffCoefficient(1.0))
                    .build(),
                job -> {
                  throw new IllegalStateException("boom on attempt " + job.attempt());
                })
            .handle("java_live_nonretryable", "1.0.0", job -> {
              throw new NonRetryableException("ValueError", "nope");
            })
            .handle("java_live_block", "1.0.0", WorkerLiveTest::block)
            .handle("java_live_steps", "1.0.0", WorkerLiveTest::steps)
            .build();
    stopped = worker.start();
    assertTrue(worker.awaitConnected(Duration.ofSeconds(20)), "the worker did not connect");
    for (String name : List.of("java_live_double", "java_live_fail", "java_live_block", "java_live_steps")) {
      Live.awaitOnline(client, name);
    }
  }

  @AfterAll
  static void stopWorker() throws Exception {
    if (worker != null) {
      worker.close();
      stopped.get(30, TimeUnit.SECONDS); // drained and ended without error
    }
    if (channel != null) {
      channel.shutdownNow();
    }
    if (client != null) {
      client.close();
    }
  }

  private static Object doubled(JobContext job) throws InterruptedException {
    int now = inFlight.incrementAndGet();
    mostInFlight.accumulateAndGet(now, Math::max);
    try {
      Thread.sleep(20);
      long n = (Long) ((Map<?, ?>) job.input()).get("n");
      return Map.of("n", n, "doubled", 2 * n);
    } finally {
      inFlight.decrementAndGet();
    }
  }

  private static Object block(JobContext job) {
    job.progress(10, "waiting");
    try {
      Thread.sleep(60_000);
      blockedHandlerEnd.complete("not stopped");
    } catch (InterruptedException e) {
      blockedHandlerEnd.complete(job.isCancelled() ? "interrupted, cancelled" : "interrupted");
    }
    return "late";
  }

  private static Object steps(JobContext job) {
    long count = (Long) ((Map<?, ?>) job.input()).get("count");
    for (long i = 1; i <= count; i++) {
      job.partialOutput(Map.of("step", i));
      job.progress(100.0 * i / count, "step " + i + "/" + count);
    }
    return Map.of("steps", count);
  }

  @Test
  void twoHundredJobsAllSucceedWithTheirResults() throws InterruptedException {
    List<JobSpec> specs = new ArrayList<>();
    for (int i = 0; i < 200; i++) {
      specs.add(JobSpecs.of("java_live_double", Map.of("n", i)));
    }
    long acksBefore = traffic.sent("ACK") + traffic.sent("item:ACK");
    long batchesBefore = traffic.sent("BATCH");
    List<Job> jobs = client.submitBatch(specs);
    assertEquals(200, jobs.size());
    Map<String, Job> finished = new HashMap<>();
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
    while (finished.size() < jobs.size() && System.nanoTime() < deadline) {
      for (Job job : jobs) {
        if (!finished.containsKey(job.getId())) {
          Job now = client.get(job.getId());
          if (now.getState() == JobState.JOB_STATE_SUCCEEDED || now.getState() == JobState.JOB_STATE_FAILED) {
            finished.put(job.getId(), now);
          }
        }
      }
      Thread.sleep(100);
    }
    assertEquals(200, finished.size(), "jobs not finished in time");
    for (int i = 0; i < jobs.size(); i++) {
      Job job = finished.get(jobs.get(i).getId());
      assertEquals(JobState.JOB_STATE_SUCCEEDED, job.getState(), job.toString());
      assertEquals(Map.of("n", (long) i, "doubled", 2L * i), Payloads.toJava(job.getResult()));
      assertEquals(1, job.getAttempt());
    }
    assertTrue(mostInFlight.get() > 1, "jobs ran one at a time");
    // Each ack went once, alone or in a batch; with 32 jobs finishing together, some in batches.
    String counts = "sent " + traffic.sent + ", received " + traffic.received;
    assertEquals(200, traffic.sent("ACK") + traffic.sent("item:ACK") - acksBefore, counts);
    assertTrue(traffic.sent("BATCH") > batchesBefore, "no batch was sent: " + counts);
    assertTrue(traffic.received("ASSIGNMENTS") + traffic.received("SETTLED_BATCH") > 0, "none came batched: " + counts);
    assertTrue(mostInFlight.get() <= CONCURRENCY, "more jobs ran at once than the concurrency: " + mostInFlight);
  }

  @Test
  void aFailingHandlerIsRetriedPerItsPolicyThenFails() {
    Job job = client.call("java_live_fail", Map.of());
    assertEquals(JobState.JOB_STATE_FAILED, job.getState());
    assertEquals(3, job.getAttempt());
    JobError error = job.getError();
    assertEquals("java.lang.IllegalStateException", error.getType());
    assertEquals("boom on attempt 3", error.getMessage());
    assertEquals(3, error.getAttempt());
    assertTrue(error.getTraceback().contains("java.lang.IllegalStateException: boom on attempt 3"), error.getTraceback());
    assertTrue(error.getTraceback().contains("WorkerLiveTest"), error.getTraceback());
    List<String> messages = job.getAttemptErrorsList().stream().map(JobError::getMessage).toList();
    assertEquals(List.of("boom on attempt 1", "boom on attempt 2", "boom on attempt 3"), messages);
  }

  @Test
  void aNonRetryableErrorFailsAtOnce() {
    Job job = client.call("java_live_nonretryable", null);
    assertEquals(JobState.JOB_STATE_FAILED, job.getState());
    assertEquals(1, job.getAttempt());
    assertEquals("ValueError", job.getError().getType());
    assertEquals("nope", job.getError().getMessage());
    assertTrue(job.getError().getNonRetryable());
  }

  @Test
  void cancellingARunningJobStopsItsHandler() throws Exception {
    List<KindCase> kinds = new ArrayList<>();
    String jobId;
    try (EventStream events = client.stream(JobSpecs.of("java_live_block", null))) {
      while (events.hasNext()) {
        JobEvent event = events.next();
        kinds.add(event.getKindCase());
        if (event.getKindCase() == KindCase.PROGRESS) {
          client.cancel(event.getJobId(), "test");
        }
      }
      jobId = events.jobId().orElseThrow();
    }
    assertEquals(KindCase.CANCELLED, kinds.get(kinds.size() - 1), kinds.toString());
    assertTrue(kinds.contains(KindCase.PROGRESS), kinds.toString());
    assertEquals("interrupted, cancelled", blockedHandlerEnd.get(10, TimeUnit.SECONDS));
    Thread.sleep(300); // a late settlement would be refused; the job stays CANCELLED either way
    assertEquals(JobState.JOB_STATE_CANCELLED, client.get(jobId, JobView.JOB_VIEW_BASIC).getState());
  }

  @Test
  void progressAndPartialOutputsReachAStream() {
    List<JobEvent> events = new ArrayList<>();
    try (EventStream stream = client.stream(JobSpecs.of("java_live_steps", Map.of("count", 3)))) {
      stream.forEachRemaining(events::add);
    }
    List<String> progress =
        events.stream().filter(e -> e.getKindCase() == KindCase.PROGRESS).map(e -> e.getProgress().getMessage()).toList();
    assertEquals(List.of("step 1/3", "step 2/3", "step 3/3"), progress);
    assertEquals(
        100.0,
        events.stream().filter(e -> e.getKindCase() == KindCase.PROGRESS).reduce((a, b) -> b).orElseThrow()
            .getProgress().getPercent());
    List<Object> partials =
        events.stream()
            .filter(e -> e.getKindCase() == KindCase.PARTIAL_OUTPUT)
            .map(e -> Payloads.toJava(e.getPartialOutput().getOutput()))
            .toList();
    assertEquals(List.of(Map.of("step", 1L), Map.of("step", 2L), Map.of("step", 3L)), partials);
    JobEvent last = events.get(events.size() - 1);
    assertEquals(KindCase.SUCCEEDED, last.getKindCase());
    assertEquals(Map.of("steps", 3L), Payloads.toJava(last.getSucceeded().getResult()));
  }

  @Test
  void aWorkerWhoseTokenLacksTheWorkScopeIsRefused() {
    String address = Live.env("JOBSVC_AUTH_SERVER");
    String token = Live.env("JOBSVC_AUTH_TOKEN"); // call and read, not work
    for (String sent : new String[] {token, null}) {
      try (JobsvcWorker refused =
          JobsvcWorker.builder().target(address).plaintext().bearerToken(sent).handle("java_live_denied", "1.0.0", job -> null).build()) {
        JobsvcException error = assertThrows(JobsvcException.class, refused::run);
        assertEquals(sent == null ? Status.Code.UNAUTHENTICATED : Status.Code.PERMISSION_DENIED, error.code());
        ExecutionException failed = assertThrows(ExecutionException.class, () -> refused.stopped().get());
        assertTrue(failed.getCause() instanceof JobsvcException);
        assertFalse(refused.sessions() > 1, "a refused worker reconnected");
      }
    }
  }

  @Test
  void closeLetsARunningJobFinishThenHangsUp() throws Exception {
    JobsvcWorker draining =
        JobsvcWorker.builder()
            .target(Live.address())
            .plaintext()
            .workerId("java-live-drain")
            .shutdownGrace(Duration.ofSeconds(10))
            .handle("java_live_drain", "1.0.0", job -> {
              job.progress(0, "started");
              Thread.sleep(700);
              return "finished";
            })
            .build();
    CompletableFuture<Void> drained = draining.start();
    Live.awaitOnline(client, "java_live_drain");
    CompletableFuture<Void> closed = null;
    JobEvent last = null;
    try (EventStream events = client.stream(JobSpecs.of("java_live_drain", null))) {
      while (events.hasNext()) {
        last = events.next();
        if (last.getKindCase() == KindCase.PROGRESS && closed == null) {
          closed = CompletableFuture.runAsync(draining::close); // while the job runs
        }
      }
    }
    assertEquals(KindCase.SUCCEEDED, last.getKindCase(), last.toString());
    assertEquals("finished", Payloads.toJava(last.getSucceeded().getResult()));
    closed.get(15, TimeUnit.SECONDS);
    drained.get(1, TimeUnit.SECONDS);
  }

  @Test
  void jobsOutliveACutConnection() throws Exception {
    CountDownLatch release = new CountDownLatch(1);
    try (TcpProxy proxy = new TcpProxy(Live.address());
        JobsvcWorker cut =
            JobsvcWorker.builder()
                .target(proxy.address())
                .plaintext()
                .workerId("java-live-cut")
                .reconnectBackoff(Duration.ofMillis(50), Duration.ofMillis(200))
                .handle("java_live_cut", "1.0.0", job -> {
                  job.progress(0, "running");
                  release.await();
                  return Map.of("attempt", job.attempt());
                })
                .build()) {
      cut.start();
      Live.awaitOnline(client, "java_live_cut");
      JobEvent last = null;
      try (EventStream events = client.stream(JobSpecs.of("java_live_cut", null))) {
        while (events.hasNext()) {
          last = events.next();
          if (last.getKindCase() == KindCase.PROGRESS) {
            proxy.cut();
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
            while (cut.sessions() < 2 && System.nanoTime() < deadline) {
              Thread.sleep(10);
            }
            assertTrue(cut.awaitConnected(Duration.ofSeconds(10)), "the worker did not reconnect");
            release.countDown(); // the handler ran on meanwhile; its ack goes on the new stream
          }
        }
      }
      assertEquals(KindCase.SUCCEEDED, last.getKindCase(), last.toString());
      assertEquals(Map.of("attempt", 1L), Payloads.toJava(last.getSucceeded().getResult()));
      assertTrue(cut.sessions() >= 2);
    }
  }
}
