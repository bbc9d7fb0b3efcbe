/** One AckService.Work stream: hello out, then messages both ways until either side ends it. */
import { create, type MessageInitShape } from "@bufbuild/protobuf";
import type { Client } from "@connectrpc/connect";
import {
  WorkRequestSchema,
  type AckService,
  type Assignment,
  type WorkerInfo,
  type WorkRequest,
  type WorkResponse_Cancel,
  type WorkResponse_Settled,
  type WorkResponse_Welcome,
} from "../gen/jobsvc/v1/ack_service_pb.js";
import type { ChildrenResponse, SpawnResponse } from "../gen/jobsvc/v1/children_pb.js";
import { batchedRequests, MAX_BATCH } from "./batches.js";
import { AsyncQueue } from "./queue.js";

/** A message a worker sends: the `kind` of a WorkRequest, as plain init objects. */
export type WorkMessage = NonNullable<MessageInitShape<typeof WorkRequestSchema>["kind"]>;

/** What a session does with each server message. */
export interface SessionListener {
  welcome(welcome: WorkResponse_Welcome): void;
  assignment(assignment: Assignment): void;
  cancel(cancel: WorkResponse_Cancel): void;
  settled(settled: WorkResponse_Settled): void;
  /** The answer to a spawn or children request (by its request id). */
  answer?(requestId: string, answer: SpawnResponse | ChildrenResponse): void;
}

/**
 * A Work stream. `run()` resolves when the server ends it and rejects when it fails.
 *
 * Single messages go out until this session's welcome says the server reads batches;
 * from then on, whenever the stream is ready for the next message, the queued
 * settlements and progress reports go out combined (see batches.ts).
 */
export class Session {
  private readonly outbound = new AsyncQueue<WorkRequest>();
  private readonly controller = new AbortController();
  private heartbeat: ReturnType<typeof setInterval> | undefined;
  /** The largest batch this session's server reads (its welcome's maxMessageBytes); 0: send single messages. */
  private batchBudget = 0;
  /** True once the server's welcome arrived. */
  welcomed = false;

  constructor(
    private readonly client: Client<typeof AckService>,
    hello: WorkerInfo,
  ) {
    this.outbound.push(create(WorkRequestSchema, { kind: { case: "hello", value: hello } }));
  }

  /** True once this session's welcome said the server reads batches. */
  get sendsBatches(): boolean {
    return this.batchBudget > 0;
  }

  /** Open the stream and dispatch the server's messages until it ends. */
  async run(listener: SessionListener): Promise<void> {
    const responses = this.client.work(this.requests(), { signal: this.controller.signal });
    try {
      for await (const response of responses) {
        const kind = response.kind;
        switch (kind.case) {
          case "welcome": {
            const budget = kind.value.acceptsBatches ? Number(kind.value.maxMessageBytes) : 0;
            this.batchBudget = Number.isFinite(budget) && budget > 0 ? budget : 0;
            this.welcomed = true;
            listener.welcome(kind.value);
            break;
          }
          case "assignment":
            listener.assignment(kind.value);
            break;
          case "assignments":
            for (const assignment of kind.value.items) listener.assignment(assignment);
            break;
          case "cancel":
            listener.cancel(kind.value);
            break;
          case "settled":
            listener.settled(kind.value);
            break;
          case "settledBatch":
            for (const settled of kind.value.items) listener.settled(settled);
            break;
          case "spawned":
          case "children":
            listener.answer?.(kind.value.requestId, kind.value);
            break;
          default:
            break; // a newer server's message kind: ignore
        }
      }
    } finally {
      this.stopHeartbeat();
    }
  }

  /**
   * The request stream: the outbound queue, and once batches are on, each message the
   * stream asks for together with what is queued behind it at that moment, combined.
   * `return`/`throw` (the call gave up) end the queue at once, as the queue itself does.
   */
  private requests(): AsyncIterable<WorkRequest> {
    const source = this.outbound[Symbol.asyncIterator]();
    const combined: WorkRequest[] = [];
    const iterator: AsyncIterator<WorkRequest, undefined> = {
      next: async () => {
        const ready = combined.shift();
        if (ready !== undefined) return { value: ready, done: false };
        const first = await source.next();
        if (first.done === true || this.batchBudget <= 0) return first;
        const queued = this.outbound.takeReady(MAX_BATCH - 1);
        if (queued.length === 0) return first;
        combined.push(...batchedRequests([first.value, ...queued], this.batchBudget));
        return { value: combined.shift()!, done: false };
      },
      return: () => {
        combined.length = 0;
        return source.return!();
      },
      throw: () => {
        combined.length = 0;
        return source.throw!();
      },
    };
    return { [Symbol.asyncIterator]: () => iterator };
  }

  /** Queue a message; false when the stream is no longer open for sending. */
  send(kind: WorkMessage): boolean {
    if (this.outbound.closed || this.controller.signal.aborted) return false;
    this.outbound.push(create(WorkRequestSchema, { kind }));
    return true;
  }

  /** Send `beat()`'s message every `intervalMs` until the session ends. */
  startHeartbeat(intervalMs: number, beat: () => WorkMessage): void {
    this.stopHeartbeat();
    this.heartbeat = setInterval(() => this.send(beat()), intervalMs);
    this.heartbeat.unref?.();
  }

  private stopHeartbeat(): void {
    if (this.heartbeat !== undefined) clearInterval(this.heartbeat);
    this.heartbeat = undefined;
  }

  /** Stop sending (half-close): the server sees the end of the request stream. */
  halfClose(): void {
    this.outbound.end();
  }

  /** Tear the stream down. */
  close(reason?: unknown): void {
    this.stopHeartbeat();
    this.outbound.end();
    this.controller.abort(reason);
  }
}
