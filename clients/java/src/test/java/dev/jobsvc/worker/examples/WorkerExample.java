package dev.jobsvc.worker.examples;

// README:begin
import com.google.protobuf.Value;
import dev.jobsvc.client.JobsvcClient;
import dev.jobsvc.client.Payloads;
import dev.jobsvc.worker.JobsvcWorker;
import dev.jobsvc.worker.NonRetryableException;
import java.time.Duration;
import java.util.Map;

/** Serves java_greet 1.0.0 to the server in JOBSVC_SERVER, calls it once and stops. */
public class WorkerExample {
  public static void main(String[] args) throws InterruptedException {
    String address = System.getenv().getOrDefault("JOBSVC_SERVER", "127.0.0.1:50051");
    try (JobsvcWorker worker = JobsvcWorker.builder()
            .target(address).plaintext()
            .concurrency(8)
            .handle("java_greet", "1.0.0", job -> {
              Map<?, ?> input = (Map<?, ?>) job.input();
              if (!(input.get("name") instanceof String name)) {
                throw new NonRetryableException("ValueError", "name must be a string");
              }
              job.progress(50, "greeting " + name);
              return Map.of("greeting", "hello, " + name);
            })
            .build();
        JobsvcClient client = JobsvcClient.builder().address(address).plaintext().build()) {
      worker.start();
      worker.awaitConnected(Duration.ofSeconds(10));
      Value result = client.callResult("java_greet", Map.of("name", "java"));
      System.out.println(Payloads.toJson(result)); // {"greeting":"hello, java"}
    } // the worker drains: no more jobs, running ones finish, then it hangs up
  }
}
// README:end
