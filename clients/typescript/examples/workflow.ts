/**
 * One workflow driven from TypeScript on the jobsvc server in `JOBSVC_SERVER`: three steps on
 * remote workers in other languages, joined by a step of the server's own Python handlers; prints
 * the join's result as JSON.
 *
 *     JOBSVC_SERVER=127.0.0.1:50051 node dist/examples/workflow.js "polyglot jobs"
 *
 * The steps: ts_reverse (the TypeScript example worker), java_title (the Java example worker),
 * go_upper (the Go example worker), each given the text; then echo (tests/handlers.py) takes
 * their results under reversed, titled and upper. tests/clients/test_cross_language.py runs it.
 */
import { createClient, workflow, workflowOutput, WorkflowState } from "@jobsvc/client";

const text = process.argv[2] ?? "polyglot jobs";
const client = createClient({ address: process.env["JOBSVC_SERVER"] ?? "127.0.0.1:50051" });
try {
  const wf = workflow("polyglot-ts");
  wf.step("rev", "ts_reverse", text);
  wf.step("title", "java_title", text);
  wf.step("upper", "go_upper", text);
  wf.step("join", "echo", { driver: "ts" }).input("reversed", "rev").input("titled", "title").input("upper", "upper");
  const done = await client.callWorkflow(wf, { timeoutMs: 60_000 });
  const state = `WORKFLOW_STATE_${WorkflowState[done.workflow?.state ?? WorkflowState.UNSPECIFIED]}`;
  console.log(JSON.stringify({ workflow_id: done.workflow?.id, state, result: workflowOutput(done, "join") }));
} finally {
  client.close();
}
