/**
 * `@jobsvc/client`: a TypeScript client and remote-worker library for jobsvc.
 *
 * - {@link createClient}: Submit, Call, Stream (async iterator with automatic resume),
 *   Get, List (by label too), Cancel, ListHandlers, Pause and Resume, bulk operations, and
 *   workflows ({@link workflow} builds one; submit, call, get, list, cancel, redrive a step, stream).
 * - {@link createWorker}: serve handlers from this process over AckService.Work.
 * - Generated messages and services: `@jobsvc/client/gen/jobsvc/v1/<file>_pb`.
 */
export {
  createClient,
  jobResult,
  type BulkOptions,
  type ClientOptions,
  type GetOptions,
  type JobFilterInit,
  type JobsvcClient,
  type ListOptions,
  type PauseTarget,
  type RpcOptions,
  type StreamSource,
  type SubmitOptions,
} from "./client.js";
export {
  codeName,
  type FieldViolation,
  type GrpcCodeName,
  JOB_ID_HEADER,
  WORKFLOW_ID_HEADER,
  JobCancelledError,
  JobFailedError,
  JobsvcError,
} from "./errors.js";
export { payloadValue, protoPayload, toPayload, type JsonValue, type PayloadInput } from "./payload.js";
export { jobSpec, jobSpecFrom, type JobOptions, type JobSpecInit, type RetryPolicyOptions } from "./spec.js";
export { isTerminal, TERMINAL_EVENTS, type StreamOptions } from "./stream.js";
export { bearerToken, type ConnectionOptions, type TokenSource } from "./transport.js";
export {
  StepBuilder,
  workflow,
  WorkflowBuilder,
  workflowOutput,
  workflowSucceeded,
  type MapOptions,
} from "./workflow.js";
export {
  WorkflowState,
  type CallWorkflowResponse,
  type StreamWorkflowResponse,
  type Workflow,
  type WorkflowStepStatus,
} from "./gen/jobsvc/v1/workflow_service_pb.js";
export {
  ChildJobFailedError,
  createWorker,
  NonRetryableError,
  Parked,
  RejectError,
  SpawnRefusedError,
  type ChildJob,
  type HandlerFn,
  type HandlerOptions,
  type Worker,
  type WorkerJob,
  type WorkerLogger,
  type WorkerOptions,
  type SpawnOptions,
} from "./worker/index.js";
export {
  JobState,
  type HandlerInfo,
  type Job,
  type JobError,
  type JobEvent,
  type Payload,
} from "./gen/jobsvc/v1/job_pb.js";
export { JobView } from "./gen/jobsvc/v1/job_service_pb.js";
export { type Pause } from "./gen/jobsvc/v1/pause_service_pb.js";
export { BulkAction, OperationState, type Operation } from "./gen/jobsvc/v1/operation_service_pb.js";
