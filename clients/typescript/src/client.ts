/**
 * The jobsvc client: submit, call, stream, inspect and cancel jobs over gRPC.
 *
 *     const client = createClient({ address: "127.0.0.1:50051" });
 *     const result = await client.callResult("resize_image", { url: "s3://a.png" }, { version: "^2" });
 */
import {
  create,
  type DescMessage,
  type DescMethodServerStreaming,
  type DescMethodUnary,
  type MessageInitShape,
  type MessageShape,
} from "@bufbuild/protobuf";
import { createClient as createConnectClient, type CallOptions, type Transport } from "@connectrpc/connect";
import { createAsyncIterable } from "@connectrpc/connect/protocol";
import { JOB_ID_HEADER, JobCancelledError, JobFailedError, JobsvcError, WORKFLOW_ID_HEADER } from "./errors.js";
import { CallRequestSchema, CallService } from "./gen/jobsvc/v1/call_service_pb.js";
import { JobState, type HandlerInfo, type Job, type JobEvent } from "./gen/jobsvc/v1/job_pb.js";
import { JobService, JobView, type ListJobsResponse } from "./gen/jobsvc/v1/job_service_pb.js";
import {
  OperationService,
  type BulkAction,
  type JobFilterSchema,
  type Operation,
} from "./gen/jobsvc/v1/operation_service_pb.js";
import { PauseService, type Pause } from "./gen/jobsvc/v1/pause_service_pb.js";
import { StreamService } from "./gen/jobsvc/v1/stream_service_pb.js";
import { SubmitService, type SubmitResponse } from "./gen/jobsvc/v1/submit_service_pb.js";
import {
  CallWorkflowRequestSchema,
  WorkflowService,
  type CallWorkflowResponse,
  type ListWorkflowsResponse,
  type StreamWorkflowResponse,
  type Workflow,
} from "./gen/jobsvc/v1/workflow_service_pb.js";
import { payloadValue, type JsonValue, type PayloadInput } from "./payload.js";
import { jobSpec, jobSpecFrom, type JobOptions, type JobSpecInit } from "./spec.js";
import { followEvents, type StreamOptions, type StreamTarget } from "./stream.js";
import { createChannel, type ConnectionOptions } from "./transport.js";
import { followWorkflow, type WorkflowBuilder } from "./workflow.js";

/** Options of {@link createClient}. */
export interface ClientOptions extends ConnectionOptions {
  /** Deadline of unary RPCs (everything but Stream) when a call gives none; default: none. */
  defaultTimeoutMs?: number;
}

/** Per-RPC options. */
export interface RpcOptions {
  /** The RPC's deadline; overrides `defaultTimeoutMs`. */
  timeoutMs?: number;
  /** Abandon the RPC (it fails with CANCELLED). */
  signal?: AbortSignal;
}

/** Options of submit and call: the job's options plus the RPC's. */
export type SubmitOptions = JobOptions & RpcOptions;

/** A job to follow in {@link JobsvcClient.stream}: by id, or a new job to submit. */
export type StreamSource = { jobId: string } | { submit: JobSpecInit };

/** Filters and paging of {@link JobsvcClient.list}. */
export interface ListOptions extends RpcOptions {
  /** Only jobs in these states (any when empty). */
  states?: JobState[];
  /** Only jobs of this handler. */
  handler?: string;
  /** 1..1000 (server default 100). */
  pageSize?: number;
  /** From a previous page's `nextPageToken`. */
  pageToken?: string;
  /** `JobView.BASIC`: jobs without input, result and tracebacks (many more a page); default FULL. */
  view?: JobView;
  /** Only jobs carrying every one of these labels. */
  labels?: Record<string, string>;
}

/** What {@link JobsvcClient.pause} and {@link JobsvcClient.resume} name: a handler (every version,
 * or one exact `version`), or a flow-control `key` (its jobs' concurrency, rate or fairness key). */
export type PauseTarget = { handler: string; version?: string } | { key: string };

/** Which jobs {@link JobsvcClient.bulk} acts on, as a plain object: `states`, `handler`, an exact
 * `version`, `labels`, `flowKey`, `createdAfter`/`createdBefore`; every condition given must hold. */
