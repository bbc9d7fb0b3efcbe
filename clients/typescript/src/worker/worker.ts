/**
 * A remote worker: serves handlers from this process over AckService.Work.
 *
 *     const worker = createWorker({ address: "127.0.0.1:50051", concurrency: 4 });
 *     worker.handle("ts_reverse", "1.0.0", async (job) => [...String(job.input)].reverse().join(""));
 *     process.on("SIGTERM", () => void worker.stop());
 *     await worker.run();
 */
import { hostname } from "node:os";
import { create, type JsonObject, type JsonValue, type MessageInitShape } from "@bufbuild/protobuf";
import { durationFromMs, durationMs, timestampDate, timestampFromDate } from "@bufbuild/protobuf/wkt";
import { Code, createClient as createConnectClient, type Client } from "@connectrpc/connect";
import {
  AckService,
  WorkerInfoSchema,
  type ReportProgressRequestSchema,
  type Assignment,
  type WorkResponse_Cancel,
  type WorkResponse_Settled,
  type WorkResponse_Welcome,
} from "../gen/jobsvc/v1/ack_service_pb.js";
import { JobsvcError } from "../errors.js";
import type { ChildrenResponse, SpawnResponse } from "../gen/jobsvc/v1/children_pb.js";
import { HandlerInfoSchema, JobState, type Job } from "../gen/jobsvc/v1/job_pb.js";
import { payloadValue, toPayload, type PayloadInput } from "../payload.js";
import { createChannel, type Channel, type ConnectionOptions } from "../transport.js";
import { abortableSleep, backoffDelay } from "../util.js";
import { ChildJobFailedError, jobErrorFrom, Parked, RejectError, SpawnRefusedError } from "./errors.js";
import { Session, type WorkMessage } from "./session.js";

/** Where a worker logs what goes wrong (reconnects, refused settlements). */
export interface WorkerLogger {
  info(message: string): void;
  warn(message: string, error?: unknown): void;
}

/** Options of {@link createWorker}. */
export interface WorkerOptions extends ConnectionOptions {
  /** Stable per process, for logs and events (default `<host>:<pid>:ts`). */
  workerId?: string;
  /** Jobs run at once (default 4). */
  concurrency?: number;
  /** Lease length asked for (default 30 s; the server bounds it). */
  leaseDurationMs?: number;
  /** Labels of this worker. */
  labels?: Record<string, string>;
  /** How long `stop()` waits for running handlers before aborting them (default 10 s). */
  drainTimeoutMs?: number;
  /** First reconnect delay after the stream fails (default 200 ms), doubling up to `maxBackoffMs`. */
  initialBackoffMs?: number;
  /** Longest reconnect delay (default 10 s). */
  maxBackoffMs?: number;
  /** Default: warnings to `console.warn`, info dropped. */
  logger?: WorkerLogger;
}

/** What a handler gets: the job, its decoded input, and ways to report progress. */
export interface WorkerJob<I = JsonValue> {
  readonly id: string;
  readonly handler: string;
  /** The exact version the job resolved to. */
  readonly version: string;
  /** 1 for the first try. */
  readonly attempt: number;
  /** The decoded JSON input (a google.protobuf.Any for typed payloads). */
  readonly input: I;
  readonly labels: Readonly<Record<string, string>>;
  /** The job as assigned. */
  readonly job: Job;
  /** Report progress (0..100) and a message; watchers see a `progress` event. */
  progress(percent: number, message?: string): void;
  /** Stream a chunk of output to watchers before the result (`partial_output` event). */
  partialOutput(value: PayloadInput): void;
  /**
   * Submit a child job of this job (durably, before the promise resolves). Its key names it
   * among the job's children (default: the spawn's order in this run), so the run after a
   * wait gets the same child back. Rejects with a SpawnRefusedError when the server refuses it.
   */
  spawn(handler: string, input?: PayloadInput, options?: SpawnOptions): Promise<ChildJob>;
  /**
   * The children's results in order, once all have finished. While one has not, throws
   * {@link Parked}: let it through, the job parks (no slot, no lease) and runs again from the
   * start when the last child finishes. A failed or cancelled child: ChildJobFailedError.
   */
  wait(children: readonly ChildJob[]): Promise<unknown[]>;
  /** Sleep durably: throws {@link Parked} (let it through); the run after the sleep returns at once. */
  sleep(ms: number): Promise<void>;
}

