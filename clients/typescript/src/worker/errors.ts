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
