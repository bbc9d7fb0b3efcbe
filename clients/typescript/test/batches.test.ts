/** Batches on the Work stream: how the worker combines what is ready, and its session's rules. */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { create, toBinary, type MessageInitShape } from "@bufbuild/protobuf";
import type { Client } from "@connectrpc/connect";
import {
  WorkerInfoSchema,
  WorkRequest_Batch_ItemSchema,
  WorkRequestSchema,
  WorkResponseSchema,
  type AckService,
  type Assignment,
  type WorkRequest,
  type WorkResponse,
  type WorkResponse_Settled,
  type WorkResponse_Welcome,
} from "../src/gen/jobsvc/v1/ack_service_pb.js";
import { JobSchema } from "../src/gen/jobsvc/v1/job_pb.js";
import { toPayload } from "../src/index.js";
import { batchedRequests, MAX_BATCH } from "../src/worker/batches.js";
import { AsyncQueue } from "../src/worker/queue.js";
import { Session, type WorkMessage } from "../src/worker/session.js";
import { within } from "./helpers.js";

function ack(jobId: string, result: unknown = null): WorkMessage {
  return { case: "ack", value: { jobId, attemptToken: `tok-${jobId}`, result: toPayload(result as never) } };
}
function nack(jobId: string): WorkMessage {
  return { case: "nack", value: { jobId, attemptToken: `tok-${jobId}`, error: { type: "E", message: "m" } } };
}
function reject(jobId: string): WorkMessage {
  return { case: "reject", value: { jobId, attemptToken: `tok-${jobId}`, error: { type: "E", message: "m" } } };
}
function progress(jobId: string, percent: number): WorkMessage {
  return {
    case: "progress",
    value: { jobId, attemptToken: `tok-${jobId}`, update: { case: "progress", value: { percent, message: "" } } },
  };
}
const heartbeat: WorkMessage = { case: "heartbeat", value: { workerId: "w", leases: [] } };
const drain: WorkMessage = { case: "drain", value: {} };

const request = (kind: WorkMessage): WorkRequest => create(WorkRequestSchema, { kind });

/** A message as `kind:job` (a batch as `batch[...]`), to compare sequences. */
function describeMessage(message: WorkRequest): string {
  const kind = message.kind;
  switch (kind.case) {
    case "batch":
      return `batch[${kind.value.items.map((item) => `${item.kind.case}:${item.kind.value?.jobId}`).join(",")}]`;
    case "ack":
    case "nack":
    case "reject":
    case "progress":
      return `${kind.case}:${kind.value.jobId}`;
    default:
      return kind.case ?? "";
  }
}

/** The messages with batches opened up, each item as the single message it stands for. */
function flattened(messages: WorkRequest[]): string[] {
  return messages.flatMap((m) =>
    m.kind.case === "batch"
      ? m.kind.value.items.map((item) => describeMessage(create(WorkRequestSchema, { kind: item.kind })))
      : [describeMessage(m)],
  );
}

