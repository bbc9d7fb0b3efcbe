/**
 * Errors of the jobsvc client: failed RPCs ({@link JobsvcError}, decoded from the
 * google.rpc.Status details the server sends in `grpc-status-details-bin`) and jobs
 * that ran but did not succeed ({@link JobFailedError}, {@link JobCancelledError}).
 */
import { Code, ConnectError } from "@connectrpc/connect";
import { BadRequestSchema, ErrorInfoSchema } from "./gen/google/rpc/error_details_pb.js";
import type { Job, JobError } from "./gen/jobsvc/v1/job_pb.js";

/** gRPC status code names, as gRPC spells them (`NOT_FOUND`, not `not_found`). */
export type GrpcCodeName =
  | "OK"
  | "CANCELLED"
  | "UNKNOWN"
  | "INVALID_ARGUMENT"
  | "DEADLINE_EXCEEDED"
  | "NOT_FOUND"
  | "ALREADY_EXISTS"
  | "PERMISSION_DENIED"
  | "RESOURCE_EXHAUSTED"
  | "FAILED_PRECONDITION"
  | "ABORTED"
  | "OUT_OF_RANGE"
  | "UNIMPLEMENTED"
  | "INTERNAL"
  | "UNAVAILABLE"
  | "DATA_LOSS"
  | "UNAUTHENTICATED";

const CODE_NAMES: readonly GrpcCodeName[] = [
  "OK",
  "CANCELLED",
  "UNKNOWN",
  "INVALID_ARGUMENT",
  "DEADLINE_EXCEEDED",
  "NOT_FOUND",
  "ALREADY_EXISTS",
  "PERMISSION_DENIED",
  "RESOURCE_EXHAUSTED",
  "FAILED_PRECONDITION",
  "ABORTED",
  "OUT_OF_RANGE",
  "UNIMPLEMENTED",
  "INTERNAL",
  "UNAVAILABLE",
  "DATA_LOSS",
  "UNAUTHENTICATED",
];

/** The gRPC name of a numeric status code (`5` is `NOT_FOUND`). */
export function codeName(code: number): GrpcCodeName {
  return CODE_NAMES[code] ?? "UNKNOWN";
}

/** One bad request field (google.rpc.BadRequest.FieldViolation), e.g. `job.input.name`. */
export interface FieldViolation {
  readonly field: string;
  readonly description: string;
}

/** A failed RPC, with the server's google.rpc details decoded. */
export class JobsvcError extends Error {
  override readonly name = "JobsvcError";
  /** gRPC status code name, e.g. `NOT_FOUND`. */
  readonly code: GrpcCodeName;
  /** The numeric gRPC status code (Connect's `Code` uses the same numbers). */
  readonly grpcCode: number;
  /** The status message without decoration. */
  readonly details: string;
  /** `ErrorInfo.reason`, e.g. `HANDLER_NOT_FOUND`; empty when the server sent none. */
  readonly reason: string;
  /** `ErrorInfo.domain` (`jobsvc.v1` for jobsvc's own errors). */
  readonly domain: string;
  /** `ErrorInfo.metadata`, e.g. `available_versions`. */
  readonly metadata: Readonly<Record<string, string>>;
  /** `BadRequest.field_violations`, one per bad field. */
  readonly fieldViolations: readonly FieldViolation[];
  /** The job the RPC was about when the server named it (`jobsvc-job-id` header), e.g.
   * the still-running job of a Call whose deadline passed. */
  readonly jobId: string | undefined;

  constructor(
    init: {
      grpcCode: number;
      details: string;
      reason?: string;
      domain?: string;
      metadata?: Record<string, string>;
      fieldViolations?: FieldViolation[];
      jobId?: string | undefined;
    },
    options?: { cause?: unknown },
  ) {
    const code = codeName(init.grpcCode);
    const reason = init.reason ?? "";
    super(`${code}${reason ? ` (${reason})` : ""}: ${init.details}`, options);
    this.code = code;
    this.grpcCode = init.grpcCode;
    this.details = init.details;
    this.reason = reason;
    this.domain = init.domain ?? "";
    this.metadata = init.metadata ?? {};
    this.fieldViolations = init.fieldViolations ?? [];
    this.jobId = init.jobId;
  }

  /** Wrap anything a Connect call threw (a ConnectError, an abort, a network error). */
  static from(error: unknown, jobId?: string): JobsvcError {
    if (error instanceof JobsvcError) return error;
    const connectError = ConnectError.from(error);
    const [info] = connectError.findDetails(ErrorInfoSchema);
    const violations = connectError
      .findDetails(BadRequestSchema)
      .flatMap((bad) => bad.fieldViolations.map((v) => ({ field: v.field, description: v.description })));
    return new JobsvcError(
      {
        grpcCode: connectError.code,
        details: connectError.rawMessage,
        reason: info?.reason ?? "",
        domain: info?.domain ?? "",
        metadata: { ...(info?.metadata ?? {}) },
        fieldViolations: violations,
        jobId: jobId ?? connectError.metadata.get(JOB_ID_HEADER) ?? undefined,
      },
      { cause: error },
    );
  }
}

/** Response header (initial metadata) carrying the id of the job a Call or Stream is about. */
export const JOB_ID_HEADER = "jobsvc-job-id";

/** Response header of CallWorkflow carrying the workflow's id, sent before it finishes. */
export const WORKFLOW_ID_HEADER = "jobsvc-workflow-id";

/** A job that ran and ended FAILED: carries the handler's error type, message and traceback. */
export class JobFailedError extends Error {
  override readonly name = "JobFailedError";
  /** The job, in state FAILED. */
  readonly job: Job;
  /** The exception type the handler raised, e.g. `ValueError`. */
  readonly type: string;
  /** The handler's error message. */
  readonly errorMessage: string;
  /** The handler's traceback (or stack), when it sent one. */
  readonly traceback: string;
  /** The attempt that raised it. */
  readonly attempt: number;

  constructor(job: Job, error: JobError | undefined = job.error) {
    const type = error?.type ?? "";
    const message = error?.message ?? "";
    super(`job ${job.id} (${job.handler} ${job.version}) failed: ${type}: ${message}`);
    this.job = job;
    this.type = type;
    this.errorMessage = message;
    this.traceback = error?.traceback ?? "";
    this.attempt = error?.attempt ?? job.attempt;
  }
}

/** A job that ended CANCELLED instead of producing a result. */
export class JobCancelledError extends Error {
  override readonly name = "JobCancelledError";
  /** The job, in state CANCELLED. */
  readonly job: Job;

  constructor(job: Job) {
    super(`job ${job.id} (${job.handler} ${job.version}) was cancelled`);
    this.job = job;
  }
}

/** True for the codes after which a dropped stream may be re-opened. */
export function isTransient(code: number): boolean {
  return code === Code.Unavailable || code === Code.Internal || code === Code.Unknown || code === Code.Aborted;
}