export type JobFilterInit = MessageInitShape<typeof JobFilterSchema>;

/** Options of {@link JobsvcClient.bulk}. */
export interface BulkOptions extends RpcOptions {
  /** Only count the jobs it would act on: the answer's state is `DRY_RUN`, nothing is stored. */
  dryRun?: boolean;
  /** How fast the operation works (default: the server's, 1000 jobs per second). */
  maxJobsPerSecond?: number;
}

/** Options of {@link JobsvcClient.get}. */
export interface GetOptions extends RpcOptions {
  /** `JobView.BASIC`: the job without its input, result and tracebacks; default FULL. */
  view?: JobView;
}

/** The client returned by {@link createClient}. */
export interface JobsvcClient {
  /** Enqueue a job; resolves once it is durable. */
  submit(handler: string, input?: PayloadInput, options?: SubmitOptions): Promise<Job>;
  /** Enqueue a job and tell whether it is new (`created` is false for a repeated idempotency key). */
  submitWithStatus(handler: string, input?: PayloadInput, options?: SubmitOptions): Promise<SubmitResponse>;
  /** Enqueue many jobs in one transaction: all or none. Jobs come back in request order. */
  submitBatch(specs: JobSpecInit[], options?: RpcOptions): Promise<Job[]>;
  /** Submit and wait for the job's terminal state (SUCCEEDED, FAILED or CANCELLED). A failed job is
   * a result, not an error; a passed deadline throws DEADLINE_EXCEEDED with the job's `jobId`. */
  call(handler: string, input?: PayloadInput, options?: SubmitOptions): Promise<Job>;
  /** Call and return the decoded result; throws {@link JobFailedError} or {@link JobCancelledError}. */
  callResult<T = JsonValue>(handler: string, input?: PayloadInput, options?: SubmitOptions): Promise<T>;
  /** A job's events, ending with the terminal one; resumes by itself after dropped connections.
   * Resumed (`afterSequence`) at a finished job's last sequence, it ends with no event. */
  stream(source: StreamSource, options?: StreamOptions): AsyncGenerator<JobEvent, void, undefined>;
  /** One job. */
  get(jobId: string, options?: GetOptions): Promise<Job>;
  /** One page of jobs, newest first: fewer than `pageSize` when large jobs fill the response
   * (a `nextPageToken` then goes on from there). */
  list(options?: ListOptions): Promise<ListJobsResponse>;
  /** Every page of jobs, newest first, following the page tokens. */
  listPages(options?: ListOptions): AsyncGenerator<ListJobsResponse, void, undefined>;
  /** Cancel a queued job, or ask a running one to stop. FAILED_PRECONDITION when it has finished. */
  cancel(jobId: string, reason?: string, options?: RpcOptions): Promise<Job>;
  /** Re-run a dead-lettered (FAILED) job as a new job with a fresh attempt budget; resolves to the new job. */
  redrive(jobId: string, options?: RpcOptions): Promise<Job>;
  /** Re-run every dead-lettered job of a handler (optionally one exact version); the new jobs' ids. */
  redriveAll(handler: string, options?: RpcOptions & { version?: string; limit?: number }): Promise<string[]>;
  /** Handler versions the server knows (all, or one name's), with schemas and whether one is online. */
  handlers(name?: string, options?: RpcOptions): Promise<HandlerInfo[]>;
  /** Pause a handler, a version or a flow-control key: its queued jobs stay queued, running ones
   * finish. Resolves once every replica and worker obeys: nothing it names starts after that. */
  pause(target: PauseTarget, options?: RpcOptions & { reason?: string }): Promise<Pause>;
  /** Undo {@link JobsvcClient.pause}; false when it was not paused. The queued jobs start at once. */
  resume(target: PauseTarget, options?: RpcOptions): Promise<boolean>;
  /** The pauses in force. */
  pauses(options?: RpcOptions): Promise<Pause[]>;
  /** Cancel, redrive or delete every job the filter selects, as a background operation the server
   * works through in batches (`dryRun`: only count them). Follow it with {@link JobsvcClient.getOperation}. */
  bulk(action: BulkAction, filter: JobFilterInit, options?: BulkOptions): Promise<Operation>;
  /** A bulk operation and its progress (`processed` of `matched`). */
  getOperation(id: string, options?: RpcOptions): Promise<Operation>;
  /** Stop a running bulk operation after its batch in flight; a finished one is returned as it is. */
  cancelOperation(id: string, options?: RpcOptions): Promise<Operation>;
  /** Store a workflow (all its steps, in one transaction); resolves once it is durable. */
  submitWorkflow(workflow: WorkflowBuilder, options?: RpcOptions): Promise<Workflow>;
  /** Submit a workflow and wait until every step has finished: the workflow and its sink steps
   * with their results (`outputs`, see {@link workflowOutput}). A failed workflow is an answer; a
   * passed deadline throws DEADLINE_EXCEEDED with the workflow's id as the error's `jobId`. */
  callWorkflow(workflow: WorkflowBuilder, options?: RpcOptions): Promise<CallWorkflowResponse>;
  /** A workflow and every step's job (`JobView.FULL`: with their inputs and results). */
  getWorkflow(id: string, options?: GetOptions): Promise<Workflow>;
  /** One page of workflows, newest first, without their steps. */
  listWorkflows(options?: RpcOptions & { pageSize?: number; pageToken?: string }): Promise<ListWorkflowsResponse>;
  /** Cancel every step not finished (running ones are asked to stop, on remote workers too). */
  cancelWorkflow(id: string, reason?: string, options?: RpcOptions): Promise<Workflow>;
  /** Run a FAILED step again; the workflow continues from there. */
  redriveWorkflowStep(id: string, step: string, options?: RpcOptions): Promise<Workflow>;
  /** Every step's events (`step`, `event`) in the workflow's one sequence, until it has finished;
   * resumes by itself after dropped connections. */
  streamWorkflow(id: string, options?: StreamOptions): AsyncGenerator<StreamWorkflowResponse, void, undefined>;
  /** Close the connection (open streams end). */
  close(): void;
}

