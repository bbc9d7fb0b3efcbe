package dev.jobsvc.client;

import com.google.protobuf.Message;
import com.google.protobuf.Value;
import dev.jobsvc.v1.BulkAction;
import dev.jobsvc.v1.CallWorkflowRequest;
import dev.jobsvc.v1.CallWorkflowResponse;
import dev.jobsvc.v1.CancelWorkflowRequest;
import dev.jobsvc.v1.GetWorkflowRequest;
import dev.jobsvc.v1.ListWorkflowsRequest;
import dev.jobsvc.v1.ListWorkflowsResponse;
import dev.jobsvc.v1.RedriveWorkflowStepRequest;
import dev.jobsvc.v1.Workflow;
import dev.jobsvc.v1.WorkflowServiceGrpc;
import dev.jobsvc.v1.WorkflowStepStatus;
import dev.jobsvc.v1.CallRequest;
import dev.jobsvc.v1.CallServiceGrpc;
import dev.jobsvc.v1.CancelJobRequest;
import dev.jobsvc.v1.CancelOperationRequest;
import dev.jobsvc.v1.GetJobRequest;
import dev.jobsvc.v1.GetOperationRequest;
import dev.jobsvc.v1.HandlerInfo;
import dev.jobsvc.v1.Job;
import dev.jobsvc.v1.JobEvent;
import dev.jobsvc.v1.JobFilter;
import dev.jobsvc.v1.JobServiceGrpc;
import dev.jobsvc.v1.JobSpec;
import dev.jobsvc.v1.JobState;
import dev.jobsvc.v1.JobView;
import dev.jobsvc.v1.ListHandlersRequest;
import dev.jobsvc.v1.ListJobsRequest;
import dev.jobsvc.v1.ListJobsResponse;
import dev.jobsvc.v1.ListPausesRequest;
import dev.jobsvc.v1.Operation;
import dev.jobsvc.v1.OperationServiceGrpc;
import dev.jobsvc.v1.Pause;
import dev.jobsvc.v1.PauseFlowKeyRequest;
import dev.jobsvc.v1.PauseHandlerRequest;
import dev.jobsvc.v1.PauseServiceGrpc;
import dev.jobsvc.v1.Payload;
import dev.jobsvc.v1.ResumeFlowKeyRequest;
import dev.jobsvc.v1.ResumeHandlerRequest;
import dev.jobsvc.v1.StartBulkActionRequest;
import dev.jobsvc.v1.StreamRequest;
import dev.jobsvc.v1.SubmitBatchRequest;
import dev.jobsvc.v1.SubmitRequest;
import dev.jobsvc.v1.SubmitServiceGrpc;
import io.grpc.CallOptions;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.AbstractStub;
import io.grpc.stub.MetadataUtils;
import io.grpc.stub.StreamObserver;
import java.time.Duration;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Supplier;
import java.util.stream.Stream;

/**
 * A client of one jobsvc server (or a balancer in front of several), over one gRPC channel.
 * Thread-safe; build one per process and close it at the end.
 *
 * <pre>{@code
 * try (JobsvcClient client = JobsvcClient.builder().address("127.0.0.1:50051").plaintext().build()) {
 *   Value result = client.callResult("echo", Map.of("hello", "java"));
 * }
 * }</pre>
 *
 * <p>Inputs are Java values, JSON {@link Value}s or protobuf messages ({@link
 * Payloads#toPayload}). Every RPC that fails throws a {@link JobsvcException}; unary RPCs use the
 * client's default deadline unless {@link SubmitOptions#deadline()} says otherwise.
 */
public final class JobsvcClient implements AutoCloseable {

  /** The header of CallWorkflow carrying the workflow's id, sent before the workflow finishes. */
  static final Metadata.Key<String> WORKFLOW_ID_HEADER =
      Metadata.Key.of("jobsvc-workflow-id", Metadata.ASCII_STRING_MARSHALLER);

