package dev.jobsvc.client;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.Struct;
import com.google.protobuf.Value;
import dev.jobsvc.v1.HandlerInfo;
import dev.jobsvc.v1.Job;
import dev.jobsvc.v1.JobState;
import dev.jobsvc.v1.JobView;
import dev.jobsvc.v1.ListJobsRequest;
import io.grpc.Status;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** Submit, call and inspect jobs on the live server. */
class SubmitAndCallTest {

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
  void submitEnqueuesAndGetFetches() {
    String tag = UUID.randomUUID().toString();
    SubmitOptions options = SubmitOptions.builder().label("test", tag).priority(5).build();

    Job job = client.submit("echo", Map.of("n", 1), options);

    assertFalse(job.getId().isEmpty());
    assertEquals("echo", job.getHandler());
    assertEquals("1.0.0", job.getVersion());
    assertEquals(5, job.getPriority());
    assertEquals(tag, job.getLabelsOrThrow("test"));
    assertEquals(Map.of("n", 1L), Payloads.toJava(job.getInput()));
    assertEquals(job.getId(), client.get(job.getId()).getId());
  }

  @Test
  void idempotencyKeyReturnsTheSameJob() {
    SubmitOptions options = SubmitOptions.builder().idempotencyKey(UUID.randomUUID().toString()).build();
    Job first = client.submit("echo", "once", options);
    Job again = client.submit("echo", "once", options);
    assertEquals(first.getId(), again.getId());
  }

  @Test
  void submitBatchAndListAll() {
    String tag = UUID.randomUUID().toString();
    SubmitOptions options = SubmitOptions.builder().label("batch", tag).build();
    List<Job> jobs =
        client.submitBatch(
            List.of(JobSpecs.of("echo", 1, options), JobSpecs.of("echo", 2, options), JobSpecs.of("echo", 3, options)));
    assertEquals(3, jobs.size());
    assertEquals(3.0, jobs.get(2).getInput().getJson().getNumberValue());

    // Pages of one job each, fetched as the stream is read. (One batch shares one create time,
    // so its order within "newest first" is the server's choice.)
    Set<String> listed =
        client
            .listAll(ListJobsRequest.newBuilder().setHandler("echo").setPageSize(1).build())
            .filter(job -> tag.equals(job.getLabelsOrDefault("batch", "")))
            .map(Job::getId)
            .collect(Collectors.toSet());
    assertEquals(jobs.stream().map(Job::getId).collect(Collectors.toSet()), listed);
  }

  @Test
  void theBasicViewLeavesOutInputsAndResults() {
    Job done = client.call("echo", Map.of("view", "basic"));
    Job basic = client.get(done.getId(), JobView.JOB_VIEW_BASIC);
    assertEquals(JobState.JOB_STATE_SUCCEEDED, basic.getState());
    assertFalse(basic.hasInput());
    assertFalse(basic.hasResult());
    assertTrue(client.get(done.getId(), JobView.JOB_VIEW_FULL).hasResult());
    List<Job> page =
        client
            .list(ListJobsRequest.newBuilder().setHandler("echo").setView(JobView.JOB_VIEW_BASIC).build())
            .getJobsList();
    assertFalse(page.isEmpty());
    assertTrue(page.stream().noneMatch(job -> job.hasInput() || job.hasResult()));
  }

  @Test
  void callReturnsTheFinishedJob() {
    Job job = client.call("echo", Map.of("hello", "java", "list", List.of(1, 2.5, true)));

    assertEquals(JobState.JOB_STATE_SUCCEEDED, job.getState());
    assertEquals(Map.of("hello", "java", "list", List.of(1L, 2.5, true)), Payloads.toJava(job.getResult()));
  }

  @Test
  void callResultDecodesJson() {
    Value greeting = client.callResult("greet", Map.of("name", "java"));
    assertEquals("hello, java", greeting.getStringValue());

    Value echoed = client.callResult("echo", Payloads.parseJson("{\"a\": [1, {\"b\": null}]}"));
    assertEquals("{\"a\":[1,{\"b\":null}]}", Payloads.toJson(echoed));

    Struct struct =
        client.callResult("resize_image", Map.of("width", 3, "height", 4), SubmitOptions.defaults(), Struct.class);
    assertEquals("2.1.0", struct.getFieldsOrThrow("version").getStringValue());
  }

  @Test
  void callSelectsAVersion() {
    SubmitOptions v1 = SubmitOptions.builder().version("^1").build();
    Job job = client.call("resize_image", Map.of("width", 7), v1);
    assertEquals("1.4.0", job.getVersion());
    assertEquals(Map.of("version", "1.4.0", "width", 7L), Payloads.toJava(job.getResult()));
  }

  @Test
  void failedJobIsAResultOfCallAndAnExceptionOfCallResult() {
    Job job = client.call("fail", 5);
    assertEquals(JobState.JOB_STATE_FAILED, job.getState());

    JobFailedException failed = assertThrows(JobFailedException.class, () -> client.callResult("fail", 5));
    assertEquals("ValueError", failed.errorType());
    assertEquals("bad value: 5", failed.errorMessage());
    assertTrue(failed.traceback().contains("ValueError"), failed.traceback());
    assertEquals(JobState.JOB_STATE_FAILED, failed.job().getState());
  }

  @Test
  void callPastItsDeadlineNamesTheJobThatCarriesOn() {
    SubmitOptions hurried = SubmitOptions.builder().deadline(Duration.ofMillis(300)).build();

    JobsvcException timeout =
        assertThrows(JobsvcException.class, () -> client.call("sleepy", Map.of("seconds", 1.0), hurried));

    assertEquals(Status.Code.DEADLINE_EXCEEDED, timeout.code());
    String jobId = timeout.jobId().orElseThrow();
    try (EventStream events = client.stream(jobId, 0)) {
      events.forEachRemaining(event -> {});
    }
    Job job = client.get(jobId);
    assertEquals(JobState.JOB_STATE_SUCCEEDED, job.getState());
    assertEquals(Map.of("attempt", 1L), Payloads.toJava(job.getResult()));
  }

  @Test
  void handlersListsVersionsNewestFirst() {
    List<HandlerInfo> resize = client.handlers("resize_image");
    assertEquals(List.of("2.1.0", "2.0.0", "1.4.0"), resize.stream().map(HandlerInfo::getVersion).toList());

    List<String> names = client.handlers().stream().map(HandlerInfo::getName).distinct().toList();
    assertTrue(names.containsAll(List.of("echo", "greet", "fail", "steps", "wait_cancel")), names.toString());
    HandlerInfo greet = client.handlers("greet").get(0);
    assertNotEquals(Struct.getDefaultInstance(), greet.getInputSchema());
  }
}