/** The result of a finished job, or the error it ended with. */
export function jobResult<T = JsonValue>(job: Job): T {
  switch (job.state) {
    case JobState.SUCCEEDED:
      return payloadValue(job.result) as T;
    case JobState.FAILED:
      throw new JobFailedError(job);
    case JobState.CANCELLED:
      throw new JobCancelledError(job);
    default:
      throw new Error(`job ${job.id} has not finished (state ${JobState[job.state]})`);
  }
}

/** Connect to a jobsvc server (lazily: the first RPC opens the connection). */
export function createClient(options: ClientOptions): JobsvcClient {
  const channel = createChannel(options);
  const submitService = createConnectClient(SubmitService, channel.transport);
  const streamService = createConnectClient(StreamService, channel.transport);
  const jobService = createConnectClient(JobService, channel.transport);
  const pauseService = createConnectClient(PauseService, channel.transport);
  const operationService = createConnectClient(OperationService, channel.transport);
  const workflowService = createConnectClient(WorkflowService, channel.transport);

  const callOptions = (rpc: RpcOptions | undefined, extra: CallOptions = {}): CallOptions => {
    const timeoutMs = rpc?.timeoutMs ?? options.defaultTimeoutMs;
    return {
      ...extra,
      ...(timeoutMs === undefined ? {} : { timeoutMs }),
      ...(rpc?.signal === undefined ? {} : { signal: rpc.signal }),
    };
  };
  /** Run an RPC, turning whatever it throws into a JobsvcError. */
  const rpc = async <T>(run: () => Promise<T>, jobId?: () => string | undefined): Promise<T> => {
    try {
      return await run();
    } catch (error) {
      throw JobsvcError.from(error, jobId?.());
    }
  };
  const split = (all: SubmitOptions | undefined): [JobOptions, RpcOptions] => {
    const { timeoutMs, signal, ...job } = all ?? {};
    return [job, { ...(timeoutMs === undefined ? {} : { timeoutMs }), ...(signal === undefined ? {} : { signal }) }];
  };

  const submitWithStatus: JobsvcClient["submitWithStatus"] = (handler, input, all) => {
    const [job, rpcOptions] = split(all);
    const request = { job: jobSpec(handler, input, job) };
    return rpc(() => submitService.submit(request, callOptions(rpcOptions)));
  };

  const call: JobsvcClient["call"] = async (handler, input, all) => {
    const [job, rpcOptions] = split(all);
    const response = await unaryKeepingId(
      channel.transport,
      CallService.method.call,
      JOB_ID_HEADER,
      create(CallRequestSchema, { job: jobSpec(handler, input, job) }),
      callOptions(rpcOptions),
    );
    return required(response.job, "Call");
  };

  const list: JobsvcClient["list"] = (filters = {}) =>
    rpc(() =>
      jobService.listJobs(
        {
          states: filters.states ?? [],
          handler: filters.handler ?? "",
          pageSize: filters.pageSize ?? 0,
          pageToken: filters.pageToken ?? "",
          view: filters.view ?? JobView.UNSPECIFIED,
          labels: filters.labels ?? {},
        },
        callOptions(filters),
      ),
    );

  return {
    submitWithStatus,
    async submit(handler, input, all) {
      return required((await submitWithStatus(handler, input, all)).job, "Submit");
    },
    async submitBatch(specs, rpcOptions) {
      const request = { jobs: specs.map(jobSpecFrom) };
      return (await rpc(() => submitService.submitBatch(request, callOptions(rpcOptions)))).jobs;
    },
    call,
    async callResult<T = JsonValue>(handler: string, input?: PayloadInput, all?: SubmitOptions): Promise<T> {
      return jobResult<T>(await call(handler, input, all));
    },
    stream(source, streamOptions) {
      const target: StreamTarget = "jobId" in source ? { jobId: source.jobId } : { submit: jobSpecFrom(source.submit) };
      const lookup = async (jobId: string, signal?: AbortSignal) =>
        (await jobService.getJob({ id: jobId, view: JobView.BASIC }, callOptions(signal ? { signal } : undefined))).job;
      return followEvents(streamService, target, streamOptions, lookup);
    },
    async get(jobId, options) {
      const request = { id: jobId, view: options?.view ?? JobView.UNSPECIFIED };
      return required((await rpc(() => jobService.getJob(request, callOptions(options)))).job, "GetJob");
    },
    list,
    async *listPages(filters = {}) {
      let pageToken = filters.pageToken ?? "";
      do {
        const page = await list({ ...filters, pageToken });
        yield page;
        pageToken = page.nextPageToken;
      } while (pageToken !== "");
    },
    async cancel(jobId, reason = "", rpcOptions) {
      const response = await rpc(() => jobService.cancelJob({ id: jobId, reason }, callOptions(rpcOptions)));
      return required(response.job, "CancelJob");
    },
    async redrive(jobId, rpcOptions) {
      const response = await rpc(() => jobService.redriveJob({ id: jobId }, callOptions(rpcOptions)));
      return required(response.job, "RedriveJob");
    },
    async redriveAll(handler, options = {}) {
      const request = { handler, version: options.version ?? "", limit: options.limit ?? 0 };
      return (await rpc(() => jobService.redriveJobs(request, callOptions(options)))).jobIds;
    },
    async handlers(name = "", rpcOptions) {
      return (await rpc(() => jobService.listHandlers({ name }, callOptions(rpcOptions)))).handlers;
    },
    async pause(target, options = {}) {
      const reason = options.reason ?? "";
      const response =
        "key" in target
          ? await rpc(() => pauseService.pauseFlowKey({ key: target.key, reason }, callOptions(options)))
          : await rpc(() =>
              pauseService.pauseHandler(
                { handler: target.handler, version: target.version ?? "", reason },
                callOptions(options),
              ),
            );
      return required(response.pause, "Pause");
    },
    async resume(target, rpcOptions) {
      const response =
        "key" in target
          ? await rpc(() => pauseService.resumeFlowKey({ key: target.key }, callOptions(rpcOptions)))
          : await rpc(() =>
              pauseService.resumeHandler(
                { handler: target.handler, version: target.version ?? "" },
                callOptions(rpcOptions),
              ),
            );
      return response.wasPaused;
    },
    async pauses(rpcOptions) {
      return (await rpc(() => pauseService.listPauses({}, callOptions(rpcOptions)))).pauses;
    },
    async bulk(action, filter, options = {}) {
      const request = {
        action,
        filter,
        dryRun: options.dryRun ?? false,
        maxJobsPerSecond: options.maxJobsPerSecond ?? 0,
      };
      const response = await rpc(() => operationService.startBulkAction(request, callOptions(options)));
      return required(response.operation, "StartBulkAction");
    },
    async getOperation(id, rpcOptions) {
      const response = await rpc(() => operationService.getOperation({ id }, callOptions(rpcOptions)));
      return required(response.operation, "GetOperation");
    },
    async cancelOperation(id, rpcOptions) {
      const response = await rpc(() => operationService.cancelOperation({ id }, callOptions(rpcOptions)));
      return required(response.operation, "CancelOperation");
    },
    async submitWorkflow(wf, rpcOptions) {
      const response = await rpc(() => workflowService.submitWorkflow(wf.request(), callOptions(rpcOptions)));
      return required(response.workflow, "SubmitWorkflow");
    },
    callWorkflow(wf, rpcOptions) {
      const request = create(CallWorkflowRequestSchema, { workflow: wf.request() });
      const method = WorkflowService.method.callWorkflow;
      return unaryKeepingId(channel.transport, method, WORKFLOW_ID_HEADER, request, callOptions(rpcOptions));
    },
    async getWorkflow(id, options) {
      const request = { id, view: options?.view ?? JobView.UNSPECIFIED };
      return required(
        (await rpc(() => workflowService.getWorkflow(request, callOptions(options)))).workflow,
        "GetWorkflow",
      );
    },
    listWorkflows(options = {}) {
      const request = { pageSize: options.pageSize ?? 0, pageToken: options.pageToken ?? "" };
      return rpc(() => workflowService.listWorkflows(request, callOptions(options)));
    },
    async cancelWorkflow(id, reason = "", rpcOptions) {
      const response = await rpc(() => workflowService.cancelWorkflow({ id, reason }, callOptions(rpcOptions)));
      return required(response.workflow, "CancelWorkflow");
    },
    async redriveWorkflowStep(id, step, rpcOptions) {
      const response = await rpc(() => workflowService.redriveWorkflowStep({ id, step }, callOptions(rpcOptions)));
      return required(response.workflow, "RedriveWorkflowStep");
    },
    streamWorkflow: (id, streamOptions) => followWorkflow(workflowService, id, streamOptions),
    close: () => channel.close(),
  };
}

