package dev.jobsvc.worker;

import com.google.protobuf.Timestamp;
import dev.jobsvc.client.JobsvcException;
import dev.jobsvc.client.Payloads;
import dev.jobsvc.v1.AckServiceGrpc;
import dev.jobsvc.v1.Assignment;
import dev.jobsvc.v1.HandlerInfo;
import dev.jobsvc.v1.HeartbeatRequest;
import dev.jobsvc.v1.Job;
import dev.jobsvc.v1.LeaseRef;
import dev.jobsvc.v1.ParkRequest;
import dev.jobsvc.v1.Payload;
import dev.jobsvc.v1.ReportProgressRequest;
import dev.jobsvc.v1.WorkRequest;
import dev.jobsvc.v1.WorkResponse;
import dev.jobsvc.v1.WorkerInfo;
import io.grpc.Channel;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.stub.ClientCallStreamObserver;
import io.grpc.stub.StreamObserver;
import java.lang.System.Logger.Level;
import java.time.Duration;
import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.LinkedBlockingDeque;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A remote worker: serves Java handlers to a jobsvc server over one bidirectional {@code
 * AckService.Work} stream per session.
 *
 * <pre>{@code
 * try (JobsvcWorker worker = JobsvcWorker.builder()
 *     .target("127.0.0.1:50051").plaintext()
 *     .concurrency(8)
 *     .handle("resize_image", "1.0.0", job -> Map.of("size", resize(job.input())))
 *     .build()) {
 *   worker.run(); // until close() from another thread, or a refusal
 * }
 * }</pre>
 *
 * <p>The worker says hello (its handlers, concurrency, lease length), runs the jobs the server
 * assigns on a pool of {@code concurrency} threads, heartbeats its leases, and settles each job
 * with an ack (the handler's result) or a nack (what it threw). A settlement the server has not
 * confirmed is sent again after a reconnect (tokens are not tied to a session, and a duplicate
 * changes nothing). When the stream fails the worker reconnects with backoff; jobs keep running
 * meanwhile. It gives up only when the server refuses it (INVALID_ARGUMENT, UNIMPLEMENTED,
 * PERMISSION_DENIED, UNAUTHENTICATED): {@link #run()} throws a {@link JobsvcException}.
 *
 * <p>{@link #close()} drains: the server sends no more jobs, running ones get the shutdown grace
 * to finish and be confirmed, then the stream ends. Handlers still running then are interrupted
 * and their jobs left to the server, which retries them elsewhere.
 */
public final class JobsvcWorker implements AutoCloseable {

  private static final System.Logger LOG = System.getLogger("dev.jobsvc.worker");
  /** How long the worker waits for the server to end a stream it has half-closed. */
  private static final Duration CLOSE_TIMEOUT = Duration.ofSeconds(5);
  /** Wakes the session's sender; never sent. */
  private static final WorkRequest WAKE =
      WorkRequest.newBuilder().setHeartbeat(HeartbeatRequest.newBuilder().setWorkerId("(wake)")).build();

  private final ManagedChannel ownedChannel;
  private final AckServiceGrpc.AckServiceStub stub;
  private final WorkerInfo info;
  private final Map<String, JobHandler> handlers;
  private final Duration shutdownGrace;
  private final Duration minBackoff;
  private final Duration maxBackoff;
  private final ExecutorService executor;

  private final Map<String, RunningJob> running = new ConcurrentHashMap<>();
  /** Settlements sent (or queued) and not yet confirmed by a {@code settled}, oldest first. */
  private final Map<String, WorkRequest> unconfirmed = new LinkedHashMap<>();
  /** Spawn and children requests not answered yet, by request id: sent again on a new stream. */
  private final Map<String, Asked> asking = new ConcurrentHashMap<>();

  private record Asked(WorkRequest request, CompletableFuture<WorkResponse> answer) {}

  /** Guards {@link #unconfirmed} and the requeue of the outbox at a session's start. */
  private final Object lock = new Object();
  /** Messages for the server; it outlives a session, so that what is queued goes on the next. */
  private final LinkedBlockingDeque<WorkRequest> outbox = new LinkedBlockingDeque<>();

  private final AtomicBoolean started = new AtomicBoolean();
  private final CountDownLatch stopRequested = new CountDownLatch(1);
  private final CompletableFuture<Void> done = new CompletableFuture<>();
  private volatile boolean stopping;
  private volatile long stopDeadline;
  private volatile Thread runner;
  private volatile long maxPayloadBytes;
  private final AtomicInteger sessions = new AtomicInteger();
  private final Object connection = new Object();
  private boolean connected; // guarded by connection

  JobsvcWorker(
      Channel channel,
      ManagedChannel ownedChannel,
      WorkerInfo info,
      Map<String, JobHandler> handlers,
      Duration shutdownGrace,
      Duration minBackoff,
      Duration maxBackoff) {
    this.ownedChannel = ownedChannel;
    this.stub = AckServiceGrpc.newStub(channel);
    this.info = info;
    this.handlers = handlers;
    this.shutdownGrace = shutdownGrace;
    this.minBackoff = minBackoff;
    this.maxBackoff = maxBackoff;
    AtomicInteger threads = new AtomicInteger();
    this.executor =
        Executors.newFixedThreadPool(
            info.getConcurrency(),
            task -> {
              Thread thread = new Thread(task, "jobsvc-worker-" + threads.incrementAndGet());
              thread.setDaemon(true);
              return thread;
            });
  }

  /** A builder: a server ({@code target} or {@code channel}) and at least one handler are required. */
  public static JobsvcWorkerBuilder builder() {
    return new JobsvcWorkerBuilder();
  }

  /** What the worker announces in its hello. */
  public WorkerInfo info() {
    return info;
  }

  /** The sessions opened so far (1 plus the reconnects). */
  public int sessions() {
    return sessions.get();
  }

  /**
   * Serves the handlers until {@link #close()} is called (from another thread), reconnecting
   * when the stream fails.
   *
   * @throws JobsvcException when the server refuses the worker (INVALID_ARGUMENT, for example a
   *     bad schema; UNIMPLEMENTED; PERMISSION_DENIED; UNAUTHENTICATED)
   * @throws IllegalStateException when the worker was started already
   */
  public void run() {
    if (!started.compareAndSet(false, true)) {
      throw new IllegalStateException("the worker was started already (or closed)");
    }
    serve();
  }

  private void serve() {
    runner = Thread.currentThread();
    Throwable failure = null;
    try {
      loop();
    } catch (RuntimeException | Error e) {
      failure = e;
      throw e;
    } finally {
      setConnected(false);
      release();
      if (failure == null) {
        done.complete(null);
      } else {
        done.completeExceptionally(failure);
      }
      synchronized (connection) {
        connection.notifyAll(); // awaitConnected: it will not connect now
      }
    }
  }

  /**
   * Runs the worker on a thread of its own; the future completes when it stops (exceptionally
   * with the {@link JobsvcException} of a refusal).
   */
  public CompletableFuture<Void> start() {
    if (!started.compareAndSet(false, true)) {
      throw new IllegalStateException("the worker was started already (or closed)");
    }
    Thread thread =
        new Thread(
            () -> {
              try {
                serve();
              } catch (RuntimeException | Error e) {
                LOG.log(Level.ERROR, "jobsvc worker " + info.getWorkerId() + " stopped: " + e.getMessage(), e);
              }
            },
            "jobsvc-worker-session");
    thread.setDaemon(true);
    runner = thread;
    thread.start();
    return done.copy();
  }

  /**
   * Waits until a session is established (the server's welcome has come: the handlers are
   * registered and jobs may be assigned).
   *
   * @return false when the timeout passed first
   */
  public boolean awaitConnected(Duration timeout) throws InterruptedException {
    long deadline = System.nanoTime() + timeout.toNanos();
    synchronized (connection) {
      while (!connected) {
        long left = deadline - System.nanoTime();
        if (left <= 0 || done.isDone()) {
          return false;
        }
        TimeUnit.NANOSECONDS.timedWait(connection, left);
      }
      return true;
    }
  }

  private void setConnected(boolean value) {
    synchronized (connection) {
      connected = value;
      connection.notifyAll();
    }
  }

  /** Completes when the worker has stopped (exceptionally when the server refused it). */
  public CompletableFuture<Void> stopped() {
    return done.copy();
  }

  /**
   * Graceful stop: asks the server for no more jobs, lets running ones finish and be confirmed
   * within the shutdown grace, then ends the stream and (for a worker that made its channel)
   * closes the channel. Waits for that, unless called from the worker's own thread. Idempotent.
   */
  @Override
  public void close() {
    requestStop();
    if (started.compareAndSet(false, true)) { // never started: nothing runs
      done.complete(null);
      release();
      return;
    }
    if (Thread.currentThread() == runner) {
      return;
    }
    try {
      done.get(shutdownGrace.toMillis() + CLOSE_TIMEOUT.toMillis() * 3, TimeUnit.MILLISECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    } catch (TimeoutException e) {
      LOG.log(Level.WARNING, "jobsvc worker {0} did not stop in time", info.getWorkerId());
    } catch (java.util.concurrent.ExecutionException e) {
      // run() failed: its caller (or start()'s future) has the error
    }
  }

  private void requestStop() {
    synchronized (lock) {
      if (stopping) {
        return;
      }
      stopDeadline = System.nanoTime() + shutdownGrace.toNanos();
      stopping = true;
    }
    outbox.add(WorkRequest.newBuilder().setDrain(WorkRequest.Drain.getDefaultInstance()).build());
    stopRequested.countDown();
  }

  // ---- the session loop

  private void loop() {
    int failures = 0;
    while (true) {
      if (stopping && (idle() || pastStopDeadline())) {
        return;
      }
      Session session = new Session();
      Status status;
      try {
        status = session.run();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        session.cancel("the worker's thread was interrupted");
        return;
      }
      if (session.graceful) {
        return;
      }
      if (permanent(status.getCode())) {
        throw JobsvcException.from(status.asRuntimeException());
      }
      if (session.welcomed) {
        failures = 0;
      }
      failures++;
      Duration delay = backoff(failures);
      LOG.log(
          Level.WARNING,
          "jobsvc worker {0}: the stream ended ({1} {2}); reconnecting in {3} ms",
          info.getWorkerId(),
          status.getCode(),
          status.getDescription(),
          String.valueOf(delay.toMillis()));
      try {
        if (stopping) {
          long left = stopDeadline - System.nanoTime();
          Thread.sleep(Math.max(0, Math.min(delay.toMillis(), TimeUnit.NANOSECONDS.toMillis(left))));
        } else {
          stopRequested.await(delay.toMillis(), TimeUnit.MILLISECONDS);
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        return;
      }
    }
  }

  static boolean permanent(Status.Code code) {
    return switch (code) {
      case INVALID_ARGUMENT, UNIMPLEMENTED, PERMISSION_DENIED, UNAUTHENTICATED -> true;
      default -> false;
    };
  }

  private Duration backoff(int failures) {
    long delay = minBackoff.toNanos();
    for (int i = 1; i < failures && delay < maxBackoff.toNanos(); i++) {
      delay *= 2;
    }
    delay = Math.min(delay, maxBackoff.toNanos());
    return Duration.ofNanos((long) (delay * (0.8 + 0.4 * ThreadLocalRandom.current().nextDouble())));
  }

  private boolean pastStopDeadline() {
    return System.nanoTime() - stopDeadline >= 0;
  }

  /** Nothing running and nothing waiting for the server's confirmation. */
  private boolean idle() {
    synchronized (lock) {
      return running.isEmpty() && unconfirmed.isEmpty();
    }
  }

  /** The handlers still running are interrupted (their jobs are not settled); the channel closes. */
  private void release() {
    for (RunningJob job : running.values()) {
      job.abandon();
    }
    running.clear();
    executor.shutdownNow();
    if (ownedChannel != null) {
      ownedChannel.shutdown();
      try {
        if (!ownedChannel.awaitTermination(CLOSE_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS)) {
          ownedChannel.shutdownNow();
        }
      } catch (InterruptedException e) {
        ownedChannel.shutdownNow();
        Thread.currentThread().interrupt();
      }
    }
  }

  private WorkRequest heartbeat() {
    HeartbeatRequest.Builder heartbeat = HeartbeatRequest.newBuilder().setWorkerId(info.getWorkerId());
    for (RunningJob job : running.values()) {
      heartbeat.addLeases(LeaseRef.newBuilder().setJobId(job.jobId).setAttemptToken(job.token));
    }
    return WorkRequest.newBuilder().setHeartbeat(heartbeat).build();
  }

  /**
   * At a session's start: the unconfirmed settlements that are not queued go first (they were
   * sent on a stream that failed), then what is queued, less heartbeats and drains (the new
   * session makes its own).
   */
  private List<WorkRequest> requeue() {
    synchronized (lock) {
      List<WorkRequest> queued = new ArrayList<>();
      outbox.drainTo(queued);
      Set<WorkRequest> inQueue = java.util.Collections.newSetFromMap(new IdentityHashMap<>());
      inQueue.addAll(queued);
      List<WorkRequest> first = new ArrayList<>();
      for (WorkRequest settlement : unconfirmed.values()) {
        if (!inQueue.contains(settlement)) {
          first.add(settlement);
        }
      }
      for (Asked asked : asking.values()) {
        if (!inQueue.contains(asked.request())) {
          first.add(asked.request());
        }
      }
      for (WorkRequest request : queued) {
        if (request != WAKE && request.getKindCase() != WorkRequest.KindCase.HEARTBEAT
            && request.getKindCase() != WorkRequest.KindCase.DRAIN) {
          first.add(request);
        }
      }
      return first;
    }
  }

  /** One Work stream. */
  private final class Session implements StreamObserver<WorkResponse> {

    private final CompletableFuture<Status> ended = new CompletableFuture<>();
    private ClientCallStreamObserver<WorkRequest> requests;
    private volatile boolean welcomed;
    private volatile boolean batches;
    private volatile long maxMessageBytes;
    // Until the welcome says: a third of the lease asked for (the server's default: 30 s).
    private volatile long heartbeatNanos =
        (info.hasLeaseDuration() ? Math.max(1, info.getLeaseDuration().getSeconds()) : 30) * 1_000_000_000L / 3;
    boolean graceful;

    /** Serves the stream until it ends (its status) or the worker has drained (graceful). */
    Status run() throws InterruptedException {
      sessions.incrementAndGet();
      requests = (ClientCallStreamObserver<WorkRequest>) stub.work(this);
      send(WorkRequest.newBuilder().setHello(info).build());
      if (!running.isEmpty()) {
        send(heartbeat()); // the leases held from an earlier session
      }
      for (WorkRequest request : requeue()) {
        send(request); // singles: this session's welcome has not come yet
      }
      if (stopping) {
        send(WorkRequest.newBuilder().setDrain(WorkRequest.Drain.getDefaultInstance()).build());
      }
      long lastHeartbeat = System.nanoTime();
      List<WorkRequest> ready = new ArrayList<>();
      while (true) {
        if (ended.isDone()) {
          return ended.join();
        }
        if (stopping && (idle() || pastStopDeadline())) {
          return hangUp();
        }
        long now = System.nanoTime();
        long nextHeartbeat = lastHeartbeat + heartbeatNanos; // (the welcome may change the interval)
        if (now - nextHeartbeat >= 0) {
          send(heartbeat());
          lastHeartbeat = now;
          nextHeartbeat = now + heartbeatNanos;
        }
        long wait = Math.min(nextHeartbeat - now, TimeUnit.MILLISECONDS.toNanos(stopping ? 20 : 1000));
        WorkRequest first = outbox.poll(Math.max(0, wait), TimeUnit.NANOSECONDS);
        if (first == null) {
          continue;
        }
        ready.clear();
        ready.add(first);
        outbox.drainTo(ready, WorkBatches.MAX_BATCH - 1);
        ready.removeIf(request -> request == WAKE);
        if (welcomed && batches && maxMessageBytes > 0 && ready.size() > 1) {
          for (WorkRequest request : WorkBatches.combine(ready, maxMessageBytes)) {
            send(request);
          }
        } else {
          for (WorkRequest request : ready) {
            send(request);
          }
        }
      }
    }

    /** Drained (or out of grace): half-close, wait for the server to end the stream, then cancel. */
    private Status hangUp() throws InterruptedException {
      graceful = true;
      if (!idle()) {
        int unsettled;
        synchronized (lock) {
          unsettled = unconfirmed.size();
        }
        LOG.log(
            Level.WARNING,
            "jobsvc worker {0} stopping with {1} job(s) running and {2} settlement(s) unconfirmed;"
                + " the server retries the jobs whose attempts it has not settled",
            info.getWorkerId(),
            String.valueOf(running.size()),
            String.valueOf(unsettled));
      }
      synchronized (this) {
        try {
          requests.onCompleted();
        } catch (RuntimeException e) {
          // the call has ended already
        }
      }
      try {
        return ended.get(CLOSE_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
      } catch (TimeoutException | java.util.concurrent.ExecutionException e) {
        cancel("the worker stopped");
        return Status.CANCELLED;
      }
    }

    synchronized void cancel(String why) {
      if (requests != null) {
        requests.cancel(why, null);
      }
    }

    private synchronized void send(WorkRequest request) {
      if (request == WAKE || ended.isDone()) {
        return; // what was not sent: a settlement is still unconfirmed, and goes on the next stream
      }
      try {
        requests.onNext(request);
      } catch (RuntimeException e) {
        LOG.log(Level.DEBUG, "jobsvc worker: a send failed: {0}", e.toString());
      }
    }

    @Override
    public void onNext(WorkResponse response) {
      switch (response.getKindCase()) {
        case WELCOME -> {
          WorkResponse.Welcome welcome = response.getWelcome();
          long interval =
              welcome.getHeartbeatInterval().getSeconds() * 1_000_000_000L + welcome.getHeartbeatInterval().getNanos();
          if (interval > 0) {
            heartbeatNanos = interval;
          }
          maxPayloadBytes = welcome.getMaxPayloadBytes();
          maxMessageBytes = welcome.getMaxMessageBytes();
          batches = welcome.getAcceptsBatches();
          welcomed = true;
          setConnected(true);
          outbox.add(WAKE); // the sender: batches from now on, and the welcome's heartbeat interval
          LOG.log(Level.DEBUG, "jobsvc worker {0}: session {1}", info.getWorkerId(), welcome.getSessionId());
        }
        case ASSIGNMENT -> startJob(response.getAssignment());
        case ASSIGNMENTS -> response.getAssignments().getItemsList().forEach(JobsvcWorker.this::startJob);
        case CANCEL -> cancelJob(response.getCancel());
        case SETTLED -> settled(response.getSettled());
        case SETTLED_BATCH -> response.getSettledBatch().getItemsList().forEach(JobsvcWorker.this::settled);
        case SPAWNED -> answered(response.getSpawned().getRequestId(), response);
        case CHILDREN -> answered(response.getChildren().getRequestId(), response);
        default -> LOG.log(Level.DEBUG, "jobsvc worker: ignoring a {0} message", response.getKindCase());
      }
    }

    @Override
    public void onError(Throwable error) {
      setConnected(false);
      ended.complete(Status.fromThrowable(error));
      outbox.add(WAKE);
    }

    @Override
    public void onCompleted() {
      setConnected(false);
      ended.complete(Status.UNAVAILABLE.withDescription("the server ended the session"));
      outbox.add(WAKE);
    }
  }

  // ---- jobs

  /** An assigned attempt the worker holds until it settles it (or the server takes it back). */
  static final class RunningJob {
    final String jobId;
    final String token;
    private volatile boolean abandoned;
    private Future<?> future;

    RunningJob(String jobId, String token) {
      this.jobId = jobId;
      this.token = token;
    }

    boolean abandoned() {
      return abandoned;
    }

    synchronized void started(Future<?> future) {
      this.future = future;
      if (abandoned) {
        future.cancel(true);
      }
    }

    /** Stop it: the handler is interrupted and its outcome not reported. */
    synchronized void abandon() {
      abandoned = true;
      if (future != null) {
        future.cancel(true);
      }
    }
  }

  private void startJob(Assignment assignment) {
    Job job = assignment.getJob();
    RunningJob runningJob = new RunningJob(job.getId(), assignment.getAttemptToken());
    JobHandler handler = handlers.get(JobsvcWorkerBuilder.key(job.getHandler(), job.getVersion()));
    if (handler == null) { // the server assigns only what was announced
      String message = "worker " + info.getWorkerId() + " does not serve " + job.getHandler() + " " + job.getVersion();
      settle(runningJob, Settlements.nack(runningJob.jobId, runningJob.token,
          Settlements.error("jobsvc.HandlerNotServed", message, job.getAttempt(), false)));
      return;
    }
    RunningJob previous = running.put(job.getId(), runningJob);
    if (previous != null) { // an older attempt was rescued while it still ran here
      previous.abandon();
    }
    JobContext context = new JobContext(assignment, runningJob, this);
    runningJob.started(executor.submit(() -> execute(runningJob, handler, context)));
  }

  private void execute(RunningJob job, JobHandler handler, JobContext context) {
    try {
      if (job.abandoned()) {
        return;
      }
      WorkRequest settlement;
      try {
        Object result = handler.handle(context);
        settlement = ack(job, context.attempt(), result);
      } catch (Parked parked) { // waitFor or sleep: the attempt ends parked, the job runs again later
        settlement = park(job, parked);
      } catch (Throwable thrown) {
        if (thrown instanceof VirtualMachineError error && !(thrown instanceof StackOverflowError)) {
          throw error;
        }
        settlement = Settlements.nack(job.jobId, job.token, Settlements.error(thrown, context.attempt()));
      }
      if (!job.abandoned()) {
        settle(job, settlement);
      }
    } finally {
      // Unconfirmed before no longer running: the worker never looks idle in between.
      running.remove(job.jobId, job);
    }
  }

  private WorkRequest ack(RunningJob job, int attempt, Object result) {
    Payload payload;
    try {
      payload = Payloads.toPayload(result);
    } catch (RuntimeException e) {
      return Settlements.nack(job.jobId, job.token, Settlements.error(
          "jobsvc.EncodeError", "the result has no payload encoding: " + e.getMessage(), attempt, true));
    }
    long limit = maxPayloadBytes;
    if (limit > 0 && payload.getSerializedSize() > limit) {
      return Settlements.nack(job.jobId, job.token, Settlements.error(
          "jobsvc.ResultTooLarge",
          "result of " + payload.getSerializedSize() + " bytes is over the server's limit of " + limit,
          attempt,
          true));
    }
    return Settlements.ack(job.jobId, job.token, payload);
  }

  private static WorkRequest park(RunningJob job, Parked parked) {
    ParkRequest.Builder park = ParkRequest.newBuilder()
        .setJobId(job.jobId)
        .setAttemptToken(job.token)
        .addAllChildJobIds(parked.childJobIds())
        .setSleepKey(parked.sleepKey());
    if (parked.until() != null) {
      park.setUntil(Timestamp.newBuilder()
          .setSeconds(parked.until().getEpochSecond())
          .setNanos(parked.until().getNano()));
    }
    return WorkRequest.newBuilder().setPark(park).build();
  }

  /** Sends a request the server answers by request id (spawn, children) and waits for the answer. */
  WorkResponse ask(String requestId, WorkRequest request) {
    Asked asked = new Asked(request, new CompletableFuture<>());
    asking.put(requestId, asked);
    try {
      outbox.add(request);
      return asked.answer().get();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted while waiting for the server", e);
    } catch (java.util.concurrent.ExecutionException e) {
      throw new IllegalStateException(e.getCause());
    } finally {
      asking.remove(requestId);
    }
  }

  private void answered(String requestId, WorkResponse response) {
    Asked asked = asking.get(requestId);
    if (asked != null) {
      asked.answer().complete(response);
    }
  }

  private void settle(RunningJob job, WorkRequest settlement) {
    synchronized (lock) {
      unconfirmed.put(key(job.jobId, job.token), settlement);
      outbox.add(settlement);
    }
  }

  private void cancelJob(WorkResponse.Cancel cancel) {
    RunningJob job = running.get(cancel.getJobId());
    if (job != null && (cancel.getAttemptToken().isEmpty() || cancel.getAttemptToken().equals(job.token))) {
      LOG.log(Level.DEBUG, "jobsvc worker: job {0} stopped by the server: {1}", job.jobId, cancel.getReason());
      running.remove(job.jobId, job);
      job.abandon();
    }
  }

  private void settled(WorkResponse.Settled settled) {
    synchronized (lock) {
      unconfirmed.remove(key(settled.getJobId(), settled.getAttemptToken()));
    }
    if (settled.getCode() != 0) {
      LOG.log(
          Level.WARNING,
          "jobsvc worker: the server refused a report about job {0}: code {1} {2} {3}",
          settled.getJobId(),
          String.valueOf(settled.getCode()),
          settled.getReason(),
          settled.getMessage());
    }
  }

  void report(ReportProgressRequest request) {
    outbox.add(WorkRequest.newBuilder().setProgress(request).build());
  }

  long maxPayloadBytes() {
    return maxPayloadBytes;
  }

  private static String key(String jobId, String token) {
    return jobId + "\u0000" + token;
  }

  /** The handlers announced, as the server sees them. */
  public List<HandlerInfo> handlers() {
    return info.getHandlersList();
  }
}
