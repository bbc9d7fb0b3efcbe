package dev.jobsvc.worker;

import dev.jobsvc.client.JobsvcClient;
import dev.jobsvc.v1.HandlerInfo;
import dev.jobsvc.v1.WorkerInfo;
import io.grpc.Channel;
import io.grpc.ChannelCredentials;
import io.grpc.ClientInterceptors;
import io.grpc.Grpc;
import io.grpc.InsecureChannelCredentials;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.TlsChannelCredentials;
import io.grpc.stub.MetadataUtils;
import java.net.InetAddress;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;

/**
 * Configures a {@link JobsvcWorker}: the server (a {@link #target} with the client's connection
 * options, TLS by default, or an existing {@link #channel} or {@link #client}), the worker's
 * identity, concurrency and lease, and its handlers.
 *
 * <pre>{@code
 * JobsvcWorker worker = JobsvcWorker.builder()
 *     .target("jobs.internal:443")               // TLS unless .plaintext() or .credentials(...)
 *     .bearerToken(System.getenv("JOBSVC_TOKEN"))
 *     .workerId("resizer-1").concurrency(32).leaseDuration(Duration.ofSeconds(30))
 *     .handle("resize_image", "1.0.0", job -> resize(job.input()))
 *     .build();
 * }</pre>
 */
public final class JobsvcWorkerBuilder {