/** A child job a handler spawned. */
export interface ChildJob {
  readonly id: string;
  readonly key: string;
  readonly handler: string;
}

/** How `job.spawn()` makes a child. */
export interface SpawnOptions {
  /** The child's name among the job's children (default: the spawn's order in this run). */
  key?: string;
  /** A version selector (default: the newest). */
  version?: string;
  labels?: Record<string, string>;
}

/**
 * A handler: returns the result (any JSON value, a Payload or an Any; nothing is null), or throws:
 * a {@link RejectError} dead-letters the job, a `NonRetryableError` fails it without
 * retries, anything else fails the attempt (retried per the policy). `signal` aborts
 * when the server cancels the job or its lease is lost; the outcome is then dropped.
 */
export type HandlerFn<I = JsonValue> = (
  job: WorkerJob<I>,
  signal: AbortSignal,
) => PayloadInput | void | Promise<PayloadInput | void>;

/** What a worker tells the server about a handler version. */
export interface HandlerOptions {
  description?: string;
  /** JSON Schema of the input, for discovery and validation at submit. */
  inputSchema?: JsonObject;
  outputSchema?: JsonObject;
}

/** A worker returned by {@link createWorker}. */
export interface Worker {
  /** Serve `name` at exact `version` with `fn`. Register every handler before `run()`. */
  handle<I = JsonValue>(name: string, version: string, fn: HandlerFn<I>, options?: HandlerOptions): Worker;
  /** Connect and serve until `stop()`; reconnects with backoff when the stream fails. Rejects
   * with a JobsvcError when retrying cannot help (UNIMPLEMENTED, UNAUTHENTICATED,
   * PERMISSION_DENIED, or INVALID_ARGUMENT for the session itself). */
  run(): Promise<void>;
  /** Resolves once the server has welcomed this worker (the handlers are registered). */
  ready(): Promise<WorkResponse_Welcome>;
  /** Graceful stop: Drain, wait (bounded) for running handlers and their settlements, close. */
  stop(options?: { timeoutMs?: number }): Promise<void>;
  /** Jobs running now. */
  readonly runningJobs: number;
}

type ProgressUpdate = NonNullable<MessageInitShape<typeof ReportProgressRequestSchema>["update"]>;

interface Registered {
  readonly name: string;
  readonly version: string;
  readonly fn: HandlerFn<never>;
  readonly options: HandlerOptions;
}

interface RunningJob {
  readonly token: string;
  readonly controller: AbortController;
  /** Cancelled by the server or stopped by the worker: its outcome is not reported. */
  dropped: boolean;
}

interface PendingSettlement {
  readonly token: string;
  readonly kind: WorkMessage;
  readonly since: number;
  sentOn: Session | undefined;
}

/** Stream failures after which `run()` rejects instead of reconnecting. */
const FATAL_CODES: ReadonlySet<number> = new Set([
  Code.Unimplemented,
  Code.Unauthenticated,
  Code.PermissionDenied,
  Code.InvalidArgument,
]);

const consoleLogger: WorkerLogger = {
  info: () => undefined,
  warn: (message, error) => console.warn(`jobsvc worker: ${message}`, error ?? ""),
};

/** Create a worker (it connects on `run()`). */
export function createWorker(options: WorkerOptions): Worker {
  return new WorkerImpl(options);
}