/** A unary RPC run as a server stream: the wire format of a unary gRPC call is the same, but this
 * way the response headers are read as soon as they arrive, so a Call (`jobsvc-job-id`) or a
 * CallWorkflow (`jobsvc-workflow-id`) whose deadline passes still tells which job or workflow
 * carries on: its id is the error's `jobId`. */
async function unaryKeepingId<I extends DescMessage, O extends DescMessage>(
  transport: Transport,
  method: DescMethodUnary<I, O>,
  header: string,
  request: MessageShape<I>,
  options: CallOptions,
): Promise<MessageShape<O>> {
  const asStream = { ...method, methodKind: "server_streaming" } as unknown as DescMethodServerStreaming<I, O>;
  let id: string | undefined;
  try {
    const response = await transport.stream(
      asStream,
      options.signal,
      options.timeoutMs,
      options.headers,
      createAsyncIterable([request]),
      options.contextValues,
    );
    id = response.header.get(header) ?? undefined;
    let last: MessageShape<O> | undefined;
    for await (const message of response.message) last = message;
    if (last === undefined) throw new Error(`${method.name} answered no message`);
    return last;
  } catch (error) {
    throw JobsvcError.from(error, id);
  }
}

function required<T>(value: T | undefined, method: string): T {
  if (value === undefined) throw new Error(`${method} response carries nothing`);
  return value;
}
