package dev.jobsvc.client;

import dev.jobsvc.v1.JobEvent;
import dev.jobsvc.v1.StreamRequest;
import dev.jobsvc.v1.StreamResponse;
import dev.jobsvc.v1.StreamServiceGrpc;
import io.grpc.CallOptions;
import io.grpc.Channel;
import io.grpc.ClientCall;
import io.grpc.Metadata;
import io.grpc.Status;
import io.grpc.stub.StreamObserver;
import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;

/**
 * One job's event stream that survives dropped connections: after a transport failure (or an
 * end before the terminal event) it re-opens the stream by job id with {@code after_sequence}
 * set to the last sequence received, so the observer sees every event once, in order. Re-opens
 * back off per the policy; the count of consecutive failed re-opens is bounded by it, and
 * resets with each event received.
 */
final class ResumableStream implements Subscription {

  static final Metadata.Key<String> JOB_ID_HEADER =
      Metadata.Key.of("jobsvc-job-id", Metadata.ASCII_STRING_MARSHALLER);

  /** The trailer of a {@code google.rpc.Status}: present when the server answered the error. */
  private static final Metadata.Key<byte[]> STATUS_DETAILS =
      Metadata.Key.of("grpc-status-details-bin", Metadata.BINARY_BYTE_MARSHALLER);

  private final Channel channel;
  private final CallOptions callOptions;
  private final RpcRetryPolicy policy;
  private final ScheduledExecutorService scheduler;
  private final StreamObserver<JobEvent> observer;

  private final Object lock = new Object();
  // Guarded by lock.
  private StreamRequest request;
  private ClientCall<StreamRequest, StreamResponse> call;
  private ScheduledFuture<?> reopen;
  private boolean closed;
  private boolean finished;
  private String jobId;
  private long lastSequence;
  private int failures;
  private int reconnects;

  private ResumableStream(
      Channel channel,
      CallOptions callOptions,
      StreamRequest request,
      RpcRetryPolicy policy,
      ScheduledExecutorService scheduler,
      StreamObserver<JobEvent> observer) {
    this.channel = channel;
    this.callOptions = callOptions;
    this.request = request;
    this.policy = policy;
    this.scheduler = scheduler;
    this.observer = observer;
    if (request.getTargetCase() == StreamRequest.TargetCase.JOB_ID) {
      this.jobId = request.getJobId();
      this.lastSequence = request.getAfterSequence();
    }
  }

  /** Opens the stream; events, the end or the error go to {@code observer}. */
  static ResumableStream start(
      Channel channel,
      CallOptions callOptions,
      StreamRequest request,
      RpcRetryPolicy policy,
      ScheduledExecutorService scheduler,
      StreamObserver<JobEvent> observer) {
    ResumableStream stream = new ResumableStream(channel, callOptions, request, policy, scheduler, observer);
    stream.open();
    return stream;
  }

  @Override
  public Optional<String> jobId() {
    synchronized (lock) {
      return Optional.ofNullable(jobId);
    }
  }

  @Override
  public long lastSequence() {
    synchronized (lock) {
      return lastSequence;
    }
  }

  @Override
  public int reconnects() {
    synchronized (lock) {
      return reconnects;
    }
  }

  @Override
  public void close() {
    ClientCall<StreamRequest, StreamResponse> active;
    synchronized (lock) {
      if (closed) {
        return;
      }
      closed = true;
      active = call;
      call = null;
      if (reopen != null) {
        reopen.cancel(false);
      }
    }
    if (active != null) {
      active.cancel("closed by the client", null);
    }
  }

  private void open() {
    ClientCall<StreamRequest, StreamResponse> attempt =
        channel.newCall(StreamServiceGrpc.getStreamMethod(), callOptions);
    // Under the lock, so that close() cannot cancel the call before it starts. The listener's
    // callbacks run on gRPC's executor, never inline, so they wait for the lock, not deadlock.
    synchronized (lock) {
      if (closed) {
        return;
      }
      call = attempt;
      attempt.start(new Listener(attempt), new Metadata());
      attempt.sendMessage(request);
      attempt.halfClose();
      attempt.request(1);
    }
  }

