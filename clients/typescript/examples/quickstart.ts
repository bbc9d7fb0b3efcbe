import { createClient } from "@jobsvc/client";

const client = createClient({ address: process.env.JOBSVC_SERVER ?? "127.0.0.1:50051" });
try {
  // Submit `echo`, wait for it to finish, and decode its JSON result.
  const result = await client.callResult("echo", { hello: "ts" }, { timeoutMs: 30_000 });
  console.log(result); // { hello: 'ts' }
} finally {
  client.close();
}
