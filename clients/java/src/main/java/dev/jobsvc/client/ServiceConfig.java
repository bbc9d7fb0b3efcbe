package dev.jobsvc.client;

import dev.jobsvc.v1.JobServiceGrpc;
import io.grpc.MethodDescriptor;
import java.time.Duration;
import java.util.List;
import java.util.Map;

/** Builds the gRPC service config (as the map {@code defaultServiceConfig} takes) of a client. */
final class ServiceConfig {

  /** Read-only RPCs: safe to send again after UNAVAILABLE. */
  static final List<MethodDescriptor<?, ?>> IDEMPOTENT_METHODS =
      List.of(
          JobServiceGrpc.getGetJobMethod(),
          JobServiceGrpc.getListJobsMethod(),
          JobServiceGrpc.getListHandlersMethod());

  private ServiceConfig() {}

  /**
   * The service config retrying {@link #IDEMPOTENT_METHODS} on UNAVAILABLE per {@code policy}.
   * Numbers are doubles and durations strings, as gRPC's JSON-shaped config requires.
   */
  static Map<String, ?> retrying(RpcRetryPolicy policy) {
    List<Map<String, String>> names =
        IDEMPOTENT_METHODS.stream()
            .map(
                method ->
                    Map.of(
                        "service", method.getServiceName(),
                        "method", method.getBareMethodName()))
            .toList();
    Map<String, Object> retryPolicy =
        Map.of(
            "maxAttempts", (double) policy.maxAttempts(),
            "initialBackoff", seconds(policy.initialBackoff()),
            "maxBackoff", seconds(policy.maxBackoff()),
            "backoffMultiplier", policy.multiplier(),
            "retryableStatusCodes", List.of("UNAVAILABLE"));
    return Map.of("methodConfig", List.of(Map.of("name", names, "retryPolicy", retryPolicy)));
  }

  /** A duration in the service config's notation, for example {@code 0.100000000s}. */
  static String seconds(Duration duration) {
    return String.format("%d.%09ds", duration.getSeconds(), duration.getNano());
  }
}