describe("batchedRequests", () => {
  const budget = 4 * 1024 * 1024;

  test("consecutive settlements and progress reports go as one batch, in order", () => {
    const ready = [progress("a", 10), ack("a"), nack("b"), reject("c"), progress("d", 5)].map(request);
    const out = batchedRequests(ready, budget);
    assert.deepEqual(out.map(describeMessage), ["batch[progress:a,ack:a,nack:b,reject:c,progress:d]"]);
    // Each item carries the message as it was.
    const items = out[0]!.kind.case === "batch" ? out[0]!.kind.value.items : [];
    assert.deepEqual(items[1]?.kind.value, ready[1]!.kind.value);
  });

  test("a lone message goes as it was", () => {
    const single = request(ack("a", { x: 1 }));
    const out = batchedRequests([single], budget);
    assert.equal(out.length, 1);
    assert.equal(out[0], single);
    assert.deepEqual(batchedRequests([], budget), []);
  });

  test("heartbeats and drains go alone and end the batch before them", () => {
    const ready = [ack("a"), ack("b"), heartbeat, ack("c"), progress("d", 1), ack("d"), drain, nack("e")].map(request);
    const out = batchedRequests(ready, budget);
    assert.deepEqual(out.map(describeMessage), [
      "batch[ack:a,ack:b]",
      "heartbeat",
      "batch[ack:c,progress:d,ack:d]",
      "drain",
      "nack:e",
    ]);
    assert.equal(out[1], ready[2]);
    assert.equal(out[4], ready[7]);
  });

  test("batches are split to stay within the byte budget; an item over it goes alone", () => {
    const big = "x".repeat(1000);
    const itemBytes = toBinary(
      WorkRequest_Batch_ItemSchema,
      create(WorkRequest_Batch_ItemSchema, { kind: ack("a0", big) as never }),
    ).byteLength;
    // Room for two items (and the batch's own framing), not three.
    const small = 16 + 2 * (itemBytes + 8) + 10;
    const ids = ["a0", "a1", "a2", "a3", "a4"];
    const ready = [
      ...ids.map((id) => request(ack(id, big))),
      request(ack("huge", "y".repeat(5000))),
      request(ack("z")),
    ];
    const out = batchedRequests(ready, small);
    assert.deepEqual(out.map(describeMessage), [
      "batch[ack:a0,ack:a1]",
      "batch[ack:a2,ack:a3]",
      "ack:a4",
      "ack:huge",
      "ack:z",
    ]);
    for (const message of out.filter((m) => m.kind.case === "batch")) {
      assert.ok(toBinary(WorkRequestSchema, message).byteLength <= small, "a batch fits the budget");
    }
    assert.deepEqual(
      flattened(out),
      [...ids, "huge", "z"].map((id) => `ack:${id}`),
    );
  });
});

/** A session on a fake client whose Work call the test drives: the requests it pulls, the responses it gets. */
function fakeSession() {
  const responses = new AsyncQueue<WorkResponse>();
  let requests: AsyncIterator<WorkRequest> | undefined;
  const client = {
    work: (input: AsyncIterable<WorkRequest>) => {
      requests = input[Symbol.asyncIterator]();
      return responses;
    },
  } as unknown as Client<typeof AckService>;
  const session = new Session(client, create(WorkerInfoSchema, { workerId: "w" }));
  const seen = {
    welcome: [] as WorkResponse_Welcome[],
    assignments: [] as Assignment[],
    settled: [] as WorkResponse_Settled[],
  };
  const running = session.run({
    welcome: (w) => seen.welcome.push(w),
    assignment: (a) => seen.assignments.push(a),
    cancel: () => undefined,
    settled: (s) => seen.settled.push(s),
  });
  const respond = (kind: NonNullable<MessageInitShape<typeof WorkResponseSchema>["kind"]>) =>
    responses.push(create(WorkResponseSchema, { kind }));
  /** The next `n` messages the stream would write. */
  const pull = async (n: number): Promise<WorkRequest[]> => {
    const out: WorkRequest[] = [];
    for (let i = 0; i < n; i++) {
      const next = await within(2000, "a request", requests!.next());
      assert.equal(next.done, false, "the request stream ended");
      out.push(next.value as WorkRequest);
    }
    return out;
  };
  /** Answer with a welcome and wait until the session has handled it. */
  const welcome = async (value: { acceptsBatches?: boolean; maxMessageBytes?: bigint }) => {
    const before = seen.welcome.length;
    respond({ case: "welcome", value: { sessionId: "s", ...value } });
    await within(
      2000,
      "the welcome",
      (async () => {
        while (seen.welcome.length === before) await new Promise((r) => setImmediate(r));
      })(),
    );
  };
  const end = async () => {
    responses.end();
    session.close();
    await running.catch(() => undefined);
  };
  return { session, seen, respond, pull, welcome, end };
}

