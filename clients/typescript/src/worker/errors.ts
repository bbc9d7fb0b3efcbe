/** Errors a worker's handler throws to steer what happens to the job. */
import { create } from "@bufbuild/protobuf";
import { JobErrorSchema, type JobError } from "../gen/jobsvc/v1/job_pb.js";

/** Fail the attempt and never retry it, whatever the retry policy says (Nack with `non_retryable`). */
export class NonRetryableError extends Error {
  override readonly name: string = "NonRetryableError";
  /** The error type recorded on the job (default: this error's name). */
  readonly type: string;

  constructor(message: string, options?: { type?: string; cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.type = options?.type ?? new.target.name;
  }
}

/** Refuse the job: it is dead-lettered (state FAILED) at once (Reject). */
export class RejectError extends Error {
  override readonly name: string = "RejectError";
  /** The error type recorded on the job (default: this error's name). */
  readonly type: string;

  constructor(message: string, options?: { type?: string; cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.type = options?.type ?? new.target.name;
  }
}

/**
 * Thrown by `job.wait()` and `job.sleep()` while the job must wait: it unwinds the handler
 * (let it through: do not catch it), and the attempt ends parked. The job runs again from
 * the start once its children have finished or its sleep is over.
 */
export class Parked extends Error {
  override readonly name: string = "Parked";

  constructor(
    readonly childJobIds: readonly string[],
    readonly sleepKey: string = "",
    readonly until: Date | undefined = undefined,
  ) {
    super("the job parked (let this error through the handler)");
  }
}

/** Thrown by `job.wait()` for a child that FAILED or was CANCELLED (job error type `jobsvc.ChildJobFailed`). */
export class ChildJobFailedError extends Error {
  override readonly name: string = "ChildJobFailedError";
  readonly type = "jobsvc.ChildJobFailed";

  constructor(
    message: string,
    readonly child: { id: string; key: string; handler: string },
  ) {
    super(message);
  }
}

/**
 * Thrown by `job.spawn()` when the server refuses the child as it would refuse a Submit of it:
 * an unknown handler or version (`code` 5, NOT_FOUND), input its schema rejects (3). Not
 * retried (job error type `jobsvc.SpawnRefused`).
 */
export class SpawnRefusedError extends NonRetryableError {
  override readonly name: string = "SpawnRefusedError";

  constructor(
    message: string,
    readonly code: number,
    readonly reason: string,
    readonly field: string,
  ) {
    super(message, { type: "jobsvc.SpawnRefused" });
  }
}

/** The JobError a thrown value is reported as: its type (class name), message and stack. */
export function jobErrorFrom(error: unknown, attempt: number): JobError {
  if (error instanceof Error) {
    const typed = error as Error & { type?: unknown };
    return create(JobErrorSchema, {
      type: typeof typed.type === "string" && typed.type !== "" ? typed.type : error.constructor.name || error.name,
      message: error.message,
      traceback: error.stack ?? "",
      attempt,
      nonRetryable: error instanceof NonRetryableError,
    });
  }
  return create(JobErrorSchema, { type: typeof error, message: String(error), attempt });
}
