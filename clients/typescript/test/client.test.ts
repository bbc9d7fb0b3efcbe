/** The client against a live jobsvc server serving tests/handlers.py (`JOBSVC_SERVER`). */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import {
  BulkAction,
  createClient,
  JobCancelledError,
  JobFailedError,
  JobState,
  JobsvcError,
  JobView,
  OperationState,
  type JobEvent,
  type JobsvcClient,
} from "../src/index.js";
import { needsServer, server, sleep, TcpProxy, within } from "./helpers.js";

describe("client (live server)", { skip: needsServer }, () => {
  let client: JobsvcClient;
  before(() => {
    client = createClient({ address: server(), defaultTimeoutMs: 30_000 });
  });
  after(() => client.close());

  test("submit enqueues and get reads the job back", async () => {
    const job = await client.submit("echo", [1, 2], { labels: { team: "ts" }, delayMs: 60_000 });
    assert.equal(job.state, JobState.QUEUED);
    assert.equal(job.handler, "echo");
    assert.deepEqual(job.labels, { team: "ts" });
    const again = await client.get(job.id);
    assert.equal(again.id, job.id);
    await client.cancel(job.id, "test over");
  });

  test("an idempotency key returns the same job", async () => {
    const key = `ts-${process.pid}-${Date.now()}`;
    const first = await client.submitWithStatus("echo", "once", { idempotencyKey: key });
    const second = await client.submitWithStatus("echo", "once", { idempotencyKey: key });
    assert.equal(first.created, true);
    assert.equal(second.created, false);
    assert.equal(second.job?.id, first.job?.id);
  });

  test("submitBatch keeps the request order", async () => {
    const jobs = await client.submitBatch([
      { handler: "echo", input: 1 },
      { handler: "echo", input: { two: 2 }, priority: 5 },
    ]);
    assert.deepEqual(
      jobs.map((j) => [j.handler, j.priority]),
      [
        ["echo", 0],
        ["echo", 5],
      ],
    );
  });

  test("call returns the finished job and callResult its decoded result", async () => {
    const job = await client.call("greet", { name: "ts" });
    assert.equal(job.state, JobState.SUCCEEDED);
    assert.equal(job.version, "1.0.0");
    assert.equal(await client.callResult("greet", { name: "ts" }), "hello, ts");
    assert.deepEqual(await client.callResult("echo", { nested: [1, "two", null, true] }), {
      nested: [1, "two", null, true],
    });
    assert.deepEqual(await client.callResult("resize_image", { width: 7, height: 9 }, { version: "^2" }), {
      version: "2.1.0",
      size: [7, 9],
    });
  });

  test("a failing handler's error comes back as JobFailedError", async () => {
    const error = await client.callResult("fail", 3, { retryPolicy: { maximumAttempts: 1 } }).then(
      () => assert.fail("no error"),
      (e: unknown) => e,
    );
    assert.ok(error instanceof JobFailedError, String(error));
    assert.equal(error.type, "ValueError");
    assert.equal(error.errorMessage, "bad value: 3");
    assert.match(error.traceback, /ValueError/);
    assert.equal(error.job.state, JobState.FAILED);
  });

  test("redrive re-runs a dead-lettered job as a new one", async () => {
    const failed = await client.call("fail", "again", { retryPolicy: { maximumAttempts: 1 } });
    assert.equal(failed.state, JobState.FAILED);
    const redriven = await client.redrive(failed.id);
    assert.notEqual(redriven.id, failed.id);
    assert.equal(redriven.redriveOf, failed.id);
    const ids = await client.redriveAll("no_such_handler_to_redrive");
    assert.deepEqual(ids, []);
  });

  test("a passed deadline is DEADLINE_EXCEEDED and names the job that carries on", async () => {
    const error = await client.call("wait_cancel", null, { timeoutMs: 1500 }).then(
      () => assert.fail("no error"),
      (e: unknown) => e,
    );
    assert.ok(error instanceof JobsvcError);
    assert.equal(error.code, "DEADLINE_EXCEEDED");
    assert.ok(error.jobId, "the job id from the jobsvc-job-id header");
    await client.cancel(error.jobId);
  });

  test("stream resumes after the connection is cut: every event once, in order", async () => {
    const proxy = new TcpProxy(server());
    const proxied = createClient({ address: await proxy.start() });
    const reconnects: string[] = [];
    try {
      const events: JobEvent[] = [];
      const stream = proxied.stream(
        { submit: { handler: "steps", input: { count: 5, pause: 0.15 } } },
        { initialBackoffMs: 50, onReconnect: (error) => reconnects.push(error.code) },
      );
      await within(
        30_000,
        "the stream",
        (async () => {
          for await (const event of stream) {
            events.push(event);
            if (events.length === 3) proxy.cut();
          }
        })(),
      );
      const sequences = events.map((e) => Number(e.sequence));
      // queued, started, 5 x (progress, partial output), succeeded
      assert.deepEqual(
        sequences,
        Array.from({ length: 13 }, (_, i) => i + 1),
      );
      assert.deepEqual(events.map((e) => e.kind.case).slice(0, 4), ["queued", "started", "progress", "partialOutput"]);
      assert.equal(events.at(-1)?.kind.case, "succeeded");
      assert.ok(reconnects.length >= 1, "the stream was re-opened");
      assert.ok(proxy.accepted >= 2, "a second connection was made");
    } finally {
      proxied.close();
      await proxy.close();
    }
  });

  test("stream attaches by id and resumes from afterSequence", async () => {
    const job = await client.call("steps", { count: 2 });
    const all: number[] = [];
    for await (const event of client.stream({ jobId: job.id })) all.push(Number(event.sequence));
    assert.deepEqual(all, [1, 2, 3, 4, 5, 6, 7]);
    const rest: number[] = [];
    for await (const event of client.stream({ jobId: job.id }, { afterSequence: 4 })) rest.push(Number(event.sequence));
    assert.deepEqual(rest, [5, 6, 7]);
  });

  test("a stream resumed at a finished job's last sequence ends at once; beyond it is OUT_OF_RANGE", async () => {
    const submitted = await client.submit("steps", { count: 1 });
    let job = submitted;
    await within(
      20_000,
      "the job to finish",
      (async () => {
        while (job.state !== JobState.SUCCEEDED) {
          assert.ok(job.state !== JobState.FAILED && job.state !== JobState.CANCELLED, JobState[job.state]);
          await sleep(50);
          job = await client.get(submitted.id, { view: JobView.BASIC });
        }
      })(),
    );
    const last = job.lastSequence;
    assert.ok(last > 0n);
    // Before the end-of-job check this re-opened the stream maxRetries times (seconds of
    // backoff) and then threw UNAVAILABLE "stream ended before the terminal event".
    const started = Date.now();
    const resumed = await within(
      3_000,
      "the resumed stream to end",
      (async () => {
        const seen: JobEvent[] = [];
        for await (const event of client.stream({ jobId: job.id }, { afterSequence: last })) seen.push(event);
        return seen;
      })(),
    );
    assert.deepEqual(resumed, []);
    assert.ok(Date.now() - started < 3_000);

    const reconnects: string[] = [];
    const error = await within(
      3_000,
      "OUT_OF_RANGE",
      (async () => {
        const stream = client.stream(
          { jobId: job.id },
          { afterSequence: last + 5n, onReconnect: (e) => reconnects.push(e.code) },
        );
        for await (const event of stream) assert.fail(`event ${event.sequence} after the last`);
      })().then(
        () => assert.fail("no error"),
        (e: unknown) => e,
      ),
    );
    assert.ok(error instanceof JobsvcError, String(error));
    assert.equal(error.code, "OUT_OF_RANGE");
    assert.equal(error.reason, "SEQUENCE_NOT_REACHED");
    assert.equal(error.metadata["last_sequence"], String(last));
    assert.deepEqual(reconnects, [], "OUT_OF_RANGE is not retried");
  });

  test("cancel stops a running job", async () => {
    const job = await client.submit("wait_cancel", null);
    const kinds: string[] = [];
    for await (const event of client.stream({ jobId: job.id })) {
      kinds.push(event.kind.case ?? "");
      if (event.kind.case === "started") await client.cancel(job.id, "enough");
      if (event.kind.case === "cancelled") assert.equal(event.kind.value.reason, "enough");
    }
    assert.deepEqual(kinds, ["queued", "started", "cancelled"]);
    const finished = await client.get(job.id);
    assert.equal(finished.state, JobState.CANCELLED);
    assert.throws(() => {
      throw new JobCancelledError(finished);
    }, /cancelled/);
  });

  test("cancelling a finished job is FAILED_PRECONDITION", async () => {
    const job = await client.call("echo", 1);
    await assert.rejects(
      client.cancel(job.id),
      (e: unknown) => e instanceof JobsvcError && e.code === "FAILED_PRECONDITION",
    );
  });

  test("an unknown handler is NOT_FOUND with reason HANDLER_NOT_FOUND", async () => {
    const error = await client.call("no_such_handler", 1).then(
      () => assert.fail("no error"),
      (e: unknown) => e,
    );
    assert.ok(error instanceof JobsvcError);
    assert.equal(error.code, "NOT_FOUND");
    assert.equal(error.reason, "HANDLER_NOT_FOUND");
    assert.equal(error.domain, "jobsvc.v1");
  });

  test("an unknown version lists the versions that exist", async () => {
    const error = await client.submit("resize_image", {}, { version: "^9" }).then(
      () => assert.fail("no error"),
      (e: unknown) => e,
    );
    assert.ok(error instanceof JobsvcError);
    assert.equal(error.code, "NOT_FOUND");
    assert.match(error.metadata["available_versions"] ?? "", /2\.1\.0/);
  });

  test("input not matching the schema is INVALID_ARGUMENT with a field violation", async () => {
    const error = await client.call("greet", { name: 5 }).then(
      () => assert.fail("no error"),
      (e: unknown) => e,
    );
    assert.ok(error instanceof JobsvcError);
    assert.equal(error.code, "INVALID_ARGUMENT");
    assert.ok(
      error.fieldViolations.some((v) => v.field === "job.input.name"),
      JSON.stringify(error.fieldViolations),
    );
  });

  test("list pages through jobs newest first", async () => {
    await client.submitBatch([1, 2, 3].map((n) => ({ handler: "echo", input: n, delayMs: 60_000 })));
    const first = await client.list({ handler: "echo", states: [JobState.QUEUED], pageSize: 2 });
    assert.equal(first.jobs.length, 2);
    assert.notEqual(first.nextPageToken, "");
    const seen = new Set<string>();
    let pages = 0;
    for await (const page of client.listPages({ handler: "echo", states: [JobState.QUEUED], pageSize: 2 })) {
      pages += 1;
      for (const job of page.jobs) {
        assert.ok(!seen.has(job.id), "no job on two pages");
        seen.add(job.id);
      }
    }
    assert.ok(seen.size >= 3 && pages >= 2);
  });

  test("the BASIC view leaves out inputs and results", async () => {
    const done = await client.call("echo", { view: "basic" });
    const basic = await client.get(done.id, { view: JobView.BASIC });
    assert.equal(basic.state, JobState.SUCCEEDED);
    assert.equal(basic.input, undefined);
    assert.equal(basic.result, undefined);
    assert.notEqual((await client.get(done.id, { view: JobView.FULL })).result, undefined);
    const page = await client.list({ handler: "echo", view: JobView.BASIC });
    assert.ok(page.jobs.length > 0);
    assert.ok(page.jobs.every((job) => job.input === undefined && job.result === undefined));
  });

  test("handlers lists versions with schemas", async () => {
    const greet = await client.handlers("greet");
    assert.deepEqual(
      greet.map((h) => [h.name, h.version]),
      [["greet", "1.0.0"]],
    );
    assert.deepEqual(greet[0]?.inputSchema?.["required"], ["name"]);
    const resize = await client.handlers("resize_image");
    assert.deepEqual(
      resize.map((h) => h.version),
      ["2.1.0", "2.0.0", "1.4.0"],
    );
  });

  test("a stream aborted by the caller ends with CANCELLED", async () => {
    const job = await client.submit("wait_cancel", null);
    const controller = new AbortController();
    const error = await (async () => {
      for await (const event of client.stream({ jobId: job.id }, { signal: controller.signal })) {
        if (event.kind.case === "queued") controller.abort();
      }
    })().then(
      () => assert.fail("no error"),
      (e: unknown) => e,
    );
    assert.ok(error instanceof JobsvcError);
    assert.equal(error.code, "CANCELLED");
    await client.cancel(job.id);
  });

  test("deadline defaults apply to unary calls", async () => {
    const hurried = createClient({ address: server(), defaultTimeoutMs: 300 });
    try {
      const error = await hurried.call("sleepy", { seconds: 2 }).then(
        () => assert.fail("no error"),
        (e: unknown) => e,
      );
      assert.ok(error instanceof JobsvcError && error.code === "DEADLINE_EXCEEDED");
    } finally {
      hurried.close();
    }
    await sleep(0);
  });
  test("pause holds a version's jobs and resume starts them; list filters by label", async () => {
    // cached_square: no other test here submits it; an input of its own (its result cache).
    const pause = await client.pause({ handler: "cached_square", version: "1.0.0" }, { reason: "ts test" });
    assert.equal(pause.handler, "cached_square");
    const job = await client.submit("cached_square", Date.now() % 1_000_000, { labels: { ts: "pause" } });
    await sleep(300);
    const waiting = await client.get(job.id);
    assert.equal(waiting.state, JobState.QUEUED);
    assert.ok((await client.pauses()).some((p) => p.handler === "cached_square"));
    assert.deepEqual(
      (await client.list({ labels: { ts: "pause" } })).jobs.map((j) => j.id),
      [job.id],
    );
    assert.equal(await client.resume({ handler: "cached_square", version: "1.0.0" }), true);
    const ran = async () => {
      while ((await client.get(job.id)).state !== JobState.SUCCEEDED) await sleep(50);
    };
    await within(5_000, "the job runs after resume", ran());
    await client.pause({ key: "ts-key" });
    assert.equal(await client.resume({ key: "ts-key" }), true);
  });
  test("bulk cancel: a dry run counts, the operation runs, cancelling a finished one changes nothing", async () => {
    const labels = { ts: "bulk" }; // only this test's jobs, delayed an hour
    for (let i = 0; i < 3; i++) await client.submit("echo", i, { labels, delayMs: 3_600_000 });
    const filter = { handler: "echo", labels };
    const dry = await client.bulk(BulkAction.CANCEL, filter, { dryRun: true });
    assert.equal(dry.state, OperationState.DRY_RUN);
    assert.equal(dry.matched, 3n);
    assert.equal(dry.id, "");
    let operation = await client.bulk(BulkAction.CANCEL, filter, { maxJobsPerSecond: 100 });
    assert.equal(operation.matched, 3n);
    const finished = async () => {
      while (operation.state === OperationState.RUNNING) {
        await sleep(50);
        operation = await client.getOperation(operation.id);
      }
    };
    await within(10_000, "the operation finishes", finished());
    assert.equal(operation.state, OperationState.SUCCEEDED);
    assert.equal(operation.processed, 3n);
    assert.equal((await client.cancelOperation(operation.id)).state, OperationState.SUCCEEDED);
    const cancelled = await client.list({ labels, states: [JobState.CANCELLED] });
    assert.equal(cancelled.jobs.length, 3);
  });
});