describe("Session and batches", () => {
  test("what is queued when the stream asks goes as one batch once the welcome says batches", async () => {
    const s = fakeSession();
    try {
      assert.deepEqual((await s.pull(1)).map(describeMessage), ["hello"]);
      await s.welcome({ acceptsBatches: true, maxMessageBytes: 4n * 1024n * 1024n });
      assert.equal(s.session.sendsBatches, true);
      for (const kind of [progress("a", 50), ack("a"), ack("b"), heartbeat, nack("c"), drain]) s.session.send(kind);
      assert.deepEqual((await s.pull(4)).map(describeMessage), [
        "batch[progress:a,ack:a,ack:b]",
        "heartbeat",
        "nack:c",
        "drain",
      ]);
      // At low load (one message ready at a time) every message goes alone.
      s.session.send(ack("d"));
      assert.deepEqual((await s.pull(1)).map(describeMessage), ["ack:d"]);
      s.session.send(ack("e"));
      assert.deepEqual((await s.pull(1)).map(describeMessage), ["ack:e"]);
    } finally {
      await s.end();
    }
  });

  test("a batch takes at most MAX_BATCH messages from the queue", async () => {
    const s = fakeSession();
    try {
      await s.pull(1);
      await s.welcome({ acceptsBatches: true, maxMessageBytes: 64n * 1024n * 1024n });
      const n = MAX_BATCH + 10;
      for (let i = 0; i < n; i++) s.session.send(ack(`j${i}`));
      const [first, second] = await s.pull(2);
      assert.equal(first!.kind.case === "batch" && first!.kind.value.items.length, MAX_BATCH);
      assert.equal(second!.kind.case === "batch" && second!.kind.value.items.length, 10);
      assert.deepEqual(
        flattened([first!, second!]),
        Array.from({ length: n }, (_, i) => `ack:j${i}`),
      );
    } finally {
      await s.end();
    }
  });

  test("single messages before the welcome and to a server whose welcome does not say batches", async () => {
    for (const welcome of [{}, { acceptsBatches: false, maxMessageBytes: 1024n * 1024n }, { acceptsBatches: true }]) {
      const s = fakeSession();
      try {
        s.session.send(ack("early1"));
        s.session.send(ack("early2"));
        assert.deepEqual((await s.pull(3)).map(describeMessage), ["hello", "ack:early1", "ack:early2"]);
        await s.welcome(welcome);
        assert.equal(s.session.sendsBatches, false);
        for (const kind of [progress("a", 1), ack("a"), nack("b"), reject("c")]) s.session.send(kind);
        assert.deepEqual((await s.pull(4)).map(describeMessage), ["progress:a", "ack:a", "nack:b", "reject:c"]);
      } finally {
        await s.end();
      }
    }
  });

  test("assignments and settledBatch are handled item by item, in order", async () => {
    const s = fakeSession();
    try {
      await s.pull(1);
      await s.welcome({ acceptsBatches: true, maxMessageBytes: 1024n });
      const job = (id: string) => ({
        job: create(JobSchema, { id, handler: "h", version: "1" }),
        attemptToken: `t-${id}`,
      });
      s.respond({ case: "assignments", value: { items: [job("a"), job("b")] } });
      s.respond({ case: "assignment", value: job("c") });
      s.respond({
        case: "settledBatch",
        value: {
          items: [
            { jobId: "a", attemptToken: "t-a" },
            { jobId: "b", attemptToken: "t-b", code: 9 },
          ],
        },
      });
      s.respond({ case: "settled", value: { jobId: "c", attemptToken: "t-c" } });
      await within(
        2000,
        "dispatch",
        (async () => {
          while (s.seen.settled.length < 3) await new Promise((r) => setImmediate(r));
        })(),
      );
      assert.deepEqual(
        s.seen.assignments.map((a) => [a.job?.id, a.attemptToken]),
        [
          ["a", "t-a"],
          ["b", "t-b"],
          ["c", "t-c"],
        ],
      );
      assert.deepEqual(
        s.seen.settled.map((x) => [x.jobId, x.code]),
        [
          ["a", 0],
          ["b", 9],
          ["c", 0],
        ],
      );
    } finally {
      await s.end();
    }
  });
});
