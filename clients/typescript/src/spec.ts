/** Building JobSpecs from plain options. */
import { create } from "@bufbuild/protobuf";
import { durationFromMs, timestampFromDate } from "@bufbuild/protobuf/wkt";
import { JobSpecSchema, RetryPolicySchema, type JobSpec } from "./gen/jobsvc/v1/job_pb.js";
import { toPayload, type PayloadInput } from "./payload.js";

/** Overrides of the handler's retry policy (unset fields keep the handler's). */
export interface RetryPolicyOptions {
  initialIntervalMs?: number;
  backoffCoefficient?: number;
  maximumIntervalMs?: number;
  /** Attempts in all, including the first; 1 means no retries. */
  maximumAttempts?: number;
  /** Error types that fail the job at once. */
  nonRetryableErrorTypes?: string[];
}

/** How a job should run: everything in a JobSpec except the handler and input. */
export interface JobOptions {
  /** Version selector: `1.4.0`, `^1.4`, `~1.4`, `>=1.2 <2`, `^1 || ^2`; empty for the newest. */
  version?: string;
  /** -1000..1000; higher runs first. */
  priority?: number;
  /** A repeated submit with the same key returns the same job. */
  idempotencyKey?: string;
  labels?: Record<string, string>;
  /** Not before now + delayMs. Mutually exclusive with `runAt`. */
  delayMs?: number;
  /** Not before this time. */
  runAt?: Date;
  retryPolicy?: RetryPolicyOptions;
  attemptTimeoutMs?: number;
  executionTimeoutMs?: number;
  scheduleToStartTimeoutMs?: number;
}

/** A job to submit: handler, input and options. */
export interface JobSpecInit extends JobOptions {
  handler: string;
  input?: PayloadInput;
}

/** Build the JobSpec message for a handler, input and options. */
export function jobSpec(handler: string, input?: PayloadInput, options: JobOptions = {}): JobSpec {
  const ms = (value: number | undefined) => (value === undefined ? undefined : durationFromMs(value));
  const retry = options.retryPolicy;
  return create(JobSpecSchema, {
    handler,
    version: options.version ?? "",
    input: toPayload(input),
    priority: options.priority ?? 0,
    idempotencyKey: options.idempotencyKey ?? "",
    labels: { ...(options.labels ?? {}) },
    runAt: options.runAt === undefined ? undefined : timestampFromDate(options.runAt),
    delay: ms(options.delayMs),
    retryPolicy:
      retry === undefined
        ? undefined
        : create(RetryPolicySchema, {
            initialInterval: ms(retry.initialIntervalMs),
            backoffCoefficient: retry.backoffCoefficient ?? 0,
            maximumInterval: ms(retry.maximumIntervalMs),
            maximumAttempts: retry.maximumAttempts ?? 0,
            nonRetryableErrorTypes: retry.nonRetryableErrorTypes ?? [],
          }),
    attemptTimeout: ms(options.attemptTimeoutMs),
    executionTimeout: ms(options.executionTimeoutMs),
    scheduleToStartTimeout: ms(options.scheduleToStartTimeoutMs),
  });
}

/** A JobSpec from a {@link JobSpecInit}. */
export function jobSpecFrom(init: JobSpecInit): JobSpec {
  const { handler, input, ...options } = init;
  return jobSpec(handler, input, options);
}
