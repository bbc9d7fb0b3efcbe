package dev.jobsvc.worker.examples;

import dev.jobsvc.worker.JobsvcWorker;
import dev.jobsvc.worker.NonRetryableException;
import java.time.Duration;

/**
 * Serves java_title 1.0.0 to the server in JOBSVC_SERVER until the process is stopped; SIGTERM
 * drains it. Its input is a JSON string, its result the string with each word capitalized; it
 * reports progress 50, then 100. The cross-language tests (tests/clients/test_cross_language.py)
 * run it as a worker process.
 */
public final class ServingWorker {
  private ServingWorker() {}

  public static void main(String[] args) throws InterruptedException {
    String address = System.getenv().getOrDefault("JOBSVC_SERVER", "127.0.0.1:50051");
    JobsvcWorker worker = JobsvcWorker.builder()
        .target(address).plaintext()
        .concurrency(4)
        .handle("java_title", "1.0.0", job -> {
          if (!(job.input() instanceof String text)) {
            throw new NonRetryableException("TypeError", "input must be a JSON string");
          }
          job.progress(50, "capitalizing");
          String result = title(text);
          job.progress(100, "done");
          return result;
        })
        .build();
    Runtime.getRuntime().addShutdownHook(new Thread(worker::close, "jobsvc-worker-stop"));
    worker.start();
    if (!worker.awaitConnected(Duration.ofSeconds(30))) {
      System.err.println("java worker: no session with " + address);
      System.exit(1);
    }
    System.out.println("java worker serving java_title against " + address);
    worker.stopped().join();
  }

  private static String title(String text) {
    StringBuilder out = new StringBuilder(text.length());
    boolean start = true;
    for (char c : text.toCharArray()) {
      out.append(start ? Character.toUpperCase(c) : Character.toLowerCase(c));
      start = Character.isWhitespace(c);
    }
    return out.toString();
  }
}
