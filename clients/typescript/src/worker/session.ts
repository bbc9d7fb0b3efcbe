/** One AckService.Work stream: hello out, then messages both ways until either side ends it. */
import { create, type MessageInitShape } from "@bufbuild/protobuf";
import type { Client } from "@connectrpc/connect";
import {
  WorkRequestSchema,
  type AckService,
  type Assignment,
  type WorkerInfo,
  type WorkResponse_Cancel,
  type WorkResponse_Settled,
  type WorkResponse_Welcome,
} from "../gen/jobsvc/v1/ack_service_pb.js";
import { AsyncQueue } from "./queue.js";

/** A message a worker sends: the `kind` of a WorkRequest, as plain init objects. */
export type WorkMessage = NonNullable<MessageInitShape<typeof WorkRequestSchema>["kind"]>;

/** What a session does with each server message. */
export interface SessionListener {
  welcome(welcome: WorkResponse_Welcome): void;
  assignment(assignment: Assignment): void;
  cancel(cancel: WorkResponse_Cancel): void;
  settled(settled: WorkResponse_Settled): void;
}

/** A Work stream. `run()` resolves when the server ends it and rejects when it fails. */
export class Session {
  private readonly outbound = new AsyncQueue<MessageInitShape<typeof WorkRequestSchema>>();
  private readonly controller = new AbortController();
  private heartbeat: ReturnType<typeof setInterval> | undefined;
  /** True once the server's welcome arrived. */
  welcomed = false;

  constructor(
    private readonly client: Client<typeof AckService>,
    hello: WorkerInfo,
  ) {
    this.outbound.push({ kind: { case: "hello", value: hello } });
  }

  /** Open the stream and dispatch the server's messages until it ends. */
  async run(listener: SessionListener): Promise<void> {
    const responses = this.client.work(this.outbound, { signal: this.controller.signal });
    try {
      for await (const response of responses) {
        const kind = response.kind;
        switch (kind.case) {
          case "welcome":
            this.welcomed = true;
            listener.welcome(kind.value);
            break;
          case "assignment":
            listener.assignment(kind.value);
            break;
          case "cancel":
            listener.cancel(kind.value);
            break;
          case "settled":
            listener.settled(kind.value);
            break;
          default:
            break; // a newer server's message kind: ignore
        }
      }
    } finally {
      this.stopHeartbeat();
    }
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