class WorkerImpl implements Worker {
  private readonly channel: Channel;
  private readonly client: Client<typeof AckService>;
  private readonly logger: WorkerLogger;
  private readonly workerId: string;
  private readonly leaseDurationMs: number;
  private readonly handlers = new Map<string, Registered>();
  private readonly running = new Map<string, RunningJob>();
  /** Settlements not yet confirmed by a `settled` reply: re-sent after a reconnect. */
  private readonly pending = new Map<string, PendingSettlement>();
  /** Spawn and children requests not answered yet, by request id: re-sent after a reconnect. */
  private readonly asking = new Map<
    string,
    { kind: WorkMessage; resolve: (answer: SpawnResponse | ChildrenResponse) => void }
  >();
  private readonly changed = new Set<() => void>();
  private readonly stopController = new AbortController();
  private readyWaiters: ((welcome: WorkResponse_Welcome) => void)[] = [];
  private welcome: WorkResponse_Welcome | undefined;
  private session: Session | undefined;
  private runPromise: Promise<void> | undefined;
  private stopPromise: Promise<void> | undefined;
  private draining = false;
  private closed = false;

  constructor(private readonly options: WorkerOptions) {
    this.channel = createChannel(options);
    this.client = createConnectClient(AckService, this.channel.transport);
    this.logger = options.logger ?? consoleLogger;
    this.workerId = options.workerId ?? `${hostname()}:${process.pid}:ts`;
    this.leaseDurationMs = options.leaseDurationMs ?? 30_000;
  }

  get runningJobs(): number {
    return this.running.size;
  }

  handle<I = JsonValue>(name: string, version: string, fn: HandlerFn<I>, options: HandlerOptions = {}): Worker {
    if (this.runPromise !== undefined) throw new Error("register handlers before run()");
    const key = handlerKey(name, version);
    if (this.handlers.has(key)) throw new Error(`handler ${name} ${version} is already registered`);
    this.handlers.set(key, { name, version, fn: fn as HandlerFn<never>, options });
    return this;
  }

  run(): Promise<void> {
    if (this.handlers.size === 0) return Promise.reject(new Error("no handlers registered"));
    this.runPromise ??= this.loop();
    return this.runPromise;
  }

  ready(): Promise<WorkResponse_Welcome> {
    if (this.welcome !== undefined) return Promise.resolve(this.welcome);
    return new Promise((resolve) => this.readyWaiters.push(resolve));
  }

  stop(options: { timeoutMs?: number } = {}): Promise<void> {
    this.stopPromise ??= this.shutdown(options.timeoutMs ?? this.options.drainTimeoutMs ?? 10_000);
    return this.stopPromise;
  }

  // --- the connection ---------------------------------------------------------------

  private async loop(): Promise<void> {
    let failures = 0;
    while (!this.closed) {
      const session = new Session(this.client, this.hello());
      this.session = session;
      try {
        await session.run({
          welcome: (welcome) => {
            failures = 0;
            this.onWelcome(session, welcome);
          },
          assignment: (assignment) => this.onAssignment(assignment),
          cancel: (cancel) => this.onCancel(cancel),
          settled: (settled) => this.onSettled(session, settled),
          answer: (requestId, answer) => this.asking.get(requestId)?.resolve(answer),
        });
        if (this.draining && this.running.size === 0 && this.pending.size === 0) break;
        if (!this.closed) this.logger.warn("the server ended the work stream; reconnecting");
      } catch (error) {
        if (this.closed) break;
        const failure = JobsvcError.from(error);
        if (FATAL_CODES.has(failure.grpcCode)) {
          // Retrying cannot help (no AckService, bad credentials, a hello the server refuses).
          this.closed = true;
          session.close();
          this.channel.close();
          throw failure;
        }
        this.logger.warn(`the work stream failed (${failure.message}); reconnecting`);
      } finally {
        session.close();
        if (this.session === session) this.session = undefined;
        this.notify();
      }
      if (this.closed) break;
      failures += 1;
      const delay = backoffDelay(failures, this.options.initialBackoffMs ?? 200, this.options.maxBackoffMs ?? 10_000);
      await abortableSleep(delay, this.stopController.signal).catch(() => undefined);
    }
  }

