/** The worker's protocol against an in-process fake AckService (no jobsvc server needed). */
import assert from "node:assert/strict";
import { after, afterEach, before, describe, test } from "node:test";
import { create, toBinary, type MessageInitShape } from "@bufbuild/protobuf";
import { durationFromMs, durationMs } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError } from "@connectrpc/connect";
import { WorkRequestSchema, type AssignmentSchema, type WorkRequest } from "../src/gen/jobsvc/v1/ack_service_pb.js";
import { JobSchema } from "../src/gen/jobsvc/v1/job_pb.js";
import {
  createWorker,
  NonRetryableError,
  payloadValue,
  RejectError,
  toPayload,
  type Worker,
  type WorkerLogger,
} from "../src/index.js";
import { FakeAckServer, type FakeStream } from "./fake-ack-server.js";
import { sleep, within } from "./helpers.js";

const quiet: WorkerLogger = { info: () => undefined, warn: () => undefined };

function assignment(
  id: string,
  handler: string,
  input: unknown,
  token = `tok-${id}`,
): MessageInitShape<typeof AssignmentSchema> {
  return {
    job: create(JobSchema, {
      id,
      handler,
      version: "1.0.0",
      attempt: 1,
      input: toPayload(input as never),
      labels: { l: "v" },
    }),
    attemptToken: token,
  };
}

function welcome(stream: FakeStream, heartbeatMs = 100, batches?: { maxMessageBytes: number }): void {
  stream.send({
    case: "welcome",
    value: {
      sessionId: "s1",
      leaseDuration: durationFromMs(30_000),
      heartbeatInterval: durationFromMs(heartbeatMs),
      ...(batches === undefined ? {} : { acceptsBatches: true, maxMessageBytes: BigInt(batches.maxMessageBytes) }),
    },
  });
}

/** A settlement or progress message as `kind:job`. */
function described(request: WorkRequest): string {
  const kind = request.kind;
  return kind.case === "ack" || kind.case === "nack" || kind.case === "reject" || kind.case === "progress"
    ? `${kind.case}:${kind.value.jobId}`
    : (kind.case ?? "");
}

/** Wait (bounded) until `done()` holds. */
async function until(what: string, done: () => boolean): Promise<void> {
  await within(
    3000,
    what,
    (async () => {
      while (!done()) await sleep(5);
    })(),
  );
}

