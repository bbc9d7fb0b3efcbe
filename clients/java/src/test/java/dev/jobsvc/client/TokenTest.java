package dev.jobsvc.client;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.jobsvc.v1.Job;
import io.grpc.Status;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * The bearer token against a live server with tokens on: {@code JOBSVC_AUTH_SERVER}, with
 * {@code JOBSVC_AUTH_TOKEN} allowed to call and read but not to submit (skipped when unset).
 */
class TokenTest {

  private static String env(String name) {
    String value = System.getenv(name);
    assumeTrue(value != null && !value.isBlank(), name + " is not set: no live server with tokens on");
    return value;
  }

  private static JobsvcClient client(String token) {
    return JobsvcClient.builder()
        .address(env("JOBSVC_AUTH_SERVER"))
        .plaintext()
        .token(token)
        .defaultDeadline(Duration.ofSeconds(20))
        .build();
  }

  @Test
  void theTokenIsSentAndItsScopesApply() {
    try (JobsvcClient client = client(env("JOBSVC_AUTH_TOKEN"))) {
      Job job = client.call("echo", Map.of("from", "java"));
      assertEquals(Map.of("from", "java"), Payloads.toJava(job.getResult()));

      JobsvcException denied = assertThrows(JobsvcException.class, () -> client.submit("echo", 1));
      assertEquals(Status.Code.PERMISSION_DENIED, denied.code());
      assertEquals("SCOPE_MISSING", denied.reason());
      assertEquals("submit", denied.metadata().get("required_scope"));
    }
  }

  @Test
  void withoutATokenTheServerRefuses() {
    try (JobsvcClient client = client(null)) {
      JobsvcException refused = assertThrows(JobsvcException.class, () -> client.call("echo", 1));
      assertEquals(Status.Code.UNAUTHENTICATED, refused.code());
      assertEquals("TOKEN_MISSING", refused.reason());
    }
  }
}
