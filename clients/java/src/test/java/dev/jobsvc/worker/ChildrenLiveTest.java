package dev.jobsvc.worker;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.jobsvc.client.JobsvcClient;
import dev.jobsvc.client.Payloads;
import dev.jobsvc.v1.Job;
import dev.jobsvc.v1.JobState;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * Child jobs and durable sleep on a one-slot Java worker on the live server in {@code
 * JOBSVC_SERVER}: a parent spawns two children, waits for them (parked: they take its slot
 * meanwhile), sleeps durably and returns their results; a spawn of an unknown handler fails the
 * parent at once.
 */
class ChildrenLiveTest {

  @Test
  void aParentSpawnsWaitsWithoutItsSlotSleepsAndReturnsItsChildrensResults() throws Exception {
    JobsvcClient client = Live.client();
    JobsvcWorker worker =
        JobsvcWorker.builder()
            .target(Live.address())
            .plaintext()
            .workerId("java-children-test")
            .concurrency(1)
            .shutdownGrace(Duration.ofSeconds(5))
            .handle("java_child_square", "1.0.0", job -> {
              long x = ((Number) job.input()).longValue();
              return x * x;
            })
            .handle("java_child_parent", "1.0.0", job -> {
              List<ChildJob> children =
                  List.of(job.spawn("java_child_square", 2), job.spawn("java_child_square", 3));
              List<Object> squares = job.waitFor(children); // parks until both have finished
              job.sleep(Duration.ofMillis(200)); // durable: the run after it returns at once
              long sum = ((Number) squares.get(0)).longValue() + ((Number) squares.get(1)).longValue();
              return Map.of("sum", sum, "attempt", job.attempt());
            })
            .handle("java_child_unknown", "1.0.0", job -> job.spawn("no_such_handler", Map.of()))
            .build();
    CompletableFuture<Void> stopped = worker.start();
    try {
      assertTrue(worker.awaitConnected(Duration.ofSeconds(20)), "the worker did not connect");
      for (String name : List.of("java_child_square", "java_child_parent", "java_child_unknown")) {
        Live.awaitOnline(client, name);
      }
      Job done = client.call("java_child_parent", Map.of());
      assertEquals(JobState.JOB_STATE_SUCCEEDED, done.getState(), done.toString());
      assertEquals(Map.of("sum", 13L, "attempt", 1L), Payloads.toJava(done.getResult()));

      Job refused = client.call("java_child_unknown", Map.of());
      assertEquals(JobState.JOB_STATE_FAILED, refused.getState(), refused.toString());
      assertEquals("jobsvc.SpawnRefused", refused.getError().getType());
      assertEquals(1, refused.getAttempt(), "not retried");
    } finally {
      worker.close();
      stopped.get(30, TimeUnit.SECONDS);
    }
  }
}