  private final ManagedChannel channel;
  private final Duration defaultDeadline;
  private final RpcRetryPolicy streamResumePolicy;
  private final ScheduledExecutorService scheduler;
  private final SubmitServiceGrpc.SubmitServiceBlockingStub submitStub;
  private final CallServiceGrpc.CallServiceBlockingStub callStub;
  private final JobServiceGrpc.JobServiceBlockingStub jobStub;
  private final PauseServiceGrpc.PauseServiceBlockingStub pauseStub;
  private final OperationServiceGrpc.OperationServiceBlockingStub operationStub;
  private final WorkflowServiceGrpc.WorkflowServiceBlockingStub workflowStub;

  JobsvcClient(
      ManagedChannel channel,
      Duration defaultDeadline,
      RpcRetryPolicy streamResumePolicy,
      ScheduledExecutorService scheduler) {
    this.channel = channel;
    this.defaultDeadline = defaultDeadline;
    this.streamResumePolicy = streamResumePolicy;
    this.scheduler = scheduler;
    this.submitStub = SubmitServiceGrpc.newBlockingStub(channel);
    this.callStub = CallServiceGrpc.newBlockingStub(channel);
    this.jobStub = JobServiceGrpc.newBlockingStub(channel);
    this.pauseStub = PauseServiceGrpc.newBlockingStub(channel);
    this.operationStub = OperationServiceGrpc.newBlockingStub(channel);
    this.workflowStub = WorkflowServiceGrpc.newBlockingStub(channel);
  }

  /** A builder; {@link JobsvcClientBuilder#address} is required. */
  public static JobsvcClientBuilder builder() {
    return new JobsvcClientBuilder();
  }

  // ---- submit

  /** Enqueues one job of the newest version of {@code handler}; returns it once durable. */
  public Job submit(String handler, Object input) {
    return submit(handler, input, SubmitOptions.defaults());
  }

  /** Enqueues one job; returns it once durable (QUEUED, or as it is for a reused idempotency key). */
  public Job submit(String handler, Object input, SubmitOptions options) {
    SubmitRequest request = SubmitRequest.newBuilder().setJob(JobSpecs.of(handler, input, options)).build();
    return unary(() -> deadline(submitStub, options.deadline().orElse(defaultDeadline)).submit(request)).getJob();
  }

  /** Enqueues many jobs in one transaction: all or none. Returns them in the order given. */
  public List<Job> submitBatch(List<JobSpec> specs) {
    SubmitBatchRequest request = SubmitBatchRequest.newBuilder().addAllJobs(specs).build();
    return unary(() -> deadline(submitStub, defaultDeadline).submitBatch(request)).getJobsList();
  }

  // ---- call

  /** Submits a job and waits for it; see {@link #call(String, Object, SubmitOptions)}. */
  public Job call(String handler, Object input) {
    return call(handler, input, SubmitOptions.defaults());
  }

  /**
   * Submits a job and waits for it to finish, within the deadline. The job comes back
   * SUCCEEDED, FAILED (with {@link Job#getError()}) or CANCELLED: a failed job is a result, not
   * an exception. When the deadline passes first, the {@link JobsvcException} (DEADLINE_EXCEEDED)
   * carries the {@link JobsvcException#jobId() job id}: the job carries on.
   */
  public Job call(String handler, Object input, SubmitOptions options) {
    CallRequest request = CallRequest.newBuilder().setJob(JobSpecs.of(handler, input, options)).build();
    AtomicReference<Metadata> headers = new AtomicReference<>();
    AtomicReference<Metadata> trailers = new AtomicReference<>();
    CallServiceGrpc.CallServiceBlockingStub stub =
        deadline(callStub, options.deadline().orElse(defaultDeadline))
            .withInterceptors(MetadataUtils.newCaptureMetadataInterceptor(headers, trailers));
    try {
      return stub.call(request).getJob();
    } catch (StatusRuntimeException e) {
      Metadata sent = headers.get();
      throw JobsvcException.from(e, sent == null ? null : sent.get(ResumableStream.JOB_ID_HEADER));
    }
  }

  /** The JSON result of a job; see {@link #callResult(String, Object, SubmitOptions)}. */
  public Value callResult(String handler, Object input) {
    return callResult(handler, input, SubmitOptions.defaults());
  }

