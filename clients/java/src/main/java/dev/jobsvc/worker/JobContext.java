package dev.jobsvc.worker;

import com.google.protobuf.Any;
import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.Message;
import com.google.protobuf.Value;
import dev.jobsvc.client.Payloads;
import dev.jobsvc.v1.Assignment;
import dev.jobsvc.v1.Job;
import dev.jobsvc.v1.Payload;
import dev.jobsvc.v1.Progress;
import dev.jobsvc.v1.ReportProgressRequest;
import dev.jobsvc.v1.ChildrenRequest;
import dev.jobsvc.v1.ChildrenResponse;
import dev.jobsvc.v1.JobSpec;
import dev.jobsvc.v1.JobState;
import dev.jobsvc.v1.SpawnRequest;
import dev.jobsvc.v1.SpawnResponse;
import dev.jobsvc.v1.WorkRequest;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;

/**
 * One attempt of a job, as a {@link JobHandler} sees it: the job's id, attempt, labels and
 * input, ways to report progress and partial output, and whether it was cancelled. Thread-safe.
 */
public final class JobContext {

  private final Assignment assignment;
  private final JobsvcWorker.RunningJob running;
  private final JobsvcWorker worker;
  // This run's spawns without a key and sleeps so far (their replay keys), and the sleeps the
  // job recorded (read at the first sleep). A handler runs on one thread.
  private int spawns;
  private int sleeps;
  private Map<String, Instant> recorded;
  private static final Set<JobState> TERMINAL =
      Set.of(JobState.JOB_STATE_SUCCEEDED, JobState.JOB_STATE_FAILED, JobState.JOB_STATE_CANCELLED);

  JobContext(Assignment assignment, JobsvcWorker.RunningJob running, JobsvcWorker worker) {
    this.assignment = assignment;
    this.running = running;
    this.worker = worker;
  }

  /** The job's id. */
  public String id() {
    return assignment.getJob().getId();
  }

  /** The handler's name. */
  public String handler() {
    return assignment.getJob().getHandler();
  }

  /** The exact handler version the job runs. */
  public String version() {
    return assignment.getJob().getVersion();
  }

  /** This attempt's number: 1 on the first. */
  public int attempt() {
    return assignment.getJob().getAttempt();
  }

  /** The job's labels. */
  public Map<String, String> labels() {
    return assignment.getJob().getLabelsMap();
  }

  /** When the attempt's first lease ran out; the worker's session extends it while the job runs. */
  public Instant leaseDeadline() {
    return Instant.ofEpochSecond(
        assignment.getLeaseDeadline().getSeconds(), assignment.getLeaseDeadline().getNanos());
  }

  /** The job as the server assigned it. */
  public Job job() {
    return assignment.getJob();
  }

  /** The input payload as it came. */
  public Payload inputPayload() {
    return assignment.getJob().getInput();
  }

  /**
   * The input as a plain Java value ({@link Payloads#toJava(Value)}: Map, List, String, Long,
   * Double, Boolean, null), or the {@link Any} of a typed input.
   */
  public Object input() {
    return Payloads.toJava(inputPayload());
  }

  /**
   * The JSON input.
   *
   * @throws IllegalStateException when the input is a typed (protobuf) payload
   */
  public Value inputJson() {
    Payload input = inputPayload();
    return switch (input.getKindCase()) {
      case JSON -> input.getJson();
      case KIND_NOT_SET -> Value.getDefaultInstance();
      case PROTO -> throw new IllegalStateException("the input is a typed payload: " + input.getProto().getTypeUrl());
    };
  }

  /**
   * The input as a protobuf message: unpacked from a typed payload, or read from a JSON one
   * through the message's JSON mapping.
   *
   * @throws IllegalArgumentException when the input is of another type
   */
  public <T extends Message> T input(Class<T> type) {
    Payload input = inputPayload();
    if (input.getKindCase() == Payload.KindCase.PROTO) {
      try {
        return input.getProto().unpack(type);
      } catch (InvalidProtocolBufferException e) {
        throw new IllegalArgumentException("the input is not a " + type.getName() + ": " + e.getMessage(), e);
      }
    }
    return Payloads.toMessage(input.getJson(), type);
  }

  /** Reports progress (0..100) and a message: watchers of the job see a progress event. Sent in the background. */
  public void progress(double percent, String message) {
    report(ReportProgressRequest.newBuilder()
        .setProgress(Progress.newBuilder().setPercent(percent).setMessage(message == null ? "" : message)));
  }

  /**
   * Streams a partial output (any value a handler may return) to watchers of the job before its
   * result. Sent in the background.
   *
   * @throws NonRetryableException ({@code jobsvc.PartialOutputTooLarge}) when it is over the
   *     server's payload limit: the attempt fails, as it would on the server
   * @throws IllegalArgumentException when the value has no JSON mapping
   */
  public void partialOutput(Object output) {
    Payload payload = Payloads.toPayload(output);
    long limit = worker.maxPayloadBytes();
    if (limit > 0 && payload.getSerializedSize() > limit) {
      throw new NonRetryableException(
          "jobsvc.PartialOutputTooLarge",
          "partial output of " + payload.getSerializedSize() + " bytes is over the server's limit of " + limit);
    }
    report(ReportProgressRequest.newBuilder().setPartialOutput(payload));
  }

