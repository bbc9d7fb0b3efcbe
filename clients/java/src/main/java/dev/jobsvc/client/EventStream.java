package dev.jobsvc.client;

import dev.jobsvc.v1.JobEvent;
import io.grpc.Status;
import io.grpc.stub.StreamObserver;
import java.util.Iterator;
import java.util.NoSuchElementException;
import java.util.Optional;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.function.Function;

/**
 * A job's events as a blocking {@link Iterator}, ending after the terminal event (succeeded,
 * failed or cancelled), or at once with no event when resumed at a finished job's last
 * sequence. A dropped connection is resumed where it stopped: no gap, no duplicate. {@link
 * #hasNext()} blocks until the next event arrives and throws a {@link JobsvcException} when the
 * stream fails for good. Close it (try-with-resources) to stop early; it closes itself at the
 * end.
 *
 * <pre>{@code
 * try (EventStream events = client.stream(jobId, 0)) {
 *   events.forEachRemaining(event -> System.out.println(event.getKindCase()));
 * }
 * }</pre>
 *
 * <p>Events are buffered as they arrive: a consumer that falls behind costs memory, not
 * server-side flow control. Not thread-safe: iterate from one thread (close from any).
 */
public final class EventStream implements Iterator<JobEvent>, Subscription {

  private static final Object END = new Object();

  private final BlockingQueue<Object> queue = new LinkedBlockingQueue<>();
  private final Subscription subscription;
  private JobEvent next;
  private boolean done;

  /** Starts {@code opener}'s subscription, feeding this iterator. */
  EventStream(Function<StreamObserver<JobEvent>, Subscription> opener) {
    this.subscription = opener.apply(new Feed());
  }

  @Override
  public boolean hasNext() {
    if (next != null) {
      return true;
    }
    if (done) {
      return false;
    }
    Object item;
    try {
      item = queue.take();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      close();
      throw JobsvcException.from(
          Status.CANCELLED.withDescription("interrupted while waiting for an event").withCause(e).asRuntimeException(),
          jobId().orElse(null));
    }
    if (item instanceof JobEvent event) {
      next = event;
      return true;
    }
    done = true;
    if (item instanceof RuntimeException error) {
      throw error;
    }
    return false;
  }

  @Override
  public JobEvent next() {
    if (!hasNext()) {
      throw new NoSuchElementException("the job's event stream has ended");
    }
    JobEvent event = next;
    next = null;
    return event;
  }

  @Override
  public Optional<String> jobId() {
    return subscription.jobId();
  }

  @Override
  public long lastSequence() {
    return subscription.lastSequence();
  }

  @Override
  public int reconnects() {
    return subscription.reconnects();
  }

  /** Stops the stream; {@link #hasNext()} then returns the events already received, then false. */
  @Override
  public void close() {
    subscription.close();
    queue.add(END);
  }

  /** Moves the stream's callbacks into the queue. */
  private final class Feed implements StreamObserver<JobEvent> {
    @Override
    public void onNext(JobEvent event) {
      queue.add(event);
    }

    @Override
    public void onError(Throwable error) {
      queue.add(error instanceof RuntimeException runtime ? runtime : JobsvcException.from(error));
    }

    @Override
    public void onCompleted() {
      queue.add(END);
    }
  }
}