  /**
   * Calls a job and returns its JSON result ({@link Payloads#toJava} makes it a plain Java value).
   *
   * @throws JobFailedException when the job failed (its error's type, message and traceback)
   * @throws JobCancelledException when it was cancelled
   * @throws IllegalStateException when the result is a typed payload: use {@link
   *     #callResult(String, Object, SubmitOptions, Class)}
   */
  public Value callResult(String handler, Object input, SubmitOptions options) {
    Payload result = succeeded(call(handler, input, options)).getResult();
    if (result.getKindCase() == Payload.KindCase.PROTO) {
      throw new IllegalStateException(
          "the result is a typed payload (" + result.getProto().getTypeUrl() + "): ask for its message class");
    }
    return result.getJson();
  }

  /**
   * Calls a job and returns its result as a message of {@code type}: a typed result unpacked, a
   * JSON result read through the type's JSON mapping.
   *
   * @throws JobFailedException when the job failed
   * @throws JobCancelledException when it was cancelled
   * @throws IllegalArgumentException when the result does not fit {@code type}
   */
  public <T extends Message> T callResult(String handler, Object input, SubmitOptions options, Class<T> type) {
    Payload result = succeeded(call(handler, input, options)).getResult();
    if (result.getKindCase() == Payload.KindCase.PROTO) {
      try {
        return result.getProto().unpack(type);
      } catch (com.google.protobuf.InvalidProtocolBufferException e) {
        throw new IllegalArgumentException("the result is not a " + type.getName(), e);
      }
    }
    return Payloads.toMessage(result.getJson(), type);
  }

  // ---- stream

  /**
   * Follows a job's events after {@code afterSequence} (0: from the start) until its terminal
   * event, resuming dropped connections. With {@code afterSequence} at a finished job's last
   * sequence (say the terminal event's, saved earlier) it ends with no event; beyond it, {@link
   * EventStream#hasNext()} throws a {@link JobsvcException} OUT_OF_RANGE (reason {@code
   * SEQUENCE_NOT_REACHED}, metadata {@code last_sequence}).
   */
  public EventStream stream(String jobId, long afterSequence) {
    return new EventStream(observer -> streamAsync(jobId, afterSequence, observer));
  }

  /** Submits a job and follows its events from the start; see {@link #stream(String, long)}. */
  public EventStream stream(JobSpec spec) {
    return new EventStream(observer -> streamAsync(spec, observer));
  }

  /**
   * Follows a job's events with callbacks (on gRPC's threads, one at a time): every event after
   * {@code afterSequence}, then {@code onCompleted} after the terminal event, or {@code onError}
   * with a {@link JobsvcException} when the stream fails for good. Dropped connections are
   * resumed where they stopped. A stream the server ends before the terminal event costs one
   * GetJob (BASIC view): when the job is finished with no event after the last one received
   * (or {@code afterSequence}), {@code onCompleted} follows; otherwise (a server shutting down,
   * or that GetJob failing) the stream is resumed. Close the subscription to stop early.
   */
  public Subscription streamAsync(String jobId, long afterSequence, StreamObserver<JobEvent> observer) {
    Objects.requireNonNull(jobId, "jobId");
    if (afterSequence < 0) {
      throw new IllegalArgumentException("afterSequence must not be negative");
    }
    return openStream(StreamRequest.newBuilder().setJobId(jobId).setAfterSequence(afterSequence).build(), observer);
  }

  /**
   * Submits a job and follows its events with callbacks; see {@link #streamAsync(String, long,
   * StreamObserver)}. A connection dropped before the server sent the job's id is resumed only
   * when the spec has an idempotency key (so the job is never submitted twice).
   */
  public Subscription streamAsync(JobSpec spec, StreamObserver<JobEvent> observer) {
    return openStream(StreamRequest.newBuilder().setSubmit(spec).build(), observer);
  }

  private Subscription openStream(StreamRequest request, StreamObserver<JobEvent> observer) {
    return ResumableStream.start(
        channel,
        CallOptions.DEFAULT,
        defaultDeadline,
        request,
        streamResumePolicy,
        scheduler,
        Objects.requireNonNull(observer));
  }

