/**
 * An in-process AckService (gRPC over HTTP/2, served by connect-node) whose every
 * Work stream the test drives by hand: read what the worker sent, answer, end or
 * fail the stream. Lets the worker's protocol be tested without the real server.
 */
import { createServer, type Http2Server, type ServerHttp2Session } from "node:http2";
import type { AddressInfo } from "node:net";
import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { ConnectError, type ConnectRouter } from "@connectrpc/connect";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import {
  AckService,
  WorkRequestSchema,
  WorkResponseSchema,
  type AckRequest,
  type HeartbeatRequest,
  type NackRequest,
  type RejectRequest,
  type ReportProgressRequest,
  type WorkerInfo,
  type WorkRequest,
  type WorkRequest_Batch,
  type WorkRequest_Drain,
  type WorkResponse,
} from "../src/gen/jobsvc/v1/ack_service_pb.js";
import { AsyncQueue } from "../src/worker/queue.js";
import { within } from "./helpers.js";

/** The worker's message kinds and their values. */
interface Requests {
  hello: WorkerInfo;
  heartbeat: HeartbeatRequest;
  progress: ReportProgressRequest;
  ack: AckRequest;
  nack: NackRequest;
  reject: RejectRequest;
  drain: WorkRequest_Drain;
  batch: WorkRequest_Batch;
}
type Kind = keyof Requests;

/** One Work stream as the server sees it. */
export class FakeStream {
  readonly inbox: WorkRequest[] = [];
  private readonly outbox = new AsyncQueue<WorkResponse | ConnectError>();
  private wake: (() => void) | undefined;
  /** True once the worker's request stream ended. */
  inboxEnded = false;

  /** Called by the fake server: feed a worker message in. */
  received(request: WorkRequest): void {
    this.inbox.push(request);
    this.wake?.();
  }

  /** Called by the fake server: the worker half-closed or the stream broke. */
  endInbox(): void {
    this.inboxEnded = true;
    this.wake?.();
  }

  /** The next worker message of `kind` (messages of other kinds before it are skipped, heartbeats always). */
  async expect<K extends Kind>(kind: K, timeoutMs = 5000): Promise<Requests[K]> {
    return within(timeoutMs, `worker message ${kind}`, this.take(kind));
  }

  private async take<K extends Kind>(kind: K): Promise<Requests[K]> {
    for (;;) {
      const index = this.inbox.findIndex((r) => r.kind.case === kind);
      if (index >= 0) {
        const [request] = this.inbox.splice(0, index + 1).slice(-1);
        return request!.kind.value as Requests[K];
      }
      if (this.inboxEnded) throw new Error(`stream ended without a ${kind} message`);
      await new Promise<void>((resolve) => (this.wake = resolve));
    }
  }

  /** Wait until the worker ends its side of the stream. */
  async expectEnd(timeoutMs = 5000): Promise<void> {
    await within(
      timeoutMs,
      "the worker's end of stream",
      (async () => {
        while (!this.inboxEnded) await new Promise<void>((resolve) => (this.wake = resolve));
      })(),
    );
  }

  /**
   * The next `count` settlements and progress reports, whether they came alone or in
   * batches, in the order sent, with the batches they came in (heartbeats are skipped).
   */
  async settlements(count: number, timeoutMs = 5000): Promise<{ items: WorkRequest[]; batches: WorkRequest_Batch[] }> {
    const items: WorkRequest[] = [];
    const batches: WorkRequest_Batch[] = [];
    const take = async () => {
      while (items.length < count) {
        const request = this.inbox.shift();
        if (request === undefined) {
          if (this.inboxEnded) throw new Error(`stream ended after ${items.length} of ${count} settlements`);
          await new Promise<void>((resolve) => (this.wake = resolve));
          continue;
        }
        const kind = request.kind;
        if (kind.case === "batch") {
          batches.push(kind.value);
          for (const item of kind.value.items) items.push(create(WorkRequestSchema, { kind: item.kind }));
        } else if (kind.case === "ack" || kind.case === "nack" || kind.case === "reject" || kind.case === "progress") {
          items.push(request);
        } else if (kind.case !== "heartbeat") {
          throw new Error(`unexpected worker message ${kind.case}`);
        }
      }
      return { items, batches };
    };
    return within(timeoutMs, `${count} settlements`, take());
  }

  /** Messages of `kind` received so far and not consumed. */
  pending(kind: Kind): WorkRequest[] {
    return this.inbox.filter((r) => r.kind.case === kind);
  }

  /** Send a message to the worker. */
  send(kind: NonNullable<MessageInitShape<typeof WorkResponseSchema>["kind"]>): void {
    this.outbox.push(create(WorkResponseSchema, { kind }));
  }

  /** End the stream with OK. */
  end(): void {
    this.outbox.end();
  }

  /** End the stream with an error status. */
  fail(error: ConnectError): void {
    this.outbox.push(error);
    this.outbox.end();
  }

  /** The responses, as the fake server's handler yields them. */
  async *responses(): AsyncGenerator<WorkResponse> {
    for await (const item of this.outbox) {
      if (item instanceof ConnectError) throw item;
      yield item;
    }
  }
}

/** The fake server: a new FakeStream per Work call. */
export class FakeAckServer {
  private server: Http2Server | undefined;
  private readonly streams: FakeStream[] = [];
  private readonly sessions = new Set<ServerHttp2Session>();
  private waiting: (() => void) | undefined;
  /** Every stream opened so far. */
  opened = 0;
  /** The `authorization` header of the latest stream. */
  lastAuthorization: string | null = null;

  /** Listen on 127.0.0.1; resolves to `host:port`. */
  async start(): Promise<string> {
    const routes = (router: ConnectRouter) =>
      router.service(AckService, {
        work: (requests, context) => {
          this.lastAuthorization = context.requestHeader.get("authorization");
          return this.work(requests);
        },
      });
    const server = createServer(connectNodeAdapter({ routes, grpc: true, grpcWeb: false, connect: false }));
    this.server = server;
    server.on("session", (session) => {
      this.sessions.add(session);
      session.on("close", () => this.sessions.delete(session));
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    return `127.0.0.1:${(server.address() as AddressInfo).port}`;
  }

  /** The next Work stream a worker opens. */
  async nextStream(timeoutMs = 5000): Promise<FakeStream> {
    return within(
      timeoutMs,
      "a Work stream",
      (async () => {
        while (this.streams.length === 0) await new Promise<void>((resolve) => (this.waiting = resolve));
        return this.streams.shift()!;
      })(),
    );
  }

  private work(requests: AsyncIterable<WorkRequest>): AsyncIterable<WorkResponse> {
    const stream = new FakeStream();
    this.opened += 1;
    this.streams.push(stream);
    this.waiting?.();
    void (async () => {
      try {
        for await (const request of requests) stream.received(request);
      } catch {
        // the stream broke: the same as an end for the test
      } finally {
        stream.endInbox();
        stream.end(); // like the real server: the worker's end of stream ends the session
      }
    })();
    return stream.responses();
  }

  /** Stop listening and drop open streams. */
  async close(): Promise<void> {
    const server = this.server;
    if (server === undefined) return;
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      // Open HTTP/2 sessions keep close() waiting: drop them.
      for (const session of this.sessions) session.destroy();
    });
  }
}