describe("worker (fake AckService)", () => {
  const fake = new FakeAckServer();
  let address: string;
  let worker: Worker | undefined;
  before(async () => {
    address = await fake.start();
  });
  afterEach(async () => {
    await worker?.stop({ timeoutMs: 200 });
    worker = undefined;
  });
  after(() => fake.close());

  function start(setup: (w: Worker) => void, options: { concurrency?: number } = {}): Promise<void> {
    worker = createWorker({
      address,
      workerId: "w-test",
      concurrency: options.concurrency ?? 2,
      leaseDurationMs: 20_000,
      logger: quiet,
      initialBackoffMs: 20,
      token: "secret",
    });
    setup(worker);
    return worker.run();
  }

  test("hello, welcome, assignment, progress, ack, heartbeat, drain", async () => {
    let sawSignal: AbortSignal | undefined;
    const running = start((w) =>
      w.handle(
        "ts_reverse",
        "1.0.0",
        async (job, signal) => {
          sawSignal = signal;
          assert.equal(job.attempt, 1);
          assert.deepEqual(job.labels, { l: "v" });
          job.progress(50, "half");
          job.partialOutput({ chunk: 1 });
          return [...String(job.input)].reverse().join("");
        },
        { description: "reverses", inputSchema: { type: "string" } },
      ),
    );
    const stream = await fake.nextStream();
    const hello = await stream.expect("hello");
    assert.equal(hello.workerId, "w-test");
    assert.equal(hello.concurrency, 2);
    assert.equal(durationMs(hello.leaseDuration!), 20_000);
    assert.deepEqual(
      hello.handlers.map((h) => [h.name, h.version, h.description]),
      [["ts_reverse", "1.0.0", "reverses"]],
    );
    assert.deepEqual(hello.handlers[0]?.inputSchema, { type: "string" });
    assert.equal(fake.lastAuthorization, "Bearer secret");
    welcome(stream);
    assert.equal((await worker!.ready()).sessionId, "s1");
    stream.send({ case: "assignment", value: assignment("j1", "ts_reverse", "abc") });
    const progress = await stream.expect("progress");
    assert.equal(progress.attemptToken, "tok-j1");
    assert.deepEqual(
      progress.update.case === "progress" && [progress.update.value.percent, progress.update.value.message],
      [50, "half"],
    );
    const partial = await stream.expect("progress");
    assert.deepEqual(partial.update.case === "partialOutput" && payloadValue(partial.update.value), { chunk: 1 });
    const ack = await stream.expect("ack");
    assert.equal(ack.jobId, "j1");
    assert.equal(ack.attemptToken, "tok-j1");
    assert.equal(payloadValue(ack.result), "cba");
    assert.equal(sawSignal?.aborted, false);
    const beat = await stream.expect("heartbeat");
    assert.equal(beat.workerId, "w-test");
    stream.send({ case: "settled", value: { jobId: "j1", attemptToken: "tok-j1", code: 0 } });
    const stopping = worker!.stop();
    await stream.expect("drain");
    stream.end();
    await within(3000, "stop", stopping);
    await within(3000, "run", running);
    assert.equal(fake.opened, 1);
  });

  test("a thrown error is a nack; NonRetryableError sets non_retryable; RejectError rejects", async () => {
    class QuotaExceeded extends Error {}
    class Permanent extends NonRetryableError {}
    void start((w) =>
      w.handle("boom", "1.0.0", (job) => {
        if (job.input === "quota") throw new QuotaExceeded("over quota");
        if (job.input === "permanent") throw new Permanent("never again");
        if (job.input === "reject") throw new RejectError("bad input", { type: "BadInput" });
        throw "a string";
      }),
    );
    const stream = await fake.nextStream();
    await stream.expect("hello");
    welcome(stream);
    stream.send({ case: "assignment", value: assignment("a", "boom", "quota") });
    const quota = await stream.expect("nack");
    assert.equal(quota.jobId, "a");
    assert.deepEqual(
      [quota.error?.type, quota.error?.message, quota.error?.nonRetryable],
      ["QuotaExceeded", "over quota", false],
    );
    assert.match(quota.error?.traceback ?? "", /over quota\n\s+at /);
    stream.send({ case: "assignment", value: assignment("b", "boom", "permanent") });
    const permanent = await stream.expect("nack");
    assert.deepEqual([permanent.error?.type, permanent.error?.nonRetryable], ["Permanent", true]);
    stream.send({ case: "assignment", value: assignment("c", "boom", "reject") });
    const rejected = await stream.expect("reject");
    assert.deepEqual([rejected.jobId, rejected.error?.type, rejected.error?.message], ["c", "BadInput", "bad input"]);
    stream.send({ case: "assignment", value: assignment("d", "boom", "string") });
    const odd = await stream.expect("nack");
    assert.deepEqual([odd.error?.type, odd.error?.message], ["string", "a string"]);
    stream.send({ case: "assignment", value: assignment("e", "not_served", 1) });
    const unknown = await stream.expect("reject");
    assert.equal(unknown.error?.type, "HandlerNotServed");
  });

  test("a cancel aborts the handler's signal and nothing is settled", async () => {
    let aborted: unknown;
    void start((w) =>
      w.handle(
        "wait",
        "1.0.0",
        (_job, signal) =>
          new Promise((_, reject) =>
            signal.addEventListener("abort", () => {
              aborted = signal.reason;
              reject(new Error("stopped"));
            }),
          ),
      ),
    );
    const stream = await fake.nextStream();
    await stream.expect("hello");
    welcome(stream, 50);
    stream.send({ case: "assignment", value: assignment("j", "wait", null) });
    const beat = await stream.expect("heartbeat");
    assert.deepEqual(
      beat.leases.map((l) => [l.jobId, l.attemptToken]),
      [["j", "tok-j"]],
    );
    // A cancel for another attempt is ignored.
    stream.send({ case: "cancel", value: { jobId: "j", attemptToken: "old", reason: "x" } });
    await sleep(50);
    assert.equal(aborted, undefined);
    stream.send({ case: "cancel", value: { jobId: "j", attemptToken: "tok-j", reason: "cancelled by request" } });
    await within(
      2000,
      "abort",
      (async () => {
        while (aborted === undefined) await sleep(10);
      })(),
    );
    assert.match(String(aborted), /cancelled by request/);
    await sleep(150);
    assert.equal(stream.pending("nack").length + stream.pending("ack").length, 0);
    assert.equal(worker!.runningJobs, 0);
    const later = await stream.expect("heartbeat");
    assert.deepEqual(later.leases, []);
  });

  test("reconnects after the stream fails and re-sends unconfirmed settlements", async () => {
    let release: (() => void) | undefined;
    const running = start((w) =>
      w.handle("slow", "1.0.0", async () => {
        await new Promise<void>((resolve) => (release = resolve));
        return "done";
      }),
    );
    const first = await fake.nextStream();
    await first.expect("hello");
    welcome(first);
    first.send({ case: "assignment", value: assignment("s", "slow", null) });
    await within(
      2000,
      "handler start",
      (async () => {
        while (release === undefined) await sleep(5);
      })(),
    );
    release!();
    const ack = await first.expect("ack");
    assert.equal(ack.jobId, "s");
    // The settled reply never comes: the stream breaks.
    first.fail(new ConnectError("server going away", Code.Unavailable));
    const second = await fake.nextStream();
    const hello = await second.expect("hello");
    assert.equal(hello.workerId, "w-test");
    welcome(second);
    const again = await second.expect("ack");
    assert.deepEqual([again.jobId, again.attemptToken, payloadValue(again.result)], ["s", "tok-s", "done"]);
    second.send({ case: "settled", value: { jobId: "s", attemptToken: "tok-s", code: 0 } });
    const stopping = worker!.stop();
    await second.expect("drain");
    second.end();
    await within(3000, "stop", stopping);
    await within(3000, "run", running);
  });

  test("stop waits for running handlers, then settles them", async () => {
    void start((w) =>
      w.handle("short", "1.0.0", async () => {
        await sleep(200);
        return 42;
      }),
    );
    const stream = await fake.nextStream();
    await stream.expect("hello");
    welcome(stream);
    stream.send({ case: "assignment", value: assignment("x", "short", null) });
    await sleep(20);
    const stopping = worker!.stop({ timeoutMs: 5000 });
    await stream.expect("drain");
    const ack = await stream.expect("ack");
    assert.equal(payloadValue(ack.result), 42);
    stream.send({ case: "settled", value: { jobId: "x", attemptToken: "tok-x", code: 0 } });
    await stream.expectEnd();
    stream.end();
    await within(3000, "stop", stopping);
  });

  test("hello accepts batches; assignments and settledBatch count item by item; singles to a server without batches", async () => {
    let gate: (() => void) | undefined;
    const opened = new Promise<void>((resolve) => (gate = resolve));
    let waiting = 0;
    const running = start(
      (w) =>
        w.handle("gated", "1.0.0", async (job) => {
          waiting += 1;
          await opened;
          job.progress(100);
          return job.id;
        }),
      { concurrency: 8 },
    );
    const first = await fake.nextStream();
    assert.equal((await first.expect("hello")).acceptsBatches, true);
    welcome(first); // a server that predates batches: no acceptsBatches, no maxMessageBytes
    first.send({
      case: "assignments",
      value: { items: ["a", "b", "c", "d"].map((id) => assignment(id, "gated", null)) },
    });
    await until("4 handlers waiting", () => waiting === 4);
    gate!(); // all four finish at once: still one message each
    const { items, batches } = await first.settlements(8);
    assert.equal(batches.length, 0, "no batch to a server without batches");
    for (const id of ["a", "b", "c", "d"]) {
      const mine = items.map(described).filter((d) => d.endsWith(`:${id}`));
      assert.deepEqual(mine, [`progress:${id}`, `ack:${id}`]);
    }
    // a and b are confirmed in one settledBatch; c and d never are.
    first.send({
      case: "settledBatch",
      value: {
        items: [
          { jobId: "a", attemptToken: "tok-a", code: 0 },
          { jobId: "b", attemptToken: "tok-b", code: 0 },
        ],
      },
    });
    await sleep(50);
    first.fail(new ConnectError("server going away", Code.Unavailable));
    const second = await fake.nextStream();
    await second.expect("hello");
    welcome(second);
    const again = await second.settlements(2);
    assert.deepEqual(again.items.map(described).sort(), ["ack:c", "ack:d"]);
    assert.equal(again.batches.length, 0);
    await sleep(100);
    assert.equal(second.pending("ack").length + second.pending("batch").length, 0, "a and b are not re-sent");
    second.send({
      case: "settledBatch",
      value: {
        items: [
          { jobId: "c", attemptToken: "tok-c", code: 0 },
          { jobId: "d", attemptToken: "tok-d", code: 0 },
        ],
      },
    });
    const stopping = worker!.stop();
    await second.expect("drain");
    await second.expectEnd();
    second.end();
    await within(3000, "stop", stopping);
    await within(3000, "run", running);
  });

  test("to a server that reads batches, the settlements ready together go as one batch, in order", async () => {
    let gate: (() => void) | undefined;
    const opened = new Promise<void>((resolve) => (gate = resolve));
    let waiting = 0;
    const ids = Array.from({ length: 6 }, (_, i) => `j${i}`);
    void start(
      (w) =>
        w.handle("gated", "1.0.0", async (job) => {
          waiting += 1;
          await opened;
          return job.id;
        }),
      { concurrency: 8 },
    );
    // Session 1 reads no batches: the acks go alone and are never confirmed.
    const first = await fake.nextStream();
    await first.expect("hello");
    welcome(first);
    for (const id of ids) first.send({ case: "assignment", value: assignment(id, "gated", null) });
    await until("6 handlers waiting", () => waiting === ids.length);
    gate!();
    const alone = await first.settlements(ids.length);
    assert.equal(alone.batches.length, 0);
    first.fail(new ConnectError("server going away", Code.Unavailable));
    // Session 2 reads batches: the unconfirmed acks, re-sent at once after its welcome, go as one.
    const second = await fake.nextStream();
    await second.expect("hello");
    welcome(second, 100, { maxMessageBytes: 4 * 1024 * 1024 });
    const batch = await second.expect("batch");
    assert.deepEqual(
      batch.items.map((item) => [item.kind.case, item.kind.value?.jobId, item.kind.value?.attemptToken]),
      ids.map((id) => ["ack", id, `tok-${id}`]),
    );
    assert.deepEqual(
      batch.items.map((item) => item.kind.case === "ack" && payloadValue(item.kind.value.result)),
      ids,
    );
    // The batch's outcomes come back in one settledBatch, except j5's.
    second.send({
      case: "settledBatch",
      value: { items: ids.slice(0, 5).map((id) => ({ jobId: id, attemptToken: `tok-${id}`, code: 0 })) },
    });
    await sleep(50);
    // Session 3 reads no batches again (batches are per session): j5 goes alone.
    second.fail(new ConnectError("server going away", Code.Unavailable));
    const third = await fake.nextStream();
    await third.expect("hello");
    welcome(third);
    const last = await third.settlements(1);
    assert.deepEqual(last.items.map(described), ["ack:j5"]);
    assert.equal(last.batches.length, 0);
  });

  test("settlements and progress of many jobs finishing together: batched within the budget, in order per job", async () => {
    let gate: (() => void) | undefined;
    const opened = new Promise<void>((resolve) => (gate = resolve));
    let waiting = 0;
    const ids = Array.from({ length: 40 }, (_, i) => `m${i}`);
    const budget = 4096;
    void start(
      (w) =>
        w.handle("gated", "1.0.0", async (job) => {
          waiting += 1;
          await opened;
          job.progress(50, "half");
          if (job.id.endsWith("3")) throw new Error("unlucky");
          return "r".repeat(200);
        }),
      { concurrency: 64 },
    );
    const stream = await fake.nextStream();
    await stream.expect("hello");
    welcome(stream, 100, { maxMessageBytes: budget });
    stream.send({ case: "assignments", value: { items: ids.map((id) => assignment(id, "gated", null)) } });
    await until("40 handlers waiting", () => waiting === ids.length);
    gate!();
    const { items, batches } = await stream.settlements(2 * ids.length);
    for (const id of ids) {
      const outcome = id.endsWith("3") ? "nack" : "ack";
      assert.deepEqual(
        items.map(described).filter((d) => d.endsWith(`:${id}`)),
        [`progress:${id}`, `${outcome}:${id}`],
      );
    }
    assert.ok(batches.length > 0, "finishing together, they went in batches");
    for (const batch of batches) {
      assert.ok(batch.items.length > 1);
      const bytes = toBinary(WorkRequestSchema, create(WorkRequestSchema, { kind: { case: "batch", value: batch } }));
      assert.ok(bytes.byteLength <= budget, `a batch of ${bytes.byteLength} bytes exceeds ${budget}`);
    }
  });

  test("UNIMPLEMENTED (a server without AckService) rejects run()", async () => {
    const running = start((w) => w.handle("any", "1.0.0", () => null));
    const stream = await fake.nextStream();
    await stream.expect("hello");
    stream.fail(new ConnectError("unknown service jobsvc.v1.AckService", Code.Unimplemented));
    await assert.rejects(
      within(3000, "run", running),
      (e: unknown) => e instanceof Error && "code" in e && e.code === "UNIMPLEMENTED",
    );
  });
});