  static final Metadata.Key<String> AUTHORIZATION = Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER);

  private String target;
  private Channel channel;
  private ChannelCredentials credentials = TlsChannelCredentials.create();
  private String token;
  private String workerId;
  private int concurrency = 1;
  private Duration leaseDuration;
  private final Map<String, String> labels = new LinkedHashMap<>();
  private Duration shutdownGrace = Duration.ofSeconds(10);
  private Duration minBackoff = Duration.ofMillis(200);
  private Duration maxBackoff = Duration.ofSeconds(10);
  private final Map<String, JobHandler> handlers = new LinkedHashMap<>();
  private final Map<String, HandlerInfo> infos = new LinkedHashMap<>();

  JobsvcWorkerBuilder() {}

  /** The server: {@code host:port} or any gRPC target; the worker makes (and closes) its channel. */
  public JobsvcWorkerBuilder target(String target) {
    this.target = Objects.requireNonNull(target, "target");
    return this;
  }

  /** An existing channel (not closed by the worker), instead of {@link #target}. */
  public JobsvcWorkerBuilder channel(Channel channel) {
    this.channel = Objects.requireNonNull(channel, "channel");
    return this;
  }

  /** The channel of a client, with its TLS and token (not closed by the worker). */
  public JobsvcWorkerBuilder client(JobsvcClient client) {
    return channel(client.channel());
  }

  /** TLS for a {@link #target}, trusting the system's certificate authorities (the default). */
  public JobsvcWorkerBuilder tls() {
    return credentials(TlsChannelCredentials.create());
  }

  /** Channel credentials for a {@link #target}, for example {@code TlsChannelCredentials} with a CA file. */
  public JobsvcWorkerBuilder credentials(ChannelCredentials credentials) {
    this.credentials = Objects.requireNonNull(credentials, "credentials");
    return this;
  }

  /** No TLS for a {@link #target}: a server on this machine or a trusted network. */
  public JobsvcWorkerBuilder plaintext() {
    return credentials(InsecureChannelCredentials.create());
  }

  /** Sends {@code authorization: Bearer <token>} on the stream (it needs the work scope); {@code null} for none. */
  public JobsvcWorkerBuilder bearerToken(String token) {
    this.token = token;
    return this;
  }

  /** Names the worker in the server's logs and events; {@code host:pid} unless set. */
  public JobsvcWorkerBuilder workerId(String workerId) {
    this.workerId = Objects.requireNonNull(workerId, "workerId");
    return this;
  }

  /** How many jobs run at once (1..1000; 1 unless set): the server never assigns more. */
  public JobsvcWorkerBuilder concurrency(int concurrency) {
    if (concurrency < 1 || concurrency > 1000) {
      throw new IllegalArgumentException("concurrency must be 1..1000");
    }
    this.concurrency = concurrency;
    return this;
  }

  /** The lease length asked for (the server bounds it; its default is 30 s). */
  public JobsvcWorkerBuilder leaseDuration(Duration leaseDuration) {
    this.leaseDuration = positive(leaseDuration, "leaseDuration");
    return this;
  }

  /** A label describing the worker. */
  public JobsvcWorkerBuilder label(String key, String value) {
    labels.put(Objects.requireNonNull(key, "key"), Objects.requireNonNull(value, "value"));
    return this;
  }

  /** How long {@link JobsvcWorker#close()} lets running jobs finish; 10 s unless set. */
  public JobsvcWorkerBuilder shutdownGrace(Duration shutdownGrace) {
    Objects.requireNonNull(shutdownGrace, "shutdownGrace");
    if (shutdownGrace.isNegative()) {
      throw new IllegalArgumentException("shutdownGrace must not be negative");
    }
    this.shutdownGrace = shutdownGrace;
    return this;
  }

  /** The wait before re-opening a failed stream: from {@code min}, doubling up to {@code max} (200 ms, 10 s). */
  public JobsvcWorkerBuilder reconnectBackoff(Duration min, Duration max) {
    this.minBackoff = positive(min, "min");
    this.maxBackoff = positive(max, "max");
    if (max.compareTo(min) < 0) {
      throw new IllegalArgumentException("max must not be below min");
    }
    return this;
  }

  /** Serves {@code handler} for one exact version ({@code "1.0.0"}) of {@code name}. */
  public JobsvcWorkerBuilder handle(String name, String version, JobHandler handler) {
    return handle(HandlerInfo.newBuilder().setName(name).setVersion(version).build(), handler);
  }

  /**
   * Serves {@code handler} for the version {@code info} declares, with its schemas, retry policy,
   * timeouts and so on, as the server publishes them.
   */
  public JobsvcWorkerBuilder handle(HandlerInfo info, JobHandler handler) {
    Objects.requireNonNull(handler, "handler");
    if (info.getName().isEmpty() || info.getVersion().isEmpty()) {
      throw new IllegalArgumentException("a handler needs a name and a version");
    }
    String key = key(info.getName(), info.getVersion());
    if (handlers.containsKey(key)) {
      throw new IllegalArgumentException(info.getName() + " " + info.getVersion() + " is handled already");
    }
    handlers.put(key, handler);
    infos.put(key, info.toBuilder().clearOnline().build());
    return this;
  }

  /** The worker, not yet running. */
  public JobsvcWorker build() {
    if (handlers.isEmpty()) {
      throw new IllegalStateException("no handlers: call handle(...)");
    }
    if ((target == null) == (channel == null)) {
      throw new IllegalStateException("set exactly one of target(...), channel(...) or client(...)");
    }
    ManagedChannel owned = null;
    Channel base = channel;
    if (target != null) {
      owned = Grpc.newChannelBuilder(target, credentials).build();
      base = owned;
    }
    if (token != null && !token.isEmpty()) {
      Metadata headers = new Metadata();
      headers.put(AUTHORIZATION, "Bearer " + token);
      base = ClientInterceptors.intercept(base, MetadataUtils.newAttachHeadersInterceptor(headers));
    }
    WorkerInfo.Builder info =
        WorkerInfo.newBuilder()
            .setWorkerId(workerId != null ? workerId : defaultWorkerId())
            .addAllHandlers(infos.values())
            .setConcurrency(concurrency)
            .putAllLabels(labels)
            .setAcceptsBatches(true);
    if (leaseDuration != null) {
      info.setLeaseDuration(
          com.google.protobuf.Duration.newBuilder()
              .setSeconds(leaseDuration.getSeconds())
              .setNanos(leaseDuration.getNano()));
    }
    return new JobsvcWorker(
        base, owned, info.build(), Map.copyOf(handlers), shutdownGrace, minBackoff, maxBackoff);
  }

  static String key(String name, String version) {
    return name + "\u0000" + version;
  }

  private static Duration positive(Duration duration, String name) {
    Objects.requireNonNull(duration, name);
    if (duration.isNegative() || duration.isZero()) {
      throw new IllegalArgumentException(name + " must be positive");
    }
    return duration;
  }

  private static String defaultWorkerId() {
    String host;
    try {
      host = InetAddress.getLocalHost().getHostName();
    } catch (java.io.IOException e) {
      host = "localhost";
    }
    return host + ":" + ProcessHandle.current().pid();
  }
}