  /** Callbacks of one attempt; gRPC runs them one at a time. */
  private final class Listener extends ClientCall.Listener<StreamResponse> {
    private final ClientCall<StreamRequest, StreamResponse> attempt;

    Listener(ClientCall<StreamRequest, StreamResponse> attempt) {
      this.attempt = attempt;
    }

    @Override
    public void onHeaders(Metadata headers) {
      String sent = headers.get(JOB_ID_HEADER);
      synchronized (lock) {
        if (sent != null && jobId == null) {
          jobId = sent;
        }
      }
    }

    @Override
    public void onMessage(StreamResponse response) {
      JobEvent event = response.getEvent();
      synchronized (lock) {
        if (closed || call != attempt) {
          return; // closed, or an attempt already given up
        }
        if (jobId != null && event.getSequence() <= lastSequence) {
          attempt.request(1); // a duplicate the server should not have sent
          return;
        }
        jobId = event.getJobId();
        lastSequence = event.getSequence();
        request = StreamRequest.newBuilder().setJobId(jobId).setAfterSequence(lastSequence).build();
        failures = 0;
        finished = isTerminal(event);
      }
      try {
        observer.onNext(event);
      } catch (RuntimeException e) {
        close();
        observer.onError(e);
        return;
      }
      attempt.request(1);
    }

    @Override
    public void onClose(Status status, Metadata trailers) {
      JobsvcException error = null;
      synchronized (lock) {
        if (closed || call != attempt) {
          return;
        }
        call = null;
        if (!finished) {
          if (failures < policy.maxRetries() && resumable(status, trailers) && scheduleReopen()) {
            return;
          }
          Status failure =
              status.isOk()
                  ? Status.UNAVAILABLE.withDescription("the stream ended before the job's terminal event")
                  : status;
          error = JobsvcException.from(failure.asRuntimeException(trailers), jobId);
        }
        closed = true;
      }
      if (error == null) {
        observer.onCompleted();
      } else {
        observer.onError(error);
      }
    }
  }

  /**
   * Whether a stream that ended this way may be re-opened: a transport failure (not an error
   * that jobsvc answered with details), or an end before the terminal event, and a target we
   * can re-open without submitting the job twice.
   */
  private boolean resumable(Status status, Metadata trailers) {
    boolean transientEnd =
        switch (status.getCode()) {
          case OK, UNAVAILABLE, CANCELLED -> true;
          case INTERNAL, UNKNOWN -> !trailers.containsKey(STATUS_DETAILS);
          default -> false;
        };
    if (!transientEnd) {
      return false;
    }
    if (request.getTargetCase() == StreamRequest.TargetCase.SUBMIT) {
      if (jobId != null) { // the server made the job and sent its id: attach to it
        request = StreamRequest.newBuilder().setJobId(jobId).setAfterSequence(lastSequence).build();
        return true;
      }
      // Submitting again is safe only when the idempotency key makes it the same job.
      return !request.getSubmit().getIdempotencyKey().isEmpty();
    }
    return true;
  }

  /** Re-opens the stream after the policy's backoff; false once the client is closed. */
  private boolean scheduleReopen() {
    Duration wait = jittered(policy.backoff(failures + 1));
    try {
      reopen = scheduler.schedule(this::open, wait.toNanos(), TimeUnit.NANOSECONDS);
    } catch (RejectedExecutionException e) {
      return false;
    }
    failures++;
    reconnects++;
    return true;
  }

  static boolean isTerminal(JobEvent event) {
    return switch (event.getKindCase()) {
      case SUCCEEDED, FAILED, CANCELLED -> true;
      default -> false;
    };
  }

  private static Duration jittered(Duration backoff) {
    double factor = 0.8 + 0.4 * ThreadLocalRandom.current().nextDouble();
    return Duration.ofNanos((long) (backoff.toNanos() * factor));
  }
}
