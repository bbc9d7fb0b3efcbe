package dev.jobsvc.worker;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.jobsvc.client.JobsvcClient;
import dev.jobsvc.v1.HandlerInfo;
import java.time.Duration;
import java.util.List;

/** The jobsvc server the live tests talk to: {@code JOBSVC_SERVER}, or the test is skipped. */
final class Live {

  private Live() {}

  static String address() {
    String address = System.getenv("JOBSVC_SERVER");
    assumeTrue(address != null && !address.isBlank(), "JOBSVC_SERVER is not set: no live jobsvc server");
    return address;
  }

  static String env(String name) {
    String value = System.getenv(name);
    assumeTrue(value != null && !value.isBlank(), name + " is not set");
    return value;
  }

  static JobsvcClient client() {
    return JobsvcClient.builder().address(address()).plaintext().defaultDeadline(Duration.ofSeconds(30)).build();
  }

  /** Waits until the server reports {@code name} online (served by a connected worker). */
  static void awaitOnline(JobsvcClient client, String name) throws InterruptedException {
    long deadline = System.nanoTime() + Duration.ofSeconds(20).toNanos();
    while (System.nanoTime() < deadline) {
      List<HandlerInfo> handlers = client.handlers(name);
      if (!handlers.isEmpty() && handlers.get(0).getOnline()) {
        return;
      }
      Thread.sleep(50);
    }
    throw new AssertionError(name + " never came online");
  }
}