  private hello() {
    return create(WorkerInfoSchema, {
      workerId: this.workerId,
      handlers: [...this.handlers.values()].map((h) =>
        create(HandlerInfoSchema, {
          name: h.name,
          version: h.version,
          description: h.options.description ?? "",
          inputSchema: h.options.inputSchema,
          outputSchema: h.options.outputSchema,
        }),
      ),
      concurrency: this.options.concurrency ?? 4,
      leaseDuration: durationFromMs(this.leaseDurationMs),
      labels: { ...(this.options.labels ?? {}) },
      // Assignments and outcomes may come many per message (`assignments`, `settledBatch`).
      acceptsBatches: true,
    });
  }

  private onWelcome(session: Session, welcome: WorkResponse_Welcome): void {
    const leaseMs = welcome.leaseDuration ? durationMs(welcome.leaseDuration) : this.leaseDurationMs;
    const intervalMs = welcome.heartbeatInterval ? durationMs(welcome.heartbeatInterval) : leaseMs / 3;
    session.startHeartbeat(Math.max(100, intervalMs), () => this.heartbeat());
    // Settlements the previous session may have lost: tokens outlive sessions, so re-send
    // them while the lease can still be alive; a duplicate is refused and changes nothing.
    const now = Date.now();
    for (const [jobId, settlement] of this.pending) {
      if (now - settlement.since > 2 * leaseMs) {
        this.pending.delete(jobId);
        continue;
      }
      settlement.sentOn = this.sendOn(session, settlement.kind) ? session : undefined;
    }
    for (const asked of this.asking.values()) this.sendOn(session, asked.kind);
    if (this.draining) session.send({ case: "drain", value: {} });
    this.welcome = welcome;
    for (const resolve of this.readyWaiters.splice(0)) resolve(welcome);
    this.notify();
  }

  private heartbeat(): WorkMessage {
    const leases = [...this.running]
      .filter(([, job]) => !job.dropped)
      .map(([jobId, job]) => ({ jobId, attemptToken: job.token }));
    return { case: "heartbeat", value: { workerId: this.workerId, leases } };
  }

  /** Send a message on a welcomed session; false when there is none to send it on. */
  private sendOn(session: Session | undefined, kind: WorkMessage): boolean {
    return session !== undefined && session.welcomed && session.send(kind);
  }

  /**
   * The server answers every ack, nack and reject with a `settled`, and a progress message
   * only when it refuses it. So a `settled` for a job whose settlement went out on this
   * session ends that settlement: it is its answer, or the refusal of an earlier progress
   * message of the same attempt, which is then stale and whose settlement is refused too.
   */
  private onSettled(session: Session, settled: WorkResponse_Settled): void {
    if (settled.code !== 0) {
      this.logger.warn(
        `the server refused a message about job ${settled.jobId}: code ${settled.code} ${settled.reason} ${settled.message}`,
      );
    }
    const pending = this.pending.get(settled.jobId);
    if (pending === undefined || pending.token !== settled.attemptToken || pending.sentOn !== session) return;
    this.pending.delete(settled.jobId);
    this.notify();
  }

  // --- jobs -------------------------------------------------------------------------

  private onAssignment(assignment: Assignment): void {
    const job = assignment.job;
    if (job === undefined) return;
    const previous = this.running.get(job.id);
    if (previous !== undefined) {
      if (previous.token === assignment.attemptToken) return;
      this.drop(previous, "the job was assigned again with a new attempt");
    }
    const running: RunningJob = { token: assignment.attemptToken, controller: new AbortController(), dropped: false };
    this.running.set(job.id, running);
    void this.execute(job, running).finally(() => {
      if (this.running.get(job.id) === running) this.running.delete(job.id);
      this.notify();
    });
  }

  private onCancel(cancel: WorkResponse_Cancel): void {
    const running = this.running.get(cancel.jobId);
    if (running === undefined) return;
    if (cancel.attemptToken !== "" && cancel.attemptToken !== running.token) return;
    this.drop(running, cancel.reason || "cancelled by the server");
  }

