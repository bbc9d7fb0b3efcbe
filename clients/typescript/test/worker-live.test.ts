/**
 * Remote workers against the live server (`JOBSVC_SERVER`): the example worker process
 * serving `ts_reverse`, and in-process workers for failures and cancellation. Skipped
 * while the server does not implement AckService.
 */
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";
import { after, before, describe, test } from "node:test";
import { Code, ConnectError, createClient as createConnectClient } from "@connectrpc/connect";
import { AckService } from "../src/gen/jobsvc/v1/ack_service_pb.js";
import { createChannel } from "../src/transport.js";
import {
  createClient,
  createWorker,
  JobFailedError,
  JobState,
  NonRetryableError,
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
