/** The README's quickstart is examples/quickstart.ts, and it runs as written. */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { test } from "node:test";
import { needsServer, server } from "./helpers.js";

const packageRoot = fileURLToPath(new URL("../../", import.meta.url)); // dist/test/ -> package root

test("the README's quickstart block is examples/quickstart.ts", async () => {
  const readme = await readFile(`${packageRoot}README.md`, "utf8");
  const quickstart = await readFile(`${packageRoot}examples/quickstart.ts`, "utf8");
  const block = /<!-- quickstart: examples\/quickstart\.ts -->\s*```ts\n([\s\S]*?)```/.exec(readme);
  assert.ok(block, "README.md has a ```ts block after <!-- quickstart: examples/quickstart.ts -->");
  assert.equal(block[1], quickstart);
});

test("the quickstart runs and prints the echoed value", { skip: needsServer }, async () => {
  const { stdout } = await promisify(execFile)(process.execPath, [`${packageRoot}dist/examples/quickstart.js`], {
    env: { ...process.env, JOBSVC_SERVER: server() },
    timeout: 30_000,
  });
  assert.equal(stdout.trim(), "{ hello: 'ts' }");
});