  private drop(running: RunningJob, reason: string): void {
    running.dropped = true;
    running.controller.abort(new Error(reason));
  }

  private async execute(job: Job, running: RunningJob): Promise<void> {
    const token = running.token;
    let kind: WorkMessage;
    try {
      const registered = this.handlers.get(handlerKey(job.handler, job.version));
      if (registered === undefined) {
        throw new RejectError(`this worker does not serve ${job.handler} ${job.version}`, { type: "HandlerNotServed" });
      }
      const result = await registered.fn(this.context(job, running) as WorkerJob<never>, running.controller.signal);
      kind = { case: "ack", value: { jobId: job.id, attemptToken: token, result: toPayload(result ?? null) } };
    } catch (error) {
      if (error instanceof Parked) {
        // job.wait() or job.sleep(): the attempt ends parked (a settlement, answered by `settled`).
        const until = error.until === undefined ? undefined : timestampFromDate(error.until);
        const park = {
          jobId: job.id,
          attemptToken: token,
          childJobIds: [...error.childJobIds],
          sleepKey: error.sleepKey,
          until,
        };
        this.settle(job, running, { case: "park", value: park });
        return;
      }
      const jobError = jobErrorFrom(error, job.attempt);
      kind =
        error instanceof RejectError
          ? { case: "reject", value: { jobId: job.id, attemptToken: token, error: jobError } }
          : { case: "nack", value: { jobId: job.id, attemptToken: token, error: jobError } };
    }
    this.settle(job, running, kind);
  }

  private settle(job: Job, running: RunningJob, kind: WorkMessage): void {
    if (running.dropped) return; // cancelled or lease lost: the server wants no outcome
    const settlement: PendingSettlement = { token: running.token, kind, since: Date.now(), sentOn: undefined };
    this.pending.set(job.id, settlement);
    settlement.sentOn = this.sendOn(this.session, kind) ? this.session : undefined;
  }

  /** Send a spawn or children request and wait for its answer (re-sent after a reconnect). */
  private ask(requestId: string, kind: WorkMessage): Promise<SpawnResponse | ChildrenResponse> {
    return new Promise((resolve) => {
      this.asking.set(requestId, {
        kind,
        resolve: (answer) => {
          this.asking.delete(requestId);
          resolve(answer);
        },
      });
      this.sendOn(this.session, kind);
    });
  }

  /** A job's children (and its recorded sleeps), from the server. */
  private async readChildren(job: Job, running: RunningJob, ids: readonly string[]): Promise<ChildrenResponse> {
    const requestId = crypto.randomUUID();
    const value = { requestId, jobId: job.id, attemptToken: running.token, childJobIds: [...ids] };
    const answer = (await this.ask(requestId, { case: "children", value })) as ChildrenResponse;
    if (answer.code !== 0) throw new Error(`reading the children of job ${job.id}: ${answer.reason} ${answer.message}`);
    return answer;
  }

