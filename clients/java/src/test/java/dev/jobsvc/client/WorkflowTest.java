package dev.jobsvc.client;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.jobsvc.v1.CallWorkflowResponse;
import dev.jobsvc.v1.JobView;
import dev.jobsvc.v1.StreamWorkflowResponse;
import dev.jobsvc.v1.Workflow;
import dev.jobsvc.v1.WorkflowState;
import io.grpc.Status;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** Workflows on the live server: the builder, call, submit, stream, cancel, get, list. */
class WorkflowTest {

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
  void callWorkflowRunsADiamondWithAFanOutAndAnOptionalStep() {
    WorkflowBuilder wf = WorkflowBuilder.named("java-diamond").label("lang", "java");
    wf.step("fetch", "echo", Map.of("size", 3, "owner", Map.of("name", "ada"), "items", List.of(1, 2, 3)));
    wf.step("measure", "echo", Map.of("unit", "px")).input("size", "fetch", "size");
    wf.step("each", "echo", Map.of()).map("fetch", "items", "n", 10);
    wf.step("soft", "fail", null).optional();
    wf.step("report", "echo", Map.of("final", true))
        .merge("measure", "")
        .input("who", "fetch", "owner.name")
        .input("each", "each", "")
        .input("soft", "soft", "error.type");

    CallWorkflowResponse done = client.callWorkflow(wf);

    assertEquals(WorkflowState.WORKFLOW_STATE_SUCCEEDED, done.getWorkflow().getState());
    assertEquals("java", done.getWorkflow().getLabelsOrThrow("lang"));
    @SuppressWarnings("unchecked")
    Map<String, Object> report = (Map<String, Object>) JobsvcClient.workflowOutput(done, "report");
    assertEquals(true, report.get("final"));
    assertEquals("px", report.get("unit"));
    assertEquals(3L, report.get("size"));
    assertEquals("ada", report.get("who"));
    assertEquals(List.of(Map.of("n", 1L), Map.of("n", 2L), Map.of("n", 3L)), report.get("each"));
    assertTrue(String.valueOf(report.get("soft")).contains("ValueError"), String.valueOf(report.get("soft")));
    Workflow got = client.getWorkflow(done.getWorkflow().getId(), JobView.JOB_VIEW_BASIC);
    assertEquals(8, got.getStepsTotal()); // 5 steps and 3 elements
  }

  @Test
  void submitStreamCancelGetList() {
    WorkflowBuilder wf = WorkflowBuilder.named("java-cancel");
    wf.step("forever", "wait_cancel", null);
    wf.step("after", "echo", Map.of()).input("got", "forever", "");
    Workflow submitted = client.submitWorkflow(wf);
    assertEquals(WorkflowState.WORKFLOW_STATE_RUNNING, submitted.getState());

    List<String> seen = new ArrayList<>();
    try (WorkflowEvents events = client.streamWorkflow(submitted.getId(), 0)) {
      while (events.hasNext()) {
        StreamWorkflowResponse event = events.next();
        seen.add(event.getStep() + ":" + event.getEvent().getKindCase().name().toLowerCase());
        if (event.getEvent().hasStarted()) {
          client.cancelWorkflow(submitted.getId(), "enough");
        }
      }
    }
    // The waiting step is cancelled at once, the running one when its handler has stopped.
    assertEquals(
        Set.of("forever:cancelled", "after:cancelled"), Set.copyOf(seen.subList(seen.size() - 2, seen.size())));
    List<Long> rest = new ArrayList<>();
    client.streamWorkflow(submitted.getId(), seen.size() - 1).forEachRemaining(e -> rest.add(e.getSequence()));
    assertEquals(List.of((long) seen.size()), rest);

    Workflow got = client.getWorkflow(submitted.getId(), JobView.JOB_VIEW_UNSPECIFIED);
    assertEquals(WorkflowState.WORKFLOW_STATE_CANCELLED, got.getState());
    assertEquals("enough", got.getCancelReason());
    assertTrue(
        client.listWorkflows(100, "").getWorkflowsList().stream().anyMatch(w -> w.getId().equals(submitted.getId())));
  }

  @Test
  void aCallWorkflowWhoseDeadlinePassesNamesTheWorkflow() {
    WorkflowBuilder wf = WorkflowBuilder.named("java-deadline");
    wf.step("forever", "wait_cancel", null);
    JobsvcException late =
        assertThrows(JobsvcException.class, () -> client.callWorkflow(wf, Duration.ofMillis(300)));
    assertEquals(Status.Code.DEADLINE_EXCEEDED, late.code());
    String id = late.jobId().orElseThrow();
    assertEquals(WorkflowState.WORKFLOW_STATE_RUNNING, client.getWorkflow(id, JobView.JOB_VIEW_BASIC).getState());
    client.cancelWorkflow(id, "test over");
  }

  @Test
  void aCycleIsRefusedNamingTheStep() {
    WorkflowBuilder wf = WorkflowBuilder.named("java-cycle");
    wf.step("a", "echo", null).dependsOn("b");
    wf.step("b", "echo", null).dependsOn("a");
    JobsvcException refused = assertThrows(JobsvcException.class, () -> client.submitWorkflow(wf));
    assertEquals(Status.Code.INVALID_ARGUMENT, refused.code());
    assertEquals("steps[0].depends_on", refused.fieldViolations().get(0).field());
  }
}
