package dev.jobsvc.client;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.jobsvc.v1.BulkAction;
import dev.jobsvc.v1.JobFilter;
import dev.jobsvc.v1.JobState;
import dev.jobsvc.v1.ListJobsRequest;
import dev.jobsvc.v1.Operation;
import dev.jobsvc.v1.OperationState;
import java.time.Duration;
import java.util.UUID;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** A bulk cancel on the live server: dry run, start, progress, cancel of a finished one. */
class BulkOperationTest {

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
  void aDryRunCountsThenTheOperationCancelsThem() throws InterruptedException {
    // Jobs of a label only this test uses, delayed an hour: the filter selects exactly them.
    String tag = UUID.randomUUID().toString();
    for (int i = 0; i < 3; i++) {
      client.submit(
          "echo",
          i,
          SubmitOptions.builder().label("java-bulk", tag).delay(Duration.ofHours(1)).build());
    }
    JobFilter filter = JobFilter.newBuilder().setHandler("echo").putLabels("java-bulk", tag).build();
    Operation dry = client.bulkDryRun(BulkAction.BULK_ACTION_CANCEL, filter);
    assertEquals(OperationState.OPERATION_STATE_DRY_RUN, dry.getState());
    assertEquals(3, dry.getMatched());
    assertEquals("", dry.getId());

    Operation operation = client.bulk(BulkAction.BULK_ACTION_CANCEL, filter, 100);
    assertEquals(3, operation.getMatched());
    long deadline = System.nanoTime() + 10_000_000_000L;
    while (operation.getState() == OperationState.OPERATION_STATE_RUNNING) {
      assertTrue(System.nanoTime() < deadline, "the operation did not finish");
      Thread.sleep(50);
      operation = client.getOperation(operation.getId());
    }
    assertEquals(OperationState.OPERATION_STATE_SUCCEEDED, operation.getState());
    assertEquals(3, operation.getProcessed());
    // Cancelling a finished operation returns it as it is.
    assertEquals(
        OperationState.OPERATION_STATE_SUCCEEDED,
        client.cancelOperation(operation.getId()).getState());
    ListJobsRequest cancelled =
        ListJobsRequest.newBuilder()
            .putLabels("java-bulk", tag)
            .addStates(JobState.JOB_STATE_CANCELLED)
            .build();
    assertEquals(3, client.list(cancelled).getJobsCount());
  }
}