  /** spawn, wait and sleep of one attempt (see WorkerJob). */
  private durable(job: Job, running: RunningJob): Pick<WorkerJob, "spawn" | "wait" | "sleep"> {
    let spawns = 0;
    let sleeps = 0;
    let recorded: Map<string, Date> | undefined;
    return {
      spawn: async (handler, input, options = {}) => {
        const key = options.key ?? String(spawns++);
        const requestId = crypto.randomUUID();
        const spec = {
          handler,
          version: options.version ?? "",
          input: toPayload(input ?? null),
          labels: options.labels ?? {},
        };
        const value = { requestId, jobId: job.id, attemptToken: running.token, spawnKey: key, job: spec };
        const answer = (await this.ask(requestId, { case: "spawn", value })) as SpawnResponse;
        // UNAVAILABLE, ABORTED: nothing was written, the attempt may be retried.
        if (answer.code === 14 || answer.code === 10)
          throw new Error(`spawning ${handler} failed for now: ${answer.message}`);
        if (answer.code !== 0) throw new SpawnRefusedError(answer.message, answer.code, answer.reason, answer.field);
        return { id: answer.childJobId, key, handler };
      },
      wait: async (children) => {
        if (children.length === 0) return [];
        const found = new Map(
          (
            await this.readChildren(
              job,
              running,
              children.map((c) => c.id),
            )
          ).children.map((c) => [c.id, c]),
        );
        const finished = (c: Job) => [JobState.SUCCEEDED, JobState.FAILED, JobState.CANCELLED].includes(c.state);
        const unfinished = children.filter((c) => found.has(c.id) && !finished(found.get(c.id)!)).map((c) => c.id);
        if (unfinished.length > 0) throw new Parked(unfinished);
        return children.map((c) => {
          const child = found.get(c.id);
          if (child === undefined) throw new Error(`job ${c.id} is not a child of job ${job.id}`);
          if (child.state !== JobState.SUCCEEDED) {
            const why = child.error ? `${child.error.type}: ${child.error.message}` : JobState[child.state];
            throw new ChildJobFailedError(`child job ${JSON.stringify(c.key)} (${c.handler}, ${c.id}) ${why}`, c);
          }
          return payloadValue(child.result);
        });
      },
      sleep: async (ms) => {
        const key = `sleep:${sleeps++}`;
        if (recorded === undefined) {
          const sleeps = (await this.readChildren(job, running, [])).sleeps;
          recorded = new Map(Object.entries(sleeps).map(([k, ends]) => [k, timestampDate(ends)]));
        }
        const ends = recorded.get(key);
        if (ends !== undefined && ends.getTime() <= Date.now()) return;
        throw new Parked([], key, ends ?? new Date(Date.now() + Math.max(0, ms)));
      },
    };
  }

  private context(job: Job, running: RunningJob): WorkerJob<JsonValue> {
    // Best effort, like the server's own executors: progress while disconnected is dropped.
    const report = (update: ProgressUpdate) => {
      if (running.dropped || this.running.get(job.id) !== running) return;
      this.sendOn(this.session, { case: "progress", value: { jobId: job.id, attemptToken: running.token, update } });
    };
    return {
      id: job.id,
      handler: job.handler,
      version: job.version,
      attempt: job.attempt,
      input: payloadValue(job.input) as JsonValue,
      labels: job.labels,
      job,
      progress: (percent, message = "") => report({ case: "progress", value: { percent, message } }),
      partialOutput: (value) => report({ case: "partialOutput", value: toPayload(value) }),
      ...this.durable(job, running),
    };
  }

  // --- stopping ---------------------------------------------------------------------

  private async shutdown(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    this.draining = true;
    if (this.runPromise !== undefined) {
      if (this.session?.welcomed) this.session.send({ case: "drain", value: {} });
      await this.waitUntil(() => this.running.size === 0, deadline);
      for (const running of this.running.values()) this.drop(running, "the worker stopped");
      // Settlements the server has not confirmed yet: give them a moment (re-sent on a reconnect).
      const confirmBy = Math.min(Math.max(deadline, Date.now() + 500), Date.now() + 5000);
      await this.waitUntil(() => this.pending.size === 0, confirmBy);
      this.closed = true;
      this.session?.halfClose();
      await this.waitUntil(() => this.session === undefined, Date.now() + 1000);
      this.session?.close(new Error("the worker stopped"));
      this.stopController.abort();
      await this.runPromise.catch(() => undefined); // run() reports its own failure
    }
    this.closed = true;
    this.channel.close();
  }

  private notify(): void {
    for (const wake of this.changed) wake();
    this.changed.clear();
  }

  /** Wait until `done()` holds or the deadline passes; true when it holds. */
  private async waitUntil(done: () => boolean, deadline: number): Promise<boolean> {
    while (!done()) {
      const left = deadline - Date.now();
      if (left <= 0) return false;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.changed.add(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    return true;
  }
}

function handlerKey(name: string, version: string): string {
  return `${name}@${version}`;
}
