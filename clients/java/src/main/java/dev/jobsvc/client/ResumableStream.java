package dev.jobsvc.client;

import dev.jobsvc.v1.GetJobRequest;
import dev.jobsvc.v1.GetJobResponse;
import dev.jobsvc.v1.Job;
import dev.jobsvc.v1.JobEvent;
import dev.jobsvc.v1.JobServiceGrpc;
import dev.jobsvc.v1.JobView;
import dev.jobsvc.v1.StreamRequest;
import dev.jobsvc.v1.StreamResponse;
import dev.jobsvc.v1.StreamServiceGrpc;
import io.grpc.CallOptions;
import io.grpc.Channel;
import io.grpc.ClientCall;
import io.grpc.Metadata;
import io.grpc.Status;
import io.grpc.stub.ClientCalls;
import io.grpc.stub.StreamObserver;
import java.time.Duration;
import java.util.List;
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
 *
 * <p>A stream that ends OK before the terminal event is either over (the job is finished and
 * its last sequence is the last one received, or the {@code after_sequence} the caller resumed
 * from) or cut short by a server shutting down. One GetJob (BASIC view) tells: the stream
 * completes in the first case, and is re-opened in the second, or when that GetJob fails.
 *
 * <p>Every request asks for {@link #EVENTS_PER_MESSAGE} events per response; they are handed
 * to the observer one by one.
 */
final class ResumableStream implements Subscription {

  static final Metadata.Key<String> JOB_ID_HEADER =
      Metadata.Key.of("jobsvc-job-id", Metadata.ASCII_STRING_MARSHALLER);

  /**
   * Events per StreamResponse every request asks for (the server's cap): a fast job's stream is
   * limited by the cost of each gRPC message, not of each event. The server never holds an event
   * back to fill a batch.
   */
  static final int EVENTS_PER_MESSAGE = 1000;

  /** The trailer of a {@code google.rpc.Status}: present when the server answered the error. */
  private static final Metadata.Key<byte[]> STATUS_DETAILS =
      Metadata.Key.of("grpc-status-details-bin", Metadata.BINARY_BYTE_MARSHALLER);

  private final Channel channel;
  private final CallOptions callOptions;
  private final Duration lookupDeadline;
  private final RpcRetryPolicy policy;
  private final ScheduledExecutorService scheduler;
  private final StreamObserver<JobEvent> observer;

  private final Object lock = new Object();
  // Guarded by lock.
  private StreamRequest request;
  private ClientCall<StreamRequest, StreamResponse> call;
  private ClientCall<GetJobRequest, GetJobResponse> lookup;
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
      Duration lookupDeadline,
      StreamRequest request,
      RpcRetryPolicy policy,
      ScheduledExecutorService scheduler,
      StreamObserver<JobEvent> observer) {
    this.channel = channel;
    this.callOptions = callOptions;
    this.lookupDeadline = lookupDeadline;
    this.request = request.toBuilder().setMaxEventsPerMessage(EVENTS_PER_MESSAGE).build();
    this.policy = policy;
    this.scheduler = scheduler;
    this.observer = observer;
    if (request.getTargetCase() == StreamRequest.TargetCase.JOB_ID) {
      this.jobId = request.getJobId();
      this.lastSequence = request.getAfterSequence();
    }
  }

  /**
   * Opens the stream; events, the end or the error go to {@code observer}. {@code lookupDeadline}
   * bounds the GetJob after an early end (null: none).
   */
  static ResumableStream start(
      Channel channel,
      CallOptions callOptions,
      Duration lookupDeadline,
      StreamRequest request,
      RpcRetryPolicy policy,
      ScheduledExecutorService scheduler,
      StreamObserver<JobEvent> observer) {
    ResumableStream stream =
        new ResumableStream(channel, callOptions, lookupDeadline, request, policy, scheduler, observer);
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
    ClientCall<GetJobRequest, GetJobResponse> checking;
    synchronized (lock) {
      if (closed) {
        return;
      }
      closed = true;
      active = call;
      call = null;
      checking = lookup;
      lookup = null;
      if (reopen != null) {
        reopen.cancel(false);
      }
    }
    if (active != null) {
      active.cancel("closed by the client", null);
    }
    if (checking != null) {
      checking.cancel("closed by the client", null);
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
      // A batch, or the single event of a server older than max_events_per_message. gRPC runs
      // onClose only after this returns, so a dropped connection's resume follows the batch.
      List<JobEvent> events =
          response.getEventsCount() > 0 ? response.getEventsList() : List.of(response.getEvent());
      for (JobEvent event : events) {
        if (!deliver(event)) {
          return;
        }
      }
      attempt.request(1);
    }

    /** Hands one event to the observer; false once this attempt is over (closed or given up). */
    private boolean deliver(JobEvent event) {
      synchronized (lock) {
        if (closed || call != attempt) {
          return false; // closed, or an attempt already given up
        }
        if (jobId != null && event.getSequence() <= lastSequence) {
          return true; // a duplicate the server should not have sent
        }
        jobId = event.getJobId();
        lastSequence = event.getSequence();
        request = resumeRequest();
        failures = 0;
        finished = isTerminal(event);
      }
      try {
        observer.onNext(event);
      } catch (RuntimeException e) {
        close();
        observer.onError(e);
        return false;
      }
      return true;
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
          if (status.isOk() && jobId != null) {
            checkJob(); // over, or a server shutting down: GetJob tells (see onChecked)
            return;
          }
          if (reopenAfter(status, trailers)) {
            return;
          }
          error = failure(status, trailers);
        }
        closed = true;
      }
      end(error);
    }
  }

  /**
   * Asks GetJob (BASIC view) about the job after its stream ended OK before the terminal event;
   * the answer goes to {@link #onChecked}. Called under the lock; the call's callbacks run on
   * gRPC's executor, never inline.
   */
  private void checkJob() {
    CallOptions options =
        lookupDeadline == null
            ? callOptions
            : callOptions.withDeadlineAfter(lookupDeadline.toNanos(), TimeUnit.NANOSECONDS);
    ClientCall<GetJobRequest, GetJobResponse> check = channel.newCall(JobServiceGrpc.getGetJobMethod(), options);
    lookup = check;
    GetJobRequest request = GetJobRequest.newBuilder().setId(jobId).setView(JobView.JOB_VIEW_BASIC).build();
    ClientCalls.asyncUnaryCall(
        check,
        request,
        new StreamObserver<>() {
          private Job job;

          @Override
          public void onNext(GetJobResponse response) {
            job = response.getJob();
          }

          @Override
          public void onError(Throwable error) {
            onChecked(check, null);
          }

          @Override
          public void onCompleted() {
            onChecked(check, job);
          }
        });
  }

  /**
   * Ends the stream when the job is finished with no event after the last one received, else
   * (a running job, or {@code job} null: the GetJob failed) re-opens it as after a dropped
   * connection.
   */
  private void onChecked(ClientCall<GetJobRequest, GetJobResponse> check, Job job) {
    JobsvcException error = null;
    synchronized (lock) {
      if (closed || lookup != check) {
        return;
      }
      lookup = null;
      boolean over = job != null && isFinished(job) && lastSequence >= job.getLastSequence();
      if (!over) {
        if (reopenAfter(Status.OK, new Metadata())) {
          return;
        }
        error = failure(Status.OK, new Metadata());
      }
      closed = true;
    }
    end(error);
  }

  /** Schedules a re-open when the policy and the way the stream ended allow one. Under the lock. */
  private boolean reopenAfter(Status status, Metadata trailers) {
    return failures < policy.maxRetries() && resumable(status, trailers) && scheduleReopen();
  }

  /** The error a stream that ended this way, and is not re-opened, fails with. */
  private JobsvcException failure(Status status, Metadata trailers) {
    Status failure =
        status.isOk()
            ? Status.UNAVAILABLE.withDescription("the stream ended before the job's terminal event")
            : status;
    return JobsvcException.from(failure.asRuntimeException(trailers), jobId);
  }

  /** Tells the observer the stream is over: completed when {@code error} is null. */
  private void end(JobsvcException error) {
    if (error == null) {
      observer.onCompleted();
    } else {
      observer.onError(error);
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
        request = resumeRequest();
        return true;
      }
      // Submitting again is safe only when the idempotency key makes it the same job.
      return !request.getSubmit().getIdempotencyKey().isEmpty();
    }
    return true;
  }

  /** The request that resumes the job's stream after the last event received. Under the lock. */
  private StreamRequest resumeRequest() {
    return StreamRequest.newBuilder()
        .setJobId(jobId)
        .setAfterSequence(lastSequence)
        .setMaxEventsPerMessage(EVENTS_PER_MESSAGE)
        .build();
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

  static boolean isFinished(Job job) {
    return switch (job.getState()) {
      case JOB_STATE_SUCCEEDED, JOB_STATE_FAILED, JOB_STATE_CANCELLED -> true;
      default -> false;
    };
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
