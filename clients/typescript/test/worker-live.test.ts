/**
 * Remote workers against the live server (`JOBSVC_SERVER`): the example worker process
 * serving `ts_reverse`, and in-process workers for failures and cancellation. Skipped
 * while the server does not implement AckService.
 */
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";
import { after, before, describe, test } from "node:test";
import { Code, ConnectError, createClient as createConnectClient, type Interceptor } from "@connectrpc/connect";
import { AckService, type WorkRequest, type WorkResponse } from "../src/gen/jobsvc/v1/ack_service_pb.js";
import { createChannel } from "../src/transport.js";
import {
  createClient,
  createWorker,
  JobFailedError,
  JobState,
  JobView,
  NonRetryableError,
  payloadValue,
  type JobsvcClient,
  type Worker,
} from "../src/index.js";
import { SERVER, sleep, TcpProxy, within } from "./helpers.js";

/** Why the worker tests cannot run, or false when they can. */
async function unavailable(): Promise<string | false> {
  if (SERVER === undefined) return "JOBSVC_SERVER is not set";
  const channel = createChannel({ address: SERVER });
  try {
    const ack = createConnectClient(AckService, channel.transport);
    // An empty request stream: any answer but UNIMPLEMENTED means AckService is served.
    for await (const _ of ack.work((async function* () {})(), { timeoutMs: 3000 })) break;
    return false;
  } catch (error) {
    const code = ConnectError.from(error).code;
    return code === Code.Unimplemented ? "the server does not implement AckService yet" : false;
  } finally {
    channel.close();
  }
}

const skip = await unavailable();

const exampleWorker = fileURLToPath(new URL("../examples/example-worker.js", import.meta.url));

/** What went over a worker's Work streams, counted by an interceptor. */
interface WorkTraffic {
  helloAcceptsBatches: boolean;
  welcomeAcceptsBatches: boolean;
  /** Messages sent and received, by kind. */
  sent: Map<string, number>;
  received: Map<string, number>;
  /** Settlements and progress reports sent inside batches. */
  batchedItems: number;
}

/** Pass `source` through, calling `see` on each item (return/throw are passed on as they are). */
function observed<T>(source: AsyncIterable<T>, see: (item: T) => void): AsyncIterable<T> {
  return {
    [Symbol.asyncIterator]: () => {
      const inner = source[Symbol.asyncIterator]();
      return {
        next: async () => {
          const result = await inner.next();
          if (result.done !== true) see(result.value);
          return result;
        },
        return: (value?: unknown) => inner.return?.(value) ?? Promise.resolve({ value: undefined, done: true }),
        throw: (error?: unknown) => inner.throw?.(error) ?? Promise.reject(error),
      };
    },
  };
}

/** An interceptor that counts the Work stream's messages into `traffic`. */
function countWork(traffic: WorkTraffic): Interceptor {
  const bump = (map: Map<string, number>, kind: string | undefined) =>
    map.set(kind ?? "", (map.get(kind ?? "") ?? 0) + 1);
  return (next) => async (request) => {
    if (!request.stream || request.method.name !== "Work") return next(request);
    const response = await next({
      ...request,
      message: observed(request.message as AsyncIterable<WorkRequest>, (message) => {
        bump(traffic.sent, message.kind.case);
        if (message.kind.case === "hello") traffic.helloAcceptsBatches = message.kind.value.acceptsBatches;
        if (message.kind.case === "batch") traffic.batchedItems += message.kind.value.items.length;
      }),
    } as typeof request);
    if (!response.stream) return response;
    return {
      ...response,
      message: observed(response.message as AsyncIterable<WorkResponse>, (message) => {
        bump(traffic.received, message.kind.case);
        if (message.kind.case === "welcome") traffic.welcomeAcceptsBatches = message.kind.value.acceptsBatches;
      }),
    } as typeof response;
  };
}