  // ---- inspect and manage

  /** One job, whole (the FULL view). */
  public Job get(String jobId) {
    return get(jobId, JobView.JOB_VIEW_UNSPECIFIED);
  }

  /**
   * One job in a view: {@link JobView#JOB_VIEW_BASIC} leaves out its input, result and tracebacks;
   * {@link JobView#JOB_VIEW_FULL} (and UNSPECIFIED) is the whole job.
   */
  public Job get(String jobId, JobView view) {
    GetJobRequest request = GetJobRequest.newBuilder().setId(jobId).setView(view).build();
    return unary(() -> deadline(jobStub, defaultDeadline).getJob(request)).getJob();
  }

  /**
   * One page of jobs, newest first; {@link ListJobsResponse#getNextPageToken()} is the next. A page
   * may hold fewer jobs than its page size when large jobs fill the response; {@link
   * ListJobsRequest.Builder#setView} BASIC leaves out inputs, results and tracebacks.
   */
  public ListJobsResponse list(ListJobsRequest request) {
    return unary(() -> deadline(jobStub, defaultDeadline).listJobs(request));
  }

  /** Every job in these states (any state when none), newest first, fetching pages as needed. */
  public Stream<Job> listAll(JobState... states) {
    return listAll(ListJobsRequest.newBuilder().addAllStates(List.of(states)).build());
  }

  /**
   * Every job that {@code request} selects (its page token is the start, its page size the
   * size of each page fetched), newest first. Pages are fetched lazily as the stream is read.
   */
  public Stream<Job> listAll(ListJobsRequest request) {
    return JobPages.stream(request, this::list);
  }

  /** Cancels a job: a queued one at once, a running one once its executor stops it. */
  public Job cancel(String jobId) {
    return cancel(jobId, "");
  }

  /**
   * Cancels a job, recording why. Cancelling a cancelled job changes nothing.
   *
   * @throws JobsvcException FAILED_PRECONDITION (reason {@code JOB_ALREADY_FINISHED}) when the job
   *     has succeeded or failed
   */
  public Job cancel(String jobId, String reason) {
    CancelJobRequest request = CancelJobRequest.newBuilder().setId(jobId).setReason(reason).build();
    return unary(() -> deadline(jobStub, defaultDeadline).cancelJob(request)).getJob();
  }

  /** Every handler version the service knows, sorted by name, newest version first. */
  public List<HandlerInfo> handlers() {
    return handlers("");
  }

  /** The versions of one handler (all handlers when {@code name} is empty). */
  public List<HandlerInfo> handlers(String name) {
    ListHandlersRequest request = ListHandlersRequest.newBuilder().setName(name).build();
    return unary(() -> deadline(jobStub, defaultDeadline).listHandlers(request)).getHandlersList();
  }

  /**
   * Pauses a handler ({@code version} empty: every version) or one exact version: its queued jobs
   * stay queued, running ones finish. Returns once every replica and worker obeys: no job of it
   * starts after that, until {@link #resume}.
   */
  public Pause pause(String handler, String version, String reason) {
    PauseHandlerRequest request =
        PauseHandlerRequest.newBuilder()
            .setHandler(handler)
            .setVersion(version)
            .setReason(reason)
            .build();
    return unary(() -> deadline(pauseStub, defaultDeadline).pauseHandler(request)).getPause();
  }

  /** Undoes {@link #pause}; false when it was not paused. The queued jobs start at once. */
  public boolean resume(String handler, String version) {
    ResumeHandlerRequest request =
        ResumeHandlerRequest.newBuilder().setHandler(handler).setVersion(version).build();
    return unary(() -> deadline(pauseStub, defaultDeadline).resumeHandler(request)).getWasPaused();
  }

  /**
   * Pauses every job carrying this flow-control key (its concurrency, rate or fairness key as
   * rendered at submit: a tenant's, say), as {@link #pause} does.
   */
  public Pause pauseFlowKey(String key, String reason) {
    PauseFlowKeyRequest request =
        PauseFlowKeyRequest.newBuilder().setKey(key).setReason(reason).build();
    return unary(() -> deadline(pauseStub, defaultDeadline).pauseFlowKey(request)).getPause();
  }

