package dev.jobsvc.client;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.jobsvc.v1.Job;
import dev.jobsvc.v1.JobState;
import dev.jobsvc.v1.ListJobsRequest;
import dev.jobsvc.v1.WaitReason;
import java.util.List;
import java.util.UUID;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** Pause and resume on the live server, and ListJobs by label. */
class PauseTest {

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
  void pauseHoldsAVersionAndResumeRunsIt() throws InterruptedException {
    // cached_square: no other test here submits it; an input of its own (its result cache).
    String tag = UUID.randomUUID().toString();
    client.pause("cached_square", "1.0.0", "java test");
    Job job =
        client.submit(
            "cached_square",
            System.nanoTime() % 1_000_000,
            SubmitOptions.builder().label("java-pause", tag).build());
    Thread.sleep(300);
    Job waiting = client.get(job.getId());
    assertEquals(JobState.JOB_STATE_QUEUED, waiting.getState());
    assertEquals(WaitReason.WAIT_REASON_PAUSED, waiting.getWaitReason());
    assertTrue(client.pauses().stream().anyMatch(p -> p.getHandler().equals("cached_square")));
    List<String> labelled =
        client
            .list(ListJobsRequest.newBuilder().putLabels("java-pause", tag).build())
            .getJobsList()
            .stream()
            .map(Job::getId)
            .collect(Collectors.toList());
    assertEquals(List.of(job.getId()), labelled);

    assertTrue(client.resume("cached_square", "1.0.0"));
    long deadline = System.nanoTime() + 5_000_000_000L;
    while (client.get(job.getId()).getState() != JobState.JOB_STATE_SUCCEEDED) {
      assertTrue(System.nanoTime() < deadline, "the job did not run after resume");
      Thread.sleep(50);
    }
  }

  @Test
  void aFlowKeyPausesAndResumes() {
    String key = "java-" + UUID.randomUUID();
    assertEquals(key, client.pauseFlowKey(key, "").getFlowKey());
    assertTrue(client.resumeFlowKey(key));
  }
}