  /**
   * True once the server has cancelled the job (or its lease was lost, or the worker stopped
   * without finishing it): the handler should stop; its outcome is not reported. Its thread is
   * interrupted too.
   */
  public boolean isCancelled() {
    return running.abandoned();
  }

  // ---- child jobs and durable sleep (see "Child jobs and durable sleep" in the main README)

  /**
   * Submits a child job of this job (durably, before this returns), keyed by its order among
   * this run's spawns ("0", "1", ...): the run after a wait gets the same child back.
   *
   * @throws SpawnRefusedException when the server refuses it (unknown handler, bad input)
   */
  public ChildJob spawn(String handler, Object input) {
    return spawn(handler, input, String.valueOf(spawns++));
  }

  /** {@link #spawn(String, Object)} under an explicit key (its name among the job's children). */
  public ChildJob spawn(String handler, Object input, String key) {
    SpawnRequest request = SpawnRequest.newBuilder()
        .setRequestId(UUID.randomUUID().toString())
        .setJobId(id())
        .setAttemptToken(assignment.getAttemptToken())
        .setSpawnKey(key)
        .setJob(JobSpec.newBuilder().setHandler(handler).setInput(Payloads.toPayload(input)))
        .build();
    SpawnResponse answer =
        worker.ask(request.getRequestId(), WorkRequest.newBuilder().setSpawn(request).build()).getSpawned();
    if (answer.getCode() == 14 || answer.getCode() == 10) { // UNAVAILABLE, ABORTED: nothing written, retry
      throw new IllegalStateException("spawning " + handler + " failed for now: " + answer.getMessage());
    }
    if (answer.getCode() != 0) {
      throw new SpawnRefusedException(answer.getMessage(), answer.getCode(), answer.getReason(), answer.getField());
    }
    return new ChildJob(answer.getChildJobId(), key, handler);
  }

  /**
   * The children's results (as {@link Payloads#toJava}) in order, once all have finished. While
   * one has not, throws {@link Parked}: let it through, the job parks (no slot, no lease) and
   * runs again from the start when the last one finishes.
   *
   * @throws ChildJobFailedException for a child that FAILED or was CANCELLED
   */
  public List<Object> waitFor(List<ChildJob> children) {
    if (children.isEmpty()) {
      return List.of();
    }
    Map<String, Job> found = new HashMap<>();
    for (Job child : read(children.stream().map(ChildJob::id).toList()).getChildrenList()) {
      found.put(child.getId(), child);
    }
    List<String> unfinished = new ArrayList<>();
    for (ChildJob child : children) {
      Job job = found.get(child.id());
      if (job != null && !TERMINAL.contains(job.getState())) {
        unfinished.add(child.id());
      }
    }
    if (!unfinished.isEmpty()) {
      throw new Parked(unfinished, "", null);
    }
    List<Object> results = new ArrayList<>();
    for (ChildJob child : children) {
      Job job = found.get(child.id());
      if (job == null) {
        throw new IllegalArgumentException("job " + child.id() + " is not a child of job " + id());
      }
      if (job.getState() != JobState.JOB_STATE_SUCCEEDED) {
        String why = job.hasError() ? job.getError().getType() + ": " + job.getError().getMessage() : job.getState().name();
        throw new ChildJobFailedException(
            child, "child job \"" + child.key() + "\" (" + child.handler() + ", " + child.id() + ") " + why);
      }
      results.add(Payloads.toJava(job.getResult()));
    }
    return results;
  }

  /**
   * Sleeps durably: throws {@link Parked} (let it through), and the job runs again when the
   * sleep is over, on any worker, across restarts; on that run this returns at once. The end is
   * recorded when the sleep starts, so a replay never sleeps longer.
   */
  public void sleep(Duration duration) {
    String key = "sleep:" + sleeps++;
    if (recorded == null) {
      recorded = new HashMap<>();
      read(List.of()).getSleepsMap().forEach(
          (k, ends) -> recorded.put(k, Instant.ofEpochSecond(ends.getSeconds(), ends.getNanos())));
    }
    Instant ends = recorded.get(key);
    if (ends != null && !ends.isAfter(Instant.now())) {
      return;
    }
    throw new Parked(List.of(), key, ends != null ? ends : Instant.now().plus(duration));
  }

  private ChildrenResponse read(List<String> childJobIds) {
    ChildrenRequest request = ChildrenRequest.newBuilder()
        .setRequestId(UUID.randomUUID().toString())
        .setJobId(id())
        .setAttemptToken(assignment.getAttemptToken())
        .addAllChildJobIds(childJobIds)
        .build();
    ChildrenResponse answer =
        worker.ask(request.getRequestId(), WorkRequest.newBuilder().setChildren(request).build()).getChildren();
    if (answer.getCode() != 0) {
      throw new IllegalStateException(
          "reading the children of job " + id() + ": " + answer.getReason() + " " + answer.getMessage());
    }
    return answer;
  }

  private void report(ReportProgressRequest.Builder request) {
    if (running.abandoned()) {
      return;
    }
    worker.report(request.setJobId(id()).setAttemptToken(assignment.getAttemptToken()).build());
  }
}