  /** Undoes {@link #pauseFlowKey}; false when the key was not paused. */
  public boolean resumeFlowKey(String key) {
    ResumeFlowKeyRequest request = ResumeFlowKeyRequest.newBuilder().setKey(key).build();
    return unary(() -> deadline(pauseStub, defaultDeadline).resumeFlowKey(request)).getWasPaused();
  }

  /** The pauses in force. */
  public List<Pause> pauses() {
    ListPausesRequest request = ListPausesRequest.getDefaultInstance();
    return unary(() -> deadline(pauseStub, defaultDeadline).listPauses(request)).getPausesList();
  }

  /**
   * Counts the jobs a bulk action would touch, without acting: the answer's state is {@code
   * OPERATION_STATE_DRY_RUN}, it has no id, and nothing is stored.
   */
  public Operation bulkDryRun(BulkAction action, JobFilter filter) {
    return startBulk(action, filter, true, 0);
  }

  /**
   * Cancels, redrives or deletes every job the filter selects, as a background operation the
   * server works through in batches of at most {@code maxJobsPerSecond} jobs a second (0: the
   * server's default, 1000); follow it with {@link #getOperation}.
   */
  public Operation bulk(BulkAction action, JobFilter filter, double maxJobsPerSecond) {
    return startBulk(action, filter, false, maxJobsPerSecond);
  }

  private Operation startBulk(
      BulkAction action, JobFilter filter, boolean dryRun, double maxJobsPerSecond) {
    StartBulkActionRequest request =
        StartBulkActionRequest.newBuilder()
            .setAction(action)
            .setFilter(filter)
            .setDryRun(dryRun)
            .setMaxJobsPerSecond(maxJobsPerSecond)
            .build();
    return unary(() -> deadline(operationStub, defaultDeadline).startBulkAction(request))
        .getOperation();
  }

  /** A bulk operation and its progress ({@code processed} of {@code matched}). */
  public Operation getOperation(String id) {
    GetOperationRequest request = GetOperationRequest.newBuilder().setId(id).build();
    return unary(() -> deadline(operationStub, defaultDeadline).getOperation(request))
        .getOperation();
  }

  /**
   * Stops a running bulk operation after its batch in flight (what it did stays done); a finished
   * one is returned as it is.
   */
  public Operation cancelOperation(String id) {
    CancelOperationRequest request = CancelOperationRequest.newBuilder().setId(id).build();
    return unary(() -> deadline(operationStub, defaultDeadline).cancelOperation(request))
        .getOperation();
  }

  // ---- workflows

  /** Stores a workflow (all its steps, in one transaction); returns it once durable. */
  public Workflow submitWorkflow(WorkflowBuilder workflow) {
    return unary(() -> deadline(workflowStub, defaultDeadline).submitWorkflow(workflow.request())).getWorkflow();
  }

  /**
   * Submits a workflow and waits, within {@code deadline} (null: none), until every step has
   * finished: the workflow and its sink steps (those no step depends on) with their results. A
   * workflow that failed is an answer (state FAILED), not an exception. When the deadline passes
   * first, the {@link JobsvcException} (DEADLINE_EXCEEDED) carries the workflow's id as its {@link
   * JobsvcException#jobId()}: the workflow carries on.
   */
  public CallWorkflowResponse callWorkflow(WorkflowBuilder workflow, Duration deadline) {
    CallWorkflowRequest request = CallWorkflowRequest.newBuilder().setWorkflow(workflow.request()).build();
    AtomicReference<Metadata> headers = new AtomicReference<>();
    AtomicReference<Metadata> trailers = new AtomicReference<>();
    try {
      return deadline(workflowStub, deadline)
          .withInterceptors(MetadataUtils.newCaptureMetadataInterceptor(headers, trailers))
          .callWorkflow(request);
    } catch (StatusRuntimeException e) {
      Metadata sent = headers.get();
      throw JobsvcException.from(e, sent == null ? null : sent.get(WORKFLOW_ID_HEADER));
    }
  }