/** Start the example worker; resolves once it prints that it is ready. */
async function startExampleWorker(): Promise<{ child: ChildProcess; output: () => string }> {
  const child = spawn(process.execPath, [exampleWorker], {
    env: { ...process.env, JOBSVC_SERVER: SERVER },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout!.on("data", (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on("data", (chunk: Buffer) => (output += chunk.toString()));
  await within(
    15_000,
    "the example worker to be ready",
    new Promise<void>((resolve, reject) => {
      const check = () => (output.includes("ts worker ready") ? resolve() : undefined);
      child.stdout!.on("data", check);
      child.once("exit", (code) => reject(new Error(`example worker exited ${code}: ${output}`)));
    }),
  );
  return { child, output: () => output };
}

describe("workers (live server)", { skip }, () => {
  let client: JobsvcClient;
  before(() => {
    client = createClient({ address: SERVER!, defaultTimeoutMs: 30_000 });
  });
  after(() => client.close());

  test("the example worker serves ts_reverse; calls get its result and progress", async () => {
    const { child, output } = await startExampleWorker();
    try {
      assert.equal(await client.callResult("ts_reverse", "hello, jobsvc"), "cvsboj ,olleh");
      const handlers = await client.handlers("ts_reverse");
      assert.deepEqual(
        handlers.map((h) => [h.name, h.version]),
        [["ts_reverse", "1.0.0"]],
      );
      const kinds: string[] = [];
      let result: unknown;
      for await (const event of client.stream({ submit: { handler: "ts_reverse", input: "abc" } })) {
        kinds.push(event.kind.case ?? "");
        if (event.kind.case === "succeeded") result = event.kind.value.result?.kind.value;
      }
      assert.ok(kinds.includes("started") && kinds.includes("progress"), kinds.join(","));
      assert.equal(kinds.at(-1), "succeeded");
      assert.ok(result !== undefined);
      const rejected = await client.callResult("ts_reverse", 42, { version: "1.0.0" }).then(
        () => assert.fail("no error"),
        (e: unknown) => e,
      );
      // Either the server validates the declared schema (INVALID_ARGUMENT) or the worker rejects it.
      assert.ok(rejected instanceof Error);
    } finally {
      child.kill("SIGTERM");
      const code = await within(15_000, "the example worker to stop", new Promise((r) => child.once("exit", r)));
      assert.equal(code, 0, output());
      assert.match(output(), /ts worker stopped/);
    }
  });

  test("in-process worker: NonRetryableError fails the job at once; cancel aborts the handler", async () => {
    let cancelled: unknown;
    const worker: Worker = createWorker({ address: SERVER!, workerId: "ts-live-test", concurrency: 2 })
      .handle("ts_check_fail", "1.0.0", () => {
        throw new NonRetryableError("no retry for you", { type: "QuotaExceeded" });
      })
      .handle("ts_check_wait", "1.0.0", async (_job, signal) => {
        await new Promise<void>((_, reject) =>
          signal.addEventListener("abort", () => {
            cancelled = signal.reason;
            reject(new Error("aborted"));
          }),
        );
      });
    const running = worker.run();
    try {
      await within(10_000, "welcome", worker.ready());
      const failure = await client.callResult("ts_check_fail", null, { retryPolicy: { maximumAttempts: 3 } }).then(
        () => assert.fail("no error"),
        (e: unknown) => e,
      );
      assert.ok(failure instanceof JobFailedError, String(failure));
      assert.equal(failure.type, "QuotaExceeded");
      assert.equal(failure.errorMessage, "no retry for you");
      assert.equal(failure.job.attempt, 1, "not retried");

      const job = await client.submit("ts_check_wait", null);
      for await (const event of client.stream({ jobId: job.id })) {
        if (event.kind.case === "started") await client.cancel(job.id, "stop it");
      }
      await within(
        5000,
        "the handler's signal",
        (async () => {
          while (cancelled === undefined) await sleep(20);
        })(),
      );
      assert.equal((await client.get(job.id)).state, JobState.CANCELLED);
    } finally {
      await worker.stop({ timeoutMs: 3000 });
      await running;
    }
  });

  test("a worker with concurrency 64 runs a few hundred jobs, all succeed (batches both ways)", async (t) => {
    const total = 400;
    const traffic: WorkTraffic = {
      helloAcceptsBatches: false,
      welcomeAcceptsBatches: false,
      sent: new Map(),
      received: new Map(),
      batchedItems: 0,
    };
    let ran = 0;
    const worker = createWorker({
      address: SERVER!,
      workerId: "ts-live-many",
      concurrency: 64,
      interceptors: [countWork(traffic)],
    }).handle("ts_check_many", "1.0.0", async (job) => {
      const n = job.input as number;
      if (n % 5 === 0) job.progress(50, `half of ${n}`);
      await sleep(n % 4); // finishing at slightly different times
      ran += 1;
      return { n, twice: 2 * n };
    });
    const running = worker.run();
    try {
      await within(10_000, "welcome", worker.ready());
      const jobs = await client.submitBatch(
        Array.from({ length: total }, (_, n) => ({ handler: "ts_check_many", input: n })),
      );
      assert.equal(jobs.length, total);
      const waiting = new Map(jobs.map((job, n) => [job.id, n]));
      await within(
        60_000,
        `${total} jobs to succeed`,
        (async () => {
          while (waiting.size > 0) {
            const states = await Promise.all([...waiting.keys()].map((id) => client.get(id, { view: JobView.BASIC })));
            for (const job of states) {
              assert.ok(
                job.state !== JobState.FAILED && job.state !== JobState.CANCELLED,
                `job ${job.id}: ${job.state}`,
              );
              if (job.state === JobState.SUCCEEDED) waiting.delete(job.id);
            }
            if (waiting.size > 0) await sleep(100);
          }
        })(),
      );
      for (const [index, job] of jobs.entries()) {
        if (index % 37 !== 0) continue; // a sample of the results
        const done = await client.get(job.id);
        assert.deepEqual(payloadValue(done.result), { n: index, twice: 2 * index });
        assert.equal(done.attempt, 1);
      }
      assert.equal(ran, total, "each job ran once");
      assert.equal(traffic.helloAcceptsBatches, true);
      assert.equal(traffic.welcomeAcceptsBatches, true);
      const alone = ["ack", "nack", "reject", "progress"].reduce((sum, kind) => sum + (traffic.sent.get(kind) ?? 0), 0);
      t.diagnostic(
        `${total} jobs: sent ${JSON.stringify(Object.fromEntries(traffic.sent))} (${traffic.batchedItems} items in ` +
          `batches, ${alone} alone); received ${JSON.stringify(Object.fromEntries(traffic.received))}`,
      );
      // Every ack and progress report went once, alone or in a batch; with 64 jobs finishing
      // together, some went in batches (which the server then handled: every job succeeded).
      assert.ok(traffic.batchedItems + alone >= total + total / 5);
      assert.ok((traffic.sent.get("batch") ?? 0) > 0, "no batch was sent");
    } finally {
      await worker.stop({ timeoutMs: 5000 });
      await running;
    }
  });

  test("a worker whose connection drops reconnects and still settles its running job", async () => {
    const proxy = new TcpProxy(SERVER!);
    let started: (() => void) | undefined;
    const startedOnce = new Promise<void>((resolve) => (started = resolve));
    const worker = createWorker({
      address: await proxy.start(),
      workerId: "ts-live-reconnect",
      initialBackoffMs: 50,
      logger: { info: () => undefined, warn: () => undefined },
    }).handle("ts_check_slow", "1.0.0", async (job) => {
      started!();
      await sleep(800);
      return { attempt: job.attempt, done: true };
    });
    const running = worker.run();
    try {
      await within(10_000, "welcome", worker.ready());
      const job = await client.submit("ts_check_slow", null);
      await within(10_000, "the handler to start", startedOnce);
      proxy.cut(); // the Work stream breaks while the handler runs
      const kinds: string[] = [];
      for await (const event of client.stream({ jobId: job.id })) kinds.push(event.kind.case ?? "");
      assert.equal(kinds.at(-1), "succeeded", kinds.join(","));
      assert.ok(!kinds.includes("requeued"), kinds.join(","));
      assert.deepEqual(await client.callResult("ts_check_slow", null), { attempt: 1, done: true });
      assert.ok(proxy.accepted >= 2, "the worker reconnected");
    } finally {
      await worker.stop({ timeoutMs: 3000 });
      await running;
      await proxy.close();
    }
  });
});
