/** The resuming stream against a fake StreamService client (no server needed): a stream that
 * ends OK without the terminal event is over for a finished job and re-opened otherwise;
 * events batched per message come out one by one. */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, type Client } from "@connectrpc/connect";
import {
  JobEventSchema,
  JobSchema,
  JobSpecSchema,
  JobState,
  type Job,
  type JobEvent,
} from "../src/gen/jobsvc/v1/job_pb.js";
import {
  StreamResponseSchema,
  type StreamRequest,
  type StreamService,
} from "../src/gen/jobsvc/v1/stream_service_pb.js";
import { followEvents, STREAM_EVENTS_PER_MESSAGE, type JobLookup } from "../src/stream.js";

/** Event `seq` of job `j1`; `last` is its terminal one. */
function eventOf(seq: number, last: number): JobEvent {
  const event: JobEvent = create(JobEventSchema, { jobId: "j1", sequence: BigInt(seq) });
  if (seq === last) event.kind = { case: "succeeded", value: { $typeName: "jobsvc.v1.JobEvent.Succeeded" } };
  return event;
}

/** A StreamService client for job `j1` with events 1..last: the first `drains` streams end OK
 * at once (a server shutting down), later ones send every event after `after_sequence`. */
function fakeStreams(last: number, drains: number): { client: Client<typeof StreamService>; opened: bigint[] } {
  const opened: bigint[] = [];
  const client = {
    async *stream(request: StreamRequest) {
      opened.push(request.afterSequence);
      if (opened.length <= drains) return;
      for (let seq = Number(request.afterSequence) + 1; seq <= last; seq++) {
        yield create(StreamResponseSchema, { event: eventOf(seq, last) });
      }
    },
  } as unknown as Client<typeof StreamService>;
  return { client, opened };
}

function lookupOf(job: () => Job): { lookup: JobLookup; calls: string[] } {
  const calls: string[] = [];
  return {
    calls,
    lookup: async (jobId) => {
      calls.push(jobId);
      return job();
    },
  };
}

async function sequences(events: AsyncIterable<JobEvent>): Promise<number[]> {
  const seen: number[] = [];
  for await (const event of events) seen.push(Number(event.sequence));
  return seen;
}

const fast = { initialBackoffMs: 1, maxBackoffMs: 2, maxRetries: 3 };

describe("stream ended OK without the terminal event", () => {
  test("resumed after a finished job's last event: done, after one lookup", async () => {
    const { client, opened } = fakeStreams(4, 0);
    const { lookup, calls } = lookupOf(() =>
      create(JobSchema, { id: "j1", state: JobState.SUCCEEDED, lastSequence: 4n }),
    );
    assert.deepEqual(await sequences(followEvents(client, { jobId: "j1" }, { ...fast, afterSequence: 4 }, lookup)), []);
    assert.deepEqual(opened, [4n]);
    assert.deepEqual(calls, ["j1"]);
  });

  test("a running job (a draining server) is re-opened where it stopped", async () => {
    const { client, opened } = fakeStreams(3, 2);
    const { lookup, calls } = lookupOf(() =>
      create(JobSchema, { id: "j1", state: JobState.RUNNING, lastSequence: 1n }),
    );
    assert.deepEqual(await sequences(followEvents(client, { jobId: "j1" }, fast, lookup)), [1, 2, 3]);
    assert.deepEqual(opened, [0n, 0n, 0n]);
    assert.equal(calls.length, 2);
  });

  test("a finished job with events left, or a failed lookup, is re-opened too", async () => {
    const finished = fakeStreams(3, 1);
    const { lookup } = lookupOf(() => create(JobSchema, { id: "j1", state: JobState.FAILED, lastSequence: 3n }));
    assert.deepEqual(
      await sequences(followEvents(finished.client, { jobId: "j1" }, { ...fast, afterSequence: 1 }, lookup)),
      [2, 3],
    );
    const failing = fakeStreams(2, 1);
    const broken: JobLookup = () => Promise.reject(new Error("GetJob refused"));
    assert.deepEqual(await sequences(followEvents(failing.client, { jobId: "j1" }, fast, broken)), [1, 2]);
    assert.equal(failing.opened.length, 2);
  });

  test("a server that keeps ending early on a running job still gives up after maxRetries", async () => {
    const { client, opened } = fakeStreams(3, 100);
    const { lookup } = lookupOf(() => create(JobSchema, { id: "j1", state: JobState.RUNNING }));
    await assert.rejects(sequences(followEvents(client, { jobId: "j1" }, fast, lookup)), /UNAVAILABLE.*terminal event/);
    assert.equal(opened.length, 4);
  });
});

describe("events batched per message", () => {
  test("batches and single events come out one by one; a drop mid-batch resumes after the last one out", async () => {
    const batch = (...seqs: number[]) => create(StreamResponseSchema, { events: seqs.map((seq) => eventOf(seq, 10)) });
    const single = (seq: number) => create(StreamResponseSchema, { event: eventOf(seq, 10) });
    // The first connection drops while the caller still takes the batch 5..7 out.
    const opens = [
      [batch(1, 2, 3), single(4), batch(5, 6, 7)],
      [batch(8, 9), single(10)],
    ];
    const requests: StreamRequest[] = [];
    const client = {
      async *stream(request: StreamRequest) {
        requests.push(request);
        yield* opens[requests.length - 1]!;
        if (requests.length === 1) throw new ConnectError("connection reset", Code.Unavailable);
      },
    } as unknown as Client<typeof StreamService>;
    const submit = create(JobSpecSchema, { handler: "steps", idempotencyKey: "k1" });
    const seen = await sequences(followEvents(client, { submit }, fast));
    assert.deepEqual(seen, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    assert.deepEqual(
      requests.map((r) => [r.target.case, r.afterSequence, r.maxEventsPerMessage]),
      [
        ["submit", 0n, STREAM_EVENTS_PER_MESSAGE],
        ["jobId", 7n, STREAM_EVENTS_PER_MESSAGE],
      ],
    );
    assert.equal(STREAM_EVENTS_PER_MESSAGE, 1000);
  });
});
