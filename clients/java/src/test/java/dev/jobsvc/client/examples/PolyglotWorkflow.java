package dev.jobsvc.client.examples;

import dev.jobsvc.client.JobsvcClient;
import dev.jobsvc.client.Payloads;
import dev.jobsvc.client.WorkflowBuilder;
import dev.jobsvc.v1.CallWorkflowResponse;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * One workflow driven from Java on the jobsvc server in JOBSVC_SERVER: three steps on remote
 * workers in other languages, joined by a step of the server's own Python handlers; prints the
 * join's result as JSON. The steps: ts_reverse (the TypeScript example worker), java_title (the
 * Java example worker), go_upper (the Go example worker), each given the text; then echo
 * (tests/handlers.py) takes their results under reversed, titled and upper. The cross-language
 * tests (tests/clients/test_cross_language.py) run it.
 */
public final class PolyglotWorkflow {
  private PolyglotWorkflow() {}

  public static void main(String[] args) {
    String text = args.length > 0 ? args[0] : "polyglot jobs";
    String address = System.getenv().getOrDefault("JOBSVC_SERVER", "127.0.0.1:50051");
    try (JobsvcClient client = JobsvcClient.builder().address(address).plaintext().build()) {
      WorkflowBuilder wf = WorkflowBuilder.named("polyglot-java");
      wf.step("rev", "ts_reverse", text);
      wf.step("title", "java_title", text);
      wf.step("upper", "go_upper", text);
      wf.step("join", "echo", Map.of("driver", "java"))
          .input("reversed", "rev", "")
          .input("titled", "title", "")
          .input("upper", "upper", "");
      CallWorkflowResponse done = client.callWorkflow(wf, Duration.ofSeconds(60));
      Map<String, Object> out = new LinkedHashMap<>();
      out.put("workflow_id", done.getWorkflow().getId());
      out.put("state", done.getWorkflow().getState().name());
      out.put("result", JobsvcClient.workflowOutput(done, "join"));
      System.out.println(Payloads.toJson(Payloads.toValue(out)));
    }
  }
}
