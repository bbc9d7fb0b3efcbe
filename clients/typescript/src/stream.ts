/**
 * A job's events as an async iterator that survives dropped connections: the
 * stream is re-opened with `after_sequence` = the last sequence seen, so the caller
 * sees every event once, in order, with no gap. A stream that ends OK without the
 * terminal event is over when the job is finished and nothing after the last sequence
 * seen is left (one GetJob tells); otherwise the server is draining and it is re-opened.
 */
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, type Client } from "@connectrpc/connect";
import { isTransient, JOB_ID_HEADER, JobsvcError } from "./errors.js";
import { JobState, type Job, type JobEvent, type JobSpec } from "./gen/jobsvc/v1/job_pb.js";
import { StreamRequestSchema, StreamService, type StreamRequest } from "./gen/jobsvc/v1/stream_service_pb.js";
import { abortableSleep, backoffDelay } from "./util.js";

/** Which job to follow: an existing one by id, or a new one submitted by the stream itself. */
export type StreamTarget = { jobId: string; submit?: never } | { submit: JobSpec; jobId?: never };

/** How a stream starts and how hard it tries to resume. */
export interface StreamOptions {
  /** Only events after this sequence number (0, the default: from the start). */
  afterSequence?: bigint | number;
  /** Re-opens allowed in a row without receiving an event (default 8). */
  maxRetries?: number;
  /** First backoff delay (default 100 ms); doubles per retry, with jitter, up to `maxBackoffMs`. */
  initialBackoffMs?: number;
  /** Longest backoff delay (default 5 s). */
  maxBackoffMs?: number;
  /** Stop following (the iterator throws CANCELLED). */
  signal?: AbortSignal;
  /** Told about each resume: the error that ended the connection and the retry number. */
  onReconnect?: (error: JobsvcError, retry: number) => void;
}

/** Looks a job up (GetJob, BASIC view) to tell a finished job from a draining server. */
export type JobLookup = (jobId: string, signal?: AbortSignal) => Promise<Job | undefined>;

/** The job states after which a job has no more events. */
const FINISHED_STATES: ReadonlySet<JobState> = new Set([JobState.SUCCEEDED, JobState.FAILED, JobState.CANCELLED]);

/**
 * Events per StreamResponse every stream asks for (the server's cap): a fast job's stream
 * is limited by the cost of each gRPC message, not of each event. The server never holds
 * an event back to fill a batch.
 */
export const STREAM_EVENTS_PER_MESSAGE = 1000;

/** The event kinds that end a job's stream. */
export const TERMINAL_EVENTS: ReadonlySet<string> = new Set(["succeeded", "failed", "cancelled"]);

/** True for `succeeded`, `failed` and `cancelled` events. */
export function isTerminal(event: JobEvent): boolean {
  return event.kind.case !== undefined && TERMINAL_EVENTS.has(event.kind.case);
}

/**
 * Follow a job's events until its terminal event, resuming after dropped connections.
 *
 * A submit-and-stream whose connection drops before the server named the job is
 * re-sent only when the spec has an idempotency key (so no second job is made);
 * otherwise the error is thrown.
 *
 * When the server ends a stream OK before the terminal event, `lookup` is asked once
 * for the job: finished, with no event after the last sequence seen (or `afterSequence`,
 * for a caller resuming right after the terminal event), the iterator is done; still
 * running (a server shutting down), or the lookup failing, the stream is re-opened.
 * An `afterSequence` beyond the job's last event throws OUT_OF_RANGE (reason
 * `SEQUENCE_NOT_REACHED`) at once.
 */
export async function* followEvents(
  client: Client<typeof StreamService>,
  target: StreamTarget,
  options: StreamOptions = {},
  lookup?: JobLookup,
): AsyncGenerator<JobEvent, void, undefined> {
  const maxRetries = options.maxRetries ?? 8;
  let last = BigInt(options.afterSequence ?? 0);
  let jobId = target.jobId;
  let retries = 0;
  for (;;) {
    const request: StreamRequest = create(StreamRequestSchema, {
      target: jobId !== undefined ? { case: "jobId", value: jobId } : { case: "submit", value: target.submit! },
      afterSequence: last,
      maxEventsPerMessage: STREAM_EVENTS_PER_MESSAGE,
    });
    const attempt = new AbortController();
    const onAbort = () => attempt.abort(options.signal?.reason);
    options.signal?.addEventListener("abort", onAbort, { once: true });
    let failure: JobsvcError;
    try {
      const responses = client.stream(request, {
        signal: attempt.signal,
        onHeader: (headers) => {
          jobId ??= headers.get(JOB_ID_HEADER) ?? undefined;
        },
      });
      for await (const response of responses) {
        // A batch, or the single `event` of a server older than max_events_per_message. A
        // batch already received is handed out whole even if the connection drops meanwhile.
        for (const event of response.events.length > 0 ? response.events : [response.event]) {
          if (event === undefined || event.sequence <= last) continue; // never a duplicate
          last = event.sequence;
          jobId = event.jobId;
          retries = 0;
          yield event;
          if (isTerminal(event)) return;
        }
      }
      // The server ended the stream before the terminal event: the job is finished and
      // `last` was its last event (a resume after the terminal event), or the server is
      // shutting down: resume like after a dropped connection.
      if (jobId !== undefined && (await caughtUp(lookup, jobId, last, options.signal))) return;
      failure = new JobsvcError({
        grpcCode: Code.Unavailable,
        details: "stream ended before the terminal event",
        jobId,
      });
    } catch (error) {
      failure = JobsvcError.from(error, jobId);
      if (!worthResuming(failure, options) || !canResume(jobId, target)) throw failure;
    } finally {
      options.signal?.removeEventListener("abort", onAbort);
      attempt.abort();
    }
    if (retries >= maxRetries) throw failure;
    retries += 1;
    await backOffToResume(failure, retries, options, jobId);
  }
}

/** Whether a stream that failed this way is re-opened: a transient failure the caller did not cause. */
export function worthResuming(failure: JobsvcError, options: StreamOptions): boolean {
  const userAborted = options.signal?.aborted === true;
  return !userAborted && (isTransient(failure.grpcCode) || failure.grpcCode === Code.Canceled);
}

/** Before the `retry`-th re-open in a row: tell `onReconnect`, then back off (throws CANCELLED
 * when the caller's signal aborts meanwhile). */
export async function backOffToResume(
  failure: JobsvcError,
  retry: number,
  options: StreamOptions,
  jobId?: string,
): Promise<void> {
  options.onReconnect?.(failure, retry);
  try {
    await abortableSleep(
      backoffDelay(retry, options.initialBackoffMs ?? 100, options.maxBackoffMs ?? 5000),
      options.signal,
    );
  } catch (error) {
    throw JobsvcError.from(new ConnectError("stream cancelled", Code.Canceled, undefined, undefined, error), jobId);
  }
}

/** Whether the job is finished with no event after `last` (false when the lookup fails). */
async function caughtUp(
  lookup: JobLookup | undefined,
  jobId: string,
  last: bigint,
  signal: AbortSignal | undefined,
): Promise<boolean> {
  if (lookup === undefined) return false;
  try {
    const job = await lookup(jobId, signal);
    return job !== undefined && FINISHED_STATES.has(job.state) && last >= job.lastSequence;
  } catch {
    return false;
  }
}

function canResume(jobId: string | undefined, target: StreamTarget): boolean {
  return jobId !== undefined || (target.submit?.idempotencyKey ?? "") !== "";
}
