package dev.jobsvc.client.examples;

// README:begin
import com.google.protobuf.Value;
import dev.jobsvc.client.JobsvcClient;
import dev.jobsvc.client.Payloads;
import java.util.Map;

/** Calls the echo handler of the server in JOBSVC_SERVER and prints the result. */
public class Quickstart {
  public static void main(String[] args) {
    String address = System.getenv().getOrDefault("JOBSVC_SERVER", "127.0.0.1:50051");
    try (JobsvcClient client = JobsvcClient.builder().address(address).plaintext().build()) {
      Value result = client.callResult("echo", Map.of("hello", "java"));
      System.out.println(Payloads.toJson(result)); // {"hello":"java"}
    }
  }
}
// README:end
