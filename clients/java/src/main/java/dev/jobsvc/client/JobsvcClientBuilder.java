package dev.jobsvc.client;

import io.grpc.ChannelCredentials;
import io.grpc.ClientInterceptor;
import io.grpc.Grpc;
import io.grpc.InsecureChannelCredentials;
import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import io.grpc.Metadata;
import io.grpc.TlsChannelCredentials;
import io.grpc.stub.MetadataUtils;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;

/**
 * Configures a {@link JobsvcClient}: where the server is, how to reach it (TLS by default, or
 * plaintext), the bearer token, the default deadline and the retry policies.
 *
 * <pre>{@code
 * JobsvcClient client = JobsvcClient.builder()
 *     .address("jobs.internal:443")
 *     .tls()
 *     .token(System.getenv("JOBSVC_TOKEN"))
 *     .defaultDeadline(Duration.ofSeconds(10))
 *     .build();
 * }</pre>
 */
public final class JobsvcClientBuilder {

  /** Metadata key of the bearer token. */
  static final Metadata.Key<String> AUTHORIZATION =
      Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER);

  private String address;
  private ChannelCredentials credentials = TlsChannelCredentials.create();
  private String token;
  private Duration defaultDeadline = Duration.ofSeconds(30);
  private RpcRetryPolicy retryPolicy = RpcRetryPolicy.DEFAULT;
  private RpcRetryPolicy streamResumePolicy = RpcRetryPolicy.DEFAULT_STREAM_RESUME;
  private final List<ClientInterceptor> interceptors = new ArrayList<>();

  JobsvcClientBuilder() {}

  /**
   * The server: {@code host:port} (for example {@code 127.0.0.1:50051}) or any gRPC target
   * ({@code dns:///jobs.internal:443}).
   */
  public JobsvcClientBuilder address(String address) {
    this.address = Objects.requireNonNull(address, "address");
    return this;
  }

  /** TLS, trusting the system's certificate authorities (the default). */
  public JobsvcClientBuilder tls() {
    return credentials(TlsChannelCredentials.create());
  }

  /** TLS or other channel credentials, for example {@code TlsChannelCredentials} with a CA file. */
  public JobsvcClientBuilder credentials(ChannelCredentials credentials) {
    this.credentials = Objects.requireNonNull(credentials, "credentials");
    return this;
  }

  /** No TLS: for a server on this machine or a trusted network. */
  public JobsvcClientBuilder plaintext() {
    return credentials(InsecureChannelCredentials.create());
  }

  /** Sends {@code authorization: Bearer <token>} with every RPC; {@code null} for none. */
  public JobsvcClientBuilder token(String token) {
    this.token = token;
    return this;
  }

  /**
   * The deadline of unary RPCs (submit, call, get, list, cancel, handlers) that set none of
   * their own; 30 s unless set, {@code null} for none. Streams have no deadline.
   */
  public JobsvcClientBuilder defaultDeadline(Duration defaultDeadline) {
    if (defaultDeadline != null && (defaultDeadline.isNegative() || defaultDeadline.isZero())) {
      throw new IllegalArgumentException("defaultDeadline must be positive");
    }
    this.defaultDeadline = defaultDeadline;
    return this;
  }

  /**
   * Retries of the read-only RPCs (GetJob, ListJobs, ListHandlers) that fail with UNAVAILABLE,
   * through gRPC's service config; {@link RpcRetryPolicy#DEFAULT} unless set, {@link
   * RpcRetryPolicy#none()} for none. Submit, Call and Cancel are never retried by the client.
   */
  public JobsvcClientBuilder retryPolicy(RpcRetryPolicy retryPolicy) {
    this.retryPolicy = Objects.requireNonNull(retryPolicy, "retryPolicy");
    return this;
  }

  /**
   * How dropped event streams are re-opened: {@link RpcRetryPolicy#maxRetries()} bounds the
   * consecutive failed re-opens; {@link RpcRetryPolicy#DEFAULT_STREAM_RESUME} unless set.
   */
  public JobsvcClientBuilder streamResumePolicy(RpcRetryPolicy streamResumePolicy) {
    this.streamResumePolicy = Objects.requireNonNull(streamResumePolicy, "streamResumePolicy");
    return this;
  }

  /** Adds an interceptor to every RPC (for example tracing); the last added runs first. */
  public JobsvcClientBuilder intercept(ClientInterceptor interceptor) {
    interceptors.add(Objects.requireNonNull(interceptor, "interceptor"));
    return this;
  }

  /** Opens the channel (connecting lazily, on the first RPC). */
  public JobsvcClient build() {
    if (address == null || address.isEmpty()) {
      throw new IllegalStateException("address is required");
    }
    ManagedChannelBuilder<?> channel = Grpc.newChannelBuilder(address, credentials).intercept(interceptors);
    if (token != null && !token.isEmpty()) {
      Metadata headers = new Metadata();
      headers.put(AUTHORIZATION, "Bearer " + token);
      channel.intercept(MetadataUtils.newAttachHeadersInterceptor(headers));
    }
    if (retryPolicy.maxRetries() > 0) {
      channel.defaultServiceConfig(ServiceConfig.retrying(retryPolicy)).enableRetry();
    } else {
      channel.disableRetry();
    }
    ManagedChannel managed = channel.build();
    return new JobsvcClient(managed, defaultDeadline, streamResumePolicy, newScheduler());
  }

  private static ScheduledExecutorService newScheduler() {
    return Executors.newSingleThreadScheduledExecutor(
        task -> {
          Thread thread = new Thread(task, "jobsvc-stream-resume");
          thread.setDaemon(true);
          return thread;
        });
  }
}
