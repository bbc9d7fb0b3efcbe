/** Unit tests: payloads, specs, error decoding (no server needed). */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { create } from "@bufbuild/protobuf";
import { durationMs, timestampDate, DurationSchema, anyUnpack } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError } from "@connectrpc/connect";
import { BadRequestSchema, ErrorInfoSchema } from "../src/gen/google/rpc/error_details_pb.js";
import { JobErrorSchema, JobSchema, JobState } from "../src/gen/jobsvc/v1/job_pb.js";
import {
  codeName,
  jobResult,
  jobSpec,
  JobCancelledError,
  JobFailedError,
  JobsvcError,
  payloadValue,
  protoPayload,
  toPayload,
} from "../src/index.js";
import { baseUrl } from "../src/transport.js";
import { backoffDelay } from "../src/util.js";

describe("payloads", () => {
  test("JSON values round-trip", () => {
    for (const value of [null, 1, 2.5, "s", true, [1, "a", null], { a: { b: [false] } }]) {
      assert.deepEqual(payloadValue(toPayload(value)), value);
    }
    assert.equal(toPayload(undefined).kind.case, "json");
    assert.equal(payloadValue(toPayload(undefined)), null);
    assert.equal(payloadValue(undefined), undefined);
  });

  test("a ready Payload passes through and typed messages are packed in Any", () => {
    const payload = toPayload({ x: 1 });
    assert.equal(toPayload(payload), payload);
    const typed = protoPayload(DurationSchema, create(DurationSchema, { seconds: 3n }));
    assert.equal(typed.kind.case, "proto");
    const any = payloadValue(typed);
    assert.ok(any !== null && typeof any === "object" && "$typeName" in any);
    assert.equal(anyUnpack(any as never, DurationSchema)?.seconds, 3n);
  });
});

describe("job specs", () => {
  test("options map to the JobSpec fields", () => {
    const runAt = new Date("2030-01-02T03:04:05Z");
    const spec = jobSpec(
      "resize_image",
      { url: "x" },
      {
        version: "^2",
        priority: 7,
        idempotencyKey: "k",
        labels: { a: "b" },
        runAt,
        retryPolicy: { maximumAttempts: 1, initialIntervalMs: 1500, nonRetryableErrorTypes: ["ValueError"] },
        attemptTimeoutMs: 2000,
        executionTimeoutMs: 60_000,
      },
    );
    assert.equal(spec.handler, "resize_image");
    assert.equal(spec.version, "^2");
    assert.equal(spec.priority, 7);
    assert.equal(spec.idempotencyKey, "k");
    assert.deepEqual(spec.labels, { a: "b" });
    assert.equal(timestampDate(spec.runAt!).getTime(), runAt.getTime());
    assert.equal(spec.delay, undefined);
    assert.equal(spec.retryPolicy?.maximumAttempts, 1);
    assert.equal(durationMs(spec.retryPolicy!.initialInterval!), 1500);
    assert.deepEqual(spec.retryPolicy?.nonRetryableErrorTypes, ["ValueError"]);
    assert.equal(durationMs(spec.attemptTimeout!), 2000);
    assert.equal(durationMs(spec.executionTimeout!), 60_000);
    assert.deepEqual(payloadValue(spec.input), { url: "x" });
    assert.equal(durationMs(jobSpec("echo", 1, { delayMs: 250 }).delay!), 250);
  });
});

describe("errors", () => {
  test("ErrorInfo and BadRequest details are decoded", () => {
    const connectError = new ConnectError("input does not match", Code.InvalidArgument, undefined, [
      {
        desc: ErrorInfoSchema,
        value: { reason: "INPUT_SCHEMA_MISMATCH", domain: "jobsvc.v1", metadata: { handler: "greet" } },
      },
      {
        desc: BadRequestSchema,
        value: { fieldViolations: [{ field: "job.input.name", description: "5 is not of type 'string'" }] },
      },
    ]);
    const error = JobsvcError.from(connectError);
    assert.equal(error.code, "INVALID_ARGUMENT");
    assert.equal(error.grpcCode, 3);
    assert.equal(error.reason, "INPUT_SCHEMA_MISMATCH");
    assert.equal(error.domain, "jobsvc.v1");
    assert.deepEqual(error.metadata, { handler: "greet" });
    assert.deepEqual(error.fieldViolations, [{ field: "job.input.name", description: "5 is not of type 'string'" }]);
    assert.equal(error.details, "input does not match");
    assert.match(error.message, /^INVALID_ARGUMENT \(INPUT_SCHEMA_MISMATCH\): input does not match$/);
    assert.ok(error instanceof Error && error.cause === connectError);
    assert.equal(JobsvcError.from(error), error);
  });

  test("anything else becomes a JobsvcError too", () => {
    const error = JobsvcError.from(new Error("socket hang up"));
    assert.equal(error.code, "UNKNOWN");
    assert.equal(error.reason, "");
    assert.deepEqual(error.fieldViolations, []);
    assert.equal(codeName(14), "UNAVAILABLE");
    assert.equal(codeName(99), "UNKNOWN");
  });

  test("jobResult returns the result or throws the job's outcome", () => {
    const ok = create(JobSchema, { id: "1", state: JobState.SUCCEEDED, result: toPayload({ r: 1 }) });
    assert.deepEqual(jobResult(ok), { r: 1 });
    const failed = create(JobSchema, {
      id: "2",
      state: JobState.FAILED,
      error: create(JobErrorSchema, { type: "KeyError", message: "k", traceback: "tb", attempt: 2 }),
    });
    assert.throws(
      () => jobResult(failed),
      (e: unknown) => e instanceof JobFailedError && e.type === "KeyError" && e.traceback === "tb" && e.attempt === 2,
    );
    assert.throws(() => jobResult(create(JobSchema, { id: "3", state: JobState.CANCELLED })), JobCancelledError);
    assert.throws(() => jobResult(create(JobSchema, { id: "4", state: JobState.RUNNING })), /has not finished/);
  });
});

describe("transport helpers", () => {
  test("addresses become base URLs", () => {
    assert.equal(baseUrl("127.0.0.1:50051", undefined), "http://127.0.0.1:50051");
    assert.equal(baseUrl("jobs.internal:443", true), "https://jobs.internal:443");
    assert.equal(baseUrl("https://jobs.internal/", undefined), "https://jobs.internal");
  });

  test("backoff grows, is capped, and has jitter", () => {
    for (let retry = 1; retry < 10; retry++) {
      const delay = backoffDelay(retry, 100, 1000);
      const full = Math.min(1000, 100 * 2 ** (retry - 1));
      assert.ok(delay >= full / 2 && delay <= full, `${retry}: ${delay}`);
    }
  });
});
