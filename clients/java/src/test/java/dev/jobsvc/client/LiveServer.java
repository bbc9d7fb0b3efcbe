package dev.jobsvc.client;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.time.Duration;

/** The jobsvc server the live tests talk to: {@code JOBSVC_SERVER}, or the test is skipped. */
final class LiveServer {

  private LiveServer() {}

  /** The server's {@code host:port}; skips the calling test when {@code JOBSVC_SERVER} is unset. */
  static String address() {
    String address = System.getenv("JOBSVC_SERVER");
    assumeTrue(address != null && !address.isBlank(), "JOBSVC_SERVER is not set: no live jobsvc server");
    return address;
  }

  /** A plaintext client of the live server (or of {@code address}, for example a proxy in front). */
  static JobsvcClient client(String address) {
    return JobsvcClient.builder().address(address).plaintext().defaultDeadline(Duration.ofSeconds(20)).build();
  }

  static JobsvcClient client() {
    return client(address());
  }
}
