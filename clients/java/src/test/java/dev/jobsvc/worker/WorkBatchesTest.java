package dev.jobsvc.worker;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.jobsvc.v1.AckRequest;
import dev.jobsvc.v1.HeartbeatRequest;
import dev.jobsvc.v1.Progress;
import dev.jobsvc.v1.ReportProgressRequest;
import dev.jobsvc.v1.WorkRequest;
import dev.jobsvc.v1.WorkRequest.KindCase;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class WorkBatchesTest {

  private static WorkRequest ack(String id) {
    return WorkRequest.newBuilder().setAck(AckRequest.newBuilder().setJobId(id).setAttemptToken("t")).build();
  }

  private static WorkRequest progress(String id, String message) {
    return WorkRequest.newBuilder()
        .setProgress(ReportProgressRequest.newBuilder().setJobId(id).setAttemptToken("t")
            .setProgress(Progress.newBuilder().setMessage(message)))
        .build();
  }

  private static final WorkRequest HEARTBEAT =
      WorkRequest.newBuilder().setHeartbeat(HeartbeatRequest.newBuilder().setWorkerId("w")).build();

  @Test
  void aLoneMessageGoesAsItWas() {
    WorkRequest ack = ack("a");
    List<WorkRequest> out = WorkBatches.combine(List.of(ack), 1 << 20);
    assertEquals(1, out.size());
    assertSame(ack, out.get(0));
  }

  @Test
  void consecutiveSettlementsAndProgressShareABatchInOrder() {
    List<WorkRequest> out = WorkBatches.combine(List.of(progress("a", "p"), ack("a"), ack("b")), 1 << 20);
    assertEquals(1, out.size());
    WorkRequest.Batch batch = out.get(0).getBatch();
    assertEquals(3, batch.getItemsCount());
    assertEquals("p", batch.getItems(0).getProgress().getProgress().getMessage());
    assertEquals("a", batch.getItems(1).getAck().getJobId());
    assertEquals("b", batch.getItems(2).getAck().getJobId());
  }

  @Test
  void aHeartbeatEndsTheBatchBeforeIt() {
    List<WorkRequest> out = WorkBatches.combine(List.of(ack("a"), ack("b"), HEARTBEAT, ack("c")), 1 << 20);
    assertEquals(List.of(KindCase.BATCH, KindCase.HEARTBEAT, KindCase.ACK), out.stream().map(WorkRequest::getKindCase).toList());
  }

  @Test
  void batchesStayWithinTheBudget() {
    List<WorkRequest> ready = new ArrayList<>();
    for (int i = 0; i < 100; i++) {
      ready.add(progress("job-" + i, "x".repeat(50)));
    }
    long budget = 1_000;
    List<WorkRequest> out = WorkBatches.combine(ready, budget);
    int items = 0;
    for (WorkRequest request : out) {
      assertTrue(request.getSerializedSize() <= budget, "size " + request.getSerializedSize());
      items += request.getKindCase() == KindCase.BATCH ? request.getBatch().getItemsCount() : 1;
    }
    assertEquals(100, items);
    assertTrue(out.size() > 1 && out.size() < 100);
  }

  @Test
  void anItemOverTheBudgetGoesAlone() {
    WorkRequest big = progress("big", "x".repeat(5_000));
    List<WorkRequest> out = WorkBatches.combine(List.of(ack("a"), big, ack("b")), 1_000);
    assertEquals(List.of(KindCase.ACK, KindCase.PROGRESS, KindCase.ACK), out.stream().map(WorkRequest::getKindCase).toList());
  }
}
