/**
 * An example remote worker: serves `ts_reverse` 1.0.0 (input: a JSON string; result:
 * the string reversed, by code point) against the server in `JOBSVC_SERVER`.
 *
 *     JOBSVC_SERVER=127.0.0.1:50051 node dist/examples/example-worker.js
 *
 * With `JOBSVC_TOKEN` set, it sends that bearer token (a jobsvc token with the work scope).
 *
 * Prints `ts worker ready` once the server has registered the handler; SIGTERM or
 * SIGINT stops it gracefully (running jobs finish first).
 */
import { createWorker, RejectError } from "@jobsvc/client";

const worker = createWorker({
  address: process.env.JOBSVC_SERVER ?? "127.0.0.1:50051",
  workerId: `ts-example:${process.pid}`,
  concurrency: 4,
  leaseDurationMs: 30_000,
  ...(process.env.JOBSVC_TOKEN ? { token: process.env.JOBSVC_TOKEN } : {}),
});

worker.handle(
  "ts_reverse",
  "1.0.0",
  async (job) => {
    if (typeof job.input !== "string") throw new RejectError("input must be a JSON string", { type: "TypeError" });
    job.progress(0, "reversing");
    const reversed = [...job.input].reverse().join("");
    job.progress(100, "reversed");
    return reversed;
  },
  {
    description: "Reverses a string (TypeScript example worker)",
    inputSchema: { type: "string" },
    outputSchema: { type: "string" },
  },
);

for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => void worker.stop());
}
void worker.ready().then(() => console.log("ts worker ready"));
await worker.run();
console.log("ts worker stopped");