  /** {@link #callWorkflow(WorkflowBuilder, Duration)} within the client's default deadline. */
  public CallWorkflowResponse callWorkflow(WorkflowBuilder workflow) {
    return callWorkflow(workflow, defaultDeadline);
  }

  /**
   * The JSON result of sink step {@code step} of a finished workflow as a plain Java value
   * ({@link Payloads#toJava}).
   *
   * @throws IllegalArgumentException when {@code step} is not one of its sink steps
   */
  public static Object workflowOutput(CallWorkflowResponse response, String step) {
    for (WorkflowStepStatus output : response.getOutputsList()) {
      if (output.getName().equals(step)) {
        return Payloads.toJava(output.getJob().getResult());
      }
    }
    throw new IllegalArgumentException(step + " is not a sink step of workflow " + response.getWorkflow().getId());
  }

  /** A workflow and every step's job: {@link JobView#JOB_VIEW_FULL} with their inputs and results. */
  public Workflow getWorkflow(String id, JobView view) {
    GetWorkflowRequest request = GetWorkflowRequest.newBuilder().setId(id).setView(view).build();
    return unary(() -> deadline(workflowStub, defaultDeadline).getWorkflow(request)).getWorkflow();
  }

  /** One page of workflows, newest first, without their steps (page size 0: the server's, 100). */
  public ListWorkflowsResponse listWorkflows(int pageSize, String pageToken) {
    ListWorkflowsRequest request = ListWorkflowsRequest.newBuilder().setPageSize(pageSize).setPageToken(pageToken).build();
    return unary(() -> deadline(workflowStub, defaultDeadline).listWorkflows(request));
  }

  /** Cancels every step not finished (running ones are asked to stop, on remote workers too). */
  public Workflow cancelWorkflow(String id, String reason) {
    CancelWorkflowRequest request = CancelWorkflowRequest.newBuilder().setId(id).setReason(reason).build();
    return unary(() -> deadline(workflowStub, defaultDeadline).cancelWorkflow(request)).getWorkflow();
  }

  /** Runs a FAILED step again; the dependants its failure cancelled wait for it again. */
  public Workflow redriveWorkflowStep(String id, String step) {
    RedriveWorkflowStepRequest request = RedriveWorkflowStepRequest.newBuilder().setId(id).setStep(step).build();
    return unary(() -> deadline(workflowStub, defaultDeadline).redriveWorkflowStep(request)).getWorkflow();
  }

  /**
   * Every step's events after {@code afterSequence} (0: from the start) in the workflow's one
   * sequence, each naming its step, until the workflow has finished. Read on the calling thread; a
   * dropped connection is re-opened after the last sequence read (per the client's stream resume
   * policy): no gap, no duplicate. Close it to stop early.
   */
  public WorkflowEvents streamWorkflow(String id, long afterSequence) {
    return new WorkflowEvents(workflowStub, id, afterSequence, streamResumePolicy);
  }

  /**
   * The client's channel, with its credentials and token: for the generated stubs of the other
   * services, or a {@code dev.jobsvc.worker.JobsvcWorker} sharing the connection. Closed by {@link
   * #close()}.
   */
  public io.grpc.Channel channel() {
    return channel;
  }

  /**
   * Closes the client: open streams and RPCs under way are cancelled (they fail with
   * CANCELLED), then the channel's connections are closed (waiting up to 5 s).
   */
  @Override
  public void close() {
    scheduler.shutdownNow(); // first, so that no stream re-opens
    channel.shutdownNow();
    try {
      channel.awaitTermination(5, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  private static Job succeeded(Job job) {
    if (job.getState() != JobState.JOB_STATE_SUCCEEDED) {
      throw JobNotSucceededException.of(job);
    }
    return job;
  }

  private static <S extends AbstractStub<S>> S deadline(S stub, Duration deadline) {
    return deadline == null ? stub : stub.withDeadlineAfter(deadline.toNanos(), TimeUnit.NANOSECONDS);
  }

  private static <T> T unary(Supplier<T> rpc) {
    try {
      return rpc.get();
    } catch (StatusRuntimeException e) {
      throw JobsvcException.from(e);
    }
  }
}
