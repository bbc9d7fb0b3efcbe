/** Workflows from the TypeScript client against a live jobsvc server (`JOBSVC_SERVER`). */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import {
  createClient,
  JobsvcError,
  JobView,
  workflow,
  workflowOutput,
  workflowSucceeded,
  WorkflowState,
  type JobsvcClient,
} from "../src/index.js";
import { needsServer, server } from "./helpers.js";

describe("workflows (live server)", { skip: needsServer }, () => {
  let client: JobsvcClient;
  before(() => {
    client = createClient({ address: server(), defaultTimeoutMs: 30_000 });
  });
  after(() => client.close());

  test("callWorkflow runs a diamond with a fan-out and an optional step, inputs where declared", async () => {
    const wf = workflow("ts-diamond").labels({ lang: "ts" });
    wf.step("fetch", "echo", { size: 3, owner: { name: "ada" }, items: [1, 2, 3] });
    wf.step("measure", "echo", { unit: "px" }).input("size", "fetch", "size");
    wf.step("each", "echo", {}).map("fetch", { path: "items", key: "n", maxItems: 10 });
    wf.step("soft", "fail").optional();
    wf.step("report", "echo", { final: true })
      .merge("measure")
      .input("who", "fetch", "owner.name")
      .input("each", "each")
      .input("soft", "soft");
    const done = await client.callWorkflow(wf);
    assert.ok(workflowSucceeded(done));
    assert.deepEqual(done.workflow?.labels, { lang: "ts" });
    const report = workflowOutput<Record<string, unknown>>(done, "report");
    assert.deepEqual(
      { ...report, soft: undefined },
      { final: true, unit: "px", size: 3, who: "ada", each: [{ n: 1 }, { n: 2 }, { n: 3 }], soft: undefined },
    );
    assert.ok((report["soft"] as { error: { message: string } }).error.message.includes("bad value"));
    const got = await client.getWorkflow(done.workflow!.id, { view: JobView.BASIC });
    assert.equal(got.stepsTotal, 8); // 5 steps and 3 elements
  });

  test("submit, stream (and resume after a sequence), cancel, get, list", async () => {
    const wf = workflow("ts-cancel");
    wf.step("forever", "wait_cancel");
    wf.step("after", "echo", {}).input("got", "forever");
    const submitted = await client.submitWorkflow(wf);
    assert.equal(submitted.state, WorkflowState.RUNNING);
    const seen: string[] = [];
    for await (const event of client.streamWorkflow(submitted.id)) {
      seen.push(`${event.step}:${event.event?.kind.case}`);
      if (event.event?.kind.case === "started") await client.cancelWorkflow(submitted.id, "enough");
    }
    // The waiting step is cancelled at once, the running one when its handler has stopped.
    assert.deepEqual(seen.slice(-2).sort(), ["after:cancelled", "forever:cancelled"]);
    const rest = [];
    for await (const event of client.streamWorkflow(submitted.id, { afterSequence: seen.length - 1 })) {
      rest.push(Number(event.sequence));
    }
    assert.deepEqual(rest, [seen.length]);
    const got = await client.getWorkflow(submitted.id);
    assert.equal(got.state, WorkflowState.CANCELLED);
    assert.equal(got.cancelReason, "enough");
    const page = await client.listWorkflows({ pageSize: 100 });
    assert.ok(page.workflows.some((w) => w.id === submitted.id));
  });

  test("a callWorkflow whose deadline passes names the workflow, which carries on", async () => {
    const wf = workflow("ts-deadline");
    wf.step("forever", "wait_cancel");
    // Long enough for the submit to commit on a loaded machine (the workflow id comes
    // back first); the step runs until cancelled, so the deadline always passes.
    const error = await client.callWorkflow(wf, { timeoutMs: 2000 }).catch((e: unknown) => e);
    assert.ok(error instanceof JobsvcError);
    assert.equal(error.code, "DEADLINE_EXCEEDED");
    assert.ok(error.jobId !== undefined);
    const still = await client.getWorkflow(error.jobId);
    assert.equal(still.state, WorkflowState.RUNNING);
    await client.cancelWorkflow(error.jobId, "test over");
  });

  test("a cycle is refused with a field violation naming the step", async () => {
    const wf = workflow("ts-cycle");
    wf.step("a", "echo").dependsOn("b");
    wf.step("b", "echo").dependsOn("a");
    await assert.rejects(client.submitWorkflow(wf), (error: unknown) => {
      assert.ok(error instanceof JobsvcError);
      assert.equal(error.code, "INVALID_ARGUMENT");
      assert.equal(error.fieldViolations[0]?.field, "steps[0].depends_on");
      return true;
    });
  });
});
