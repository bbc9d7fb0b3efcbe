package dev.jobsvc.worker;

import java.time.Instant;
import java.util.List;

/**
 * Thrown by {@link JobContext#waitFor} and {@link JobContext#sleep} while the job must wait:
 * it unwinds the handler (let it through: do not catch it), and the attempt ends parked, its
 * slot and lease free. The job runs again from the start once its children have finished or
 * its sleep is over.
 */
public final class Parked extends RuntimeException {

  private final List<String> childJobIds;
  private final String sleepKey;
  private final Instant until;

  Parked(List<String> childJobIds, String sleepKey, Instant until) {
    super("the job parked (let this exception through the handler)", null, false, false);
    this.childJobIds = List.copyOf(childJobIds);
    this.sleepKey = sleepKey;
    this.until = until;
  }

  List<String> childJobIds() {
    return childJobIds;
  }

  String sleepKey() {
    return sleepKey;
  }

  Instant until() {
    return until;
  }
}
