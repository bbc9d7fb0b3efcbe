/**
 * Child jobs and durable sleep on a TypeScript worker against the live server
 * (`JOBSVC_SERVER`): a parent on a one-slot worker spawns two children, waits for them
 * (parked: they take its slot meanwhile), sleeps durably and returns their results; a
 * spawn of an unknown handler fails the parent at once.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { createClient, createWorker, JobFailedError, type JobsvcClient } from "../src/index.js";
import { needsServer, SERVER, within } from "./helpers.js";

describe("child jobs and durable sleep (live server)", { skip: needsServer }, () => {
  let client: JobsvcClient;
  before(() => {
    client = createClient({ address: SERVER!, defaultTimeoutMs: 30_000 });
  });
  after(() => client.close());

  test("a parent spawns, waits without its slot, sleeps and returns its children's results", async () => {
    const worker = createWorker({ address: SERVER!, workerId: "ts-children-test", concurrency: 1 })
      .handle("ts_child_square", "1.0.0", (job) => (job.input as number) ** 2)
      .handle("ts_child_parent", "1.0.0", async (job) => {
        const children = [await job.spawn("ts_child_square", 2), await job.spawn("ts_child_square", 3)];
        const squares = (await job.wait(children)) as number[]; // parks until both have finished
        await job.sleep(200); // durable: the run after it returns at once
        return { sum: squares[0]! + squares[1]!, attempt: job.attempt };
      })
      .handle("ts_child_unknown", "1.0.0", async (job) => {
        await job.spawn("no_such_handler", {});
      });
    const running = worker.run();
    try {
      await within(10_000, "welcome", worker.ready());
      assert.deepEqual(await client.callResult("ts_child_parent", null), { sum: 13, attempt: 1 });
      const failure = await client.callResult("ts_child_unknown", null).then(
        () => assert.fail("no error"),
        (e: unknown) => e,
      );
      assert.ok(failure instanceof JobFailedError, String(failure));
      assert.equal(failure.type, "jobsvc.SpawnRefused");
      assert.equal(failure.job.attempt, 1, "not retried");
    } finally {
      await worker.stop({ timeoutMs: 2000 });
      await running;
    }
  });
});
