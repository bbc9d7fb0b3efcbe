package dev.jobsvc.client;

import java.util.Optional;

/** A running event stream of one job, resumed by the client when its connection drops. */
public interface Subscription extends AutoCloseable {

  /** The job's id, once the server has sent it (at once when attaching by id). */
  Optional<String> jobId();

  /** The sequence number of the newest event received (0 before the first). */
  long lastSequence();

  /** How often the stream was re-opened after a dropped connection. */
  int reconnects();

  /**
   * Stops the stream: the RPC is cancelled and no resume follows. Idempotent. Once it returns,
   * no callback starts (one already running may finish).
   */
  @Override
  void close();
}
