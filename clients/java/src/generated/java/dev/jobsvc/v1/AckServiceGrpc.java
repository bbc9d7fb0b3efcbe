package dev.jobsvc.v1;

import static io.grpc.MethodDescriptor.generateFullMethodName;

/**
 * <pre>
 * Remote workers, in any language, lease jobs and settle them.
 * Every assignment carries an attempt token and a lease deadline. Any message about
 * a job (heartbeat, progress, ack, nack, reject) must carry the token of the current
 * attempt; a stale token is refused with FAILED_PRECONDITION (reason STALE_ATTEMPT)
 * and changes nothing.
 * </pre>
 */
@io.grpc.stub.annotations.GrpcGenerated
public final class AckServiceGrpc {

  private AckServiceGrpc() {}

  public static final java.lang.String SERVICE_NAME = "jobsvc.v1.AckService";

  // Static method descriptors that strictly reflect the proto.
  private static volatile io.grpc.MethodDescriptor<dev.jobsvc.v1.WorkRequest,
      dev.jobsvc.v1.WorkResponse> getWorkMethod;

  @io.grpc.stub.annotations.RpcMethod(
      fullMethodName = SERVICE_NAME + '/' + "Work",
      requestType = dev.jobsvc.v1.WorkRequest.class,
      responseType = dev.jobsvc.v1.WorkResponse.class,
      methodType = io.grpc.MethodDescriptor.MethodType.BIDI_STREAMING)
  public static io.grpc.MethodDescriptor<dev.jobsvc.v1.WorkRequest,
      dev.jobsvc.v1.WorkResponse> getWorkMethod() {
    io.grpc.MethodDescriptor<dev.jobsvc.v1.WorkRequest, dev.jobsvc.v1.WorkResponse> getWorkMethod;
    if ((getWorkMethod = AckServiceGrpc.getWorkMethod) == null) {
      synchronized (AckServiceGrpc.class) {
        if ((getWorkMethod = AckServiceGrpc.getWorkMethod) == null) {
          AckServiceGrpc.getWorkMethod = getWorkMethod =
              io.grpc.MethodDescriptor.<dev.jobsvc.v1.WorkRequest, dev.jobsvc.v1.WorkResponse>newBuilder()
              .setType(io.grpc.MethodDescriptor.MethodType.BIDI_STREAMING)
              .setFullMethodName(generateFullMethodName(SERVICE_NAME, "Work"))
              .setSampledToLocalTracing(true)
              .setRequestMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.jobsvc.v1.WorkRequest.getDefaultInstance()))
              .setResponseMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.jobsvc.v1.WorkResponse.getDefaultInstance()))
              .setSchemaDescriptor(new AckServiceMethodDescriptorSupplier("Work"))
              .build();
        }
      }
    }
    return getWorkMethod;
  }

  private static volatile io.grpc.MethodDescriptor<dev.jobsvc.v1.LeaseRequest,
      dev.jobsvc.v1.LeaseResponse> getLeaseMethod;

  @io.grpc.stub.annotations.RpcMethod(
      fullMethodName = SERVICE_NAME + '/' + "Lease",
      requestType = dev.jobsvc.v1.LeaseRequest.class,
      responseType = dev.jobsvc.v1.LeaseResponse.class,
      methodType = io.grpc.MethodDescriptor.MethodType.UNARY)
  public static io.grpc.MethodDescriptor<dev.jobsvc.v1.LeaseRequest,
      dev.jobsvc.v1.LeaseResponse> getLeaseMethod() {
    io.grpc.MethodDescriptor<dev.jobsvc.v1.LeaseRequest, dev.jobsvc.v1.LeaseResponse> getLeaseMethod;
    if ((getLeaseMethod = AckServiceGrpc.getLeaseMethod) == null) {
      synchronized (AckServiceGrpc.class) {
        if ((getLeaseMethod = AckServiceGrpc.getLeaseMethod) == null) {
          AckServiceGrpc.getLeaseMethod = getLeaseMethod =
              io.grpc.MethodDescriptor.<dev.jobsvc.v1.LeaseRequest, dev.jobsvc.v1.LeaseResponse>newBuilder()
              .setType(io.grpc.MethodDescriptor.MethodType.UNARY)
              .setFullMethodName(generateFullMethodName(SERVICE_NAME, "Lease"))
              .setSampledToLocalTracing(true)
              .setRequestMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.jobsvc.v1.LeaseRequest.getDefaultInstance()))
              .setResponseMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.jobsvc.v1.LeaseResponse.getDefaultInstance()))
              .setSchemaDescriptor(new AckServiceMethodDescriptorSupplier("Lease"))
              .build();
        }
      }
    }
    return getLeaseMethod;
  }

  private static volatile io.grpc.MethodDescriptor<dev.jobsvc.v1.HeartbeatRequest,
      dev.jobsvc.v1.HeartbeatResponse> getHeartbeatMethod;

  @io.grpc.stub.annotations.RpcMethod(
      fullMethodName = SERVICE_NAME + '/' + "Heartbeat",
      requestType = dev.jobsvc.v1.HeartbeatRequest.class,
      responseType = dev.jobsvc.v1.HeartbeatResponse.class,
      methodType = io.grpc.MethodDescriptor.MethodType.UNARY)
  public static io.grpc.MethodDescriptor<dev.jobsvc.v1.HeartbeatRequest,
      dev.jobsvc.v1.HeartbeatResponse> getHeartbeatMethod() {
    io.grpc.MethodDescriptor<dev.jobsvc.v1.HeartbeatRequest, dev.jobsvc.v1.HeartbeatResponse> getHeartbeatMethod;
    if ((getHeartbeatMethod = AckServiceGrpc.getHeartbeatMethod) == null) {
      synchronized (AckServiceGrpc.class) {
        if ((getHeartbeatMethod = AckServiceGrpc.getHeartbeatMethod) == null) {
          AckServiceGrpc.getHeartbeatMethod = getHeartbeatMethod =
              io.grpc.MethodDescriptor.<dev.jobsvc.v1.HeartbeatRequest, dev.jobsvc.v1.HeartbeatResponse>newBuilder()
              .setType(io.grpc.MethodDescriptor.MethodType.UNARY)
              .setFullMethodName(generateFullMethodName(SERVICE_NAME, "Heartbeat"))
              .setSampledToLocalTracing(true)
              .setRequestMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.jobsvc.v1.HeartbeatRequest.getDefaultInstance()))
              .setResponseMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.jobsvc.v1.HeartbeatResponse.getDefaultInstance()))
              .setSchemaDescriptor(new AckServiceMethodDescriptorSupplier("Heartbeat"))
              .build();
        }
      }
    }
    return getHeartbeatMethod;
  }

  private static volatile io.grpc.MethodDescriptor<dev.jobsvc.v1.ReportProgressRequest,
      dev.jobsvc.v1.ReportProgressResponse> getReportProgressMethod;

  @io.grpc.stub.annotations.RpcMethod(
      fullMethodName = SERVICE_NAME + '/' + "ReportProgress",
      requestType = dev.jobsvc.v1.ReportProgressRequest.class,
      responseType = dev.jobsvc.v1.ReportProgressResponse.class,
      methodType = io.grpc.MethodDescriptor.MethodType.UNARY)
  public static io.grpc.MethodDescriptor<dev.jobsvc.v1.ReportProgressRequest,
      dev.jobsvc.v1.ReportProgressResponse> getReportProgressMethod() {
    io.grpc.MethodDescriptor<dev.jobsvc.v1.ReportProgressRequest, dev.jobsvc.v1.ReportProgressResponse> getReportProgressMethod;
    if ((getReportProgressMethod = AckServiceGrpc.getReportProgressMethod) == null) {
      synchronized (AckServiceGrpc.class) {
        if ((getReportProgressMethod = AckServiceGrpc.getReportProgressMethod) == null) {
          AckServiceGrpc.getReportProgressMethod = getReportProgressMethod =
              io.grpc.MethodDescriptor.<dev.jobsvc.v1.ReportProgressRequest, dev.jobsvc.v1.ReportProgressResponse>newBuilder()
              .setType(io.grpc.MethodDescriptor.MethodType.UNARY)
              .setFullMethodName(generateFullMethodName(SERVICE_NAME, "ReportProgress"))
              .setSampledToLocalTracing(true)
              .setRequestMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.jobsvc.v1.ReportProgressRequest.getDefaultInstance()))
              .setResponseMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.jobsvc.v1.ReportProgressResponse.getDefaultInstance()))
              .setSchemaDescriptor(new AckServiceMethodDescriptorSupplier("ReportProgress"))
              .build();
        }
      }
    }
    return getReportProgressMethod;
  }

  private static volatile io.grpc.MethodDescriptor<dev.jobsvc.v1.AckRequest,
      dev.jobsvc.v1.AckResponse> getAckMethod;

  @io.grpc.stub.annotations.RpcMethod(
      fullMethodName = SERVICE_NAME + '/' + "Ack",
      requestType = dev.jobsvc.v1.AckRequest.class,
      responseType = dev.jobsvc.v1.AckResponse.class,
      methodType = io.grpc.MethodDescriptor.MethodType.UNARY)
  public static io.grpc.MethodDescriptor<dev.jobsvc.v1.AckRequest,
      dev.jobsvc.v1.AckResponse> getAckMethod() {
    io.grpc.MethodDescriptor<dev.jobsvc.v1.AckRequest, dev.jobsvc.v1.AckResponse> getAckMethod;
    if ((getAckMethod = AckServiceGrpc.getAckMethod) == null) {
      synchronized (AckServiceGrpc.class) {
        if ((getAckMethod = AckServiceGrpc.getAckMethod) == null) {
          AckServiceGrpc.getAckMethod = getAckMethod =
              io.grpc.MethodDescriptor.<dev.jobsvc.v1.AckRequest, dev.jobsvc.v1.AckResponse>newBuilder()
              .setType(io.grpc.MethodDescriptor.MethodType.UNARY)
              .setFullMethodName(generateFullMethodName(SERVICE_NAME, "Ack"))
              .setSampledToLocalTracing(true)
              .setRequestMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.jobsvc.v1.AckRequest.getDefaultInstance()))
              .setResponseMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.jobsvc.v1.AckResponse.getDefaultInstance()))
              .setSchemaDescriptor(new AckServiceMethodDescriptorSupplier("Ack"))
              .build();
        }
      }
    }
    return getAckMethod;
  }

  private static volatile io.grpc.MethodDescriptor<dev.jobsvc.v1.NackRequest,
      dev.jobsvc.v1.NackResponse> getNackMethod;

  @io.grpc.stub.annotations.RpcMethod(
      fullMethodName = SERVICE_NAME + '/' + "Nack",
      requestType = dev.jobsvc.v1.NackRequest.class,
      responseType = dev.jobsvc.v1.NackResponse.class,
      methodType = io.grpc.MethodDescriptor.MethodType.UNARY)
  public static io.grpc.MethodDescriptor<dev.jobsvc.v1.NackRequest,
      dev.jobsvc.v1.NackResponse> getNackMethod() {
    io.grpc.MethodDescriptor<dev.jobsvc.v1.NackRequest, dev.jobsvc.v1.NackResponse> getNackMethod;
    if ((getNackMethod = AckServiceGrpc.getNackMethod) == null) {
      synchronized (AckServiceGrpc.class) {
        if ((getNackMethod = AckServiceGrpc.getNackMethod) == null) {
          AckServiceGrpc.getNackMethod = getNackMethod =
              io.grpc.MethodDescriptor.<dev.jobsvc.v1.NackRequest, dev.jobsvc.v1.NackResponse>newBuilder()
              .setType(io.grpc.MethodDescriptor.MethodType.UNARY)
              .setFullMethodName(generateFullMethodName(SERVICE_NAME, "Nack"))
              .setSampledToLocalTracing(true)
              .setRequestMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.jobsvc.v1.NackRequest.getDefaultInstance()))
              .setResponseMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.jobsvc.v1.NackResponse.getDefaultInstance()))
              .setSchemaDescriptor(new AckServiceMethodDescriptorSupplier("Nack"))
              .build();
        }
      }
    }
    return getNackMethod;
  }

  private static volatile io.grpc.MethodDescriptor<dev.jobsvc.v1.RejectRequest,
      dev.jobsvc.v1.RejectResponse> getRejectMethod;

  @io.grpc.stub.annotations.RpcMethod(
      fullMethodName = SERVICE_NAME + '/' + "Reject",
      requestType = dev.jobsvc.v1.RejectRequest.class,
      responseType = dev.jobsvc.v1.RejectResponse.class,
      methodType = io.grpc.MethodDescriptor.MethodType.UNARY)
  public static io.grpc.MethodDescriptor<dev.jobsvc.v1.RejectRequest,
      dev.jobsvc.v1.RejectResponse> getRejectMethod() {
    io.grpc.MethodDescriptor<dev.jobsvc.v1.RejectRequest, dev.jobsvc.v1.RejectResponse> getRejectMethod;
    if ((getRejectMethod = AckServiceGrpc.getRejectMethod) == null) {
      synchronized (AckServiceGrpc.class) {
        if ((getRejectMethod = AckServiceGrpc.getRejectMethod) == null) {
          AckServiceGrpc.getRejectMethod = getRejectMethod =
              io.grpc.MethodDescriptor.<dev.jobsvc.v1.RejectRequest, dev.jobsvc.v1.RejectResponse>newBuilder()
              .setType(io.grpc.MethodDescriptor.MethodType.UNARY)
              .setFullMethodName(generateFullMethodName(SERVICE_NAME, "Reject"))
              .setSampledToLocalTracing(true)
              .setRequestMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.jobsvc.v1.RejectRequest.getDefaultInstance()))
              .setResponseMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.jobsvc.v1.RejectResponse.getDefaultInstance()))
              .setSchemaDescriptor(new AckServiceMethodDescriptorSupplier("Reject"))
              .build();
        }
      }
    }
    return getRejectMethod;
  }

  /**
   * Creates a new async stub that supports all call types for the service
   */
  public static AckServiceStub newStub(io.grpc.Channel channel) {
    io.grpc.stub.AbstractStub.StubFactory<AckServiceStub> factory =
      new io.grpc.stub.AbstractStub.StubFactory<AckServiceStub>() {
        @java.lang.Override
        public AckServiceStub newStub(io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
          return new AckServiceStub(channel, callOptions);
        }
      };
    return AckServiceStub.newStub(factory, channel);
  }

  /**
   * Creates a new blocking-style stub that supports all types of calls on the service
   */
  public static AckServiceBlockingV2Stub newBlockingV2Stub(
      io.grpc.Channel channel) {
    io.grpc.stub.AbstractStub.StubFactory<AckServiceBlockingV2Stub> factory =
      new io.grpc.stub.AbstractStub.StubFactory<AckServiceBlockingV2Stub>() {
        @java.lang.Override
        public AckServiceBlockingV2Stub newStub(io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
          return new AckServiceBlockingV2Stub(channel, callOptions);
        }
      };
    return AckServiceBlockingV2Stub.newStub(factory, channel);
  }

  /**
   * Creates a new blocking-style stub that supports unary and streaming output calls on the service
   */
  public static AckServiceBlockingStub newBlockingStub(
      io.grpc.Channel channel) {
    io.grpc.stub.AbstractStub.StubFactory<AckServiceBlockingStub> factory =
      new io.grpc.stub.AbstractStub.StubFactory<AckServiceBlockingStub>() {
        @java.lang.Override
        public AckServiceBlockingStub newStub(io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
          return new AckServiceBlockingStub(channel, callOptions);
        }
      };
    return AckServiceBlockingStub.newStub(factory, channel);
  }

  /**
   * Creates a new ListenableFuture-style stub that supports unary calls on the service
   */
  public static AckServiceFutureStub newFutureStub(
      io.grpc.Channel channel) {
    io.grpc.stub.AbstractStub.StubFactory<AckServiceFutureStub> factory =
      new io.grpc.stub.AbstractStub.StubFactory<AckServiceFutureStub>() {
        @java.lang.Override
        public AckServiceFutureStub newStub(io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
          return new AckServiceFutureStub(channel, callOptions);
        }
      };
    return AckServiceFutureStub.newStub(factory, channel);
  }

  /**
   * <pre>
   * Remote workers, in any language, lease jobs and settle them.
   * Every assignment carries an attempt token and a lease deadline. Any message about
   * a job (heartbeat, progress, ack, nack, reject) must carry the token of the current
   * attempt; a stale token is refused with FAILED_PRECONDITION (reason STALE_ATTEMPT)
   * and changes nothing.
   * </pre>
   */
  public interface AsyncService {

    /**
     * <pre>
     * One bidirectional stream per worker session. The worker sends `hello` first,
     * then heartbeats, progress and settlements; the server sends a welcome, then
     * assignments (never more than the worker's free capacity) and cancellations.
     * Messages about one job are handled in the order sent; messages about different
     * jobs may be handled concurrently.
     * Any message extends the leases of the worker's jobs. When the stream ends, the
     * worker's leases run out after `reconnect_grace`: a worker that reconnects in
     * time may still settle them (tokens are not tied to a session).
     * </pre>
     */
    default io.grpc.stub.StreamObserver<dev.jobsvc.v1.WorkRequest> work(
        io.grpc.stub.StreamObserver<dev.jobsvc.v1.WorkResponse> responseObserver) {
      return io.grpc.stub.ServerCalls.asyncUnimplementedStreamingCall(getWorkMethod(), responseObserver);
    }

    /**
     * <pre>
     * Unary alternative for simple workers: lease up to `max_jobs`, waiting up to
     * `wait` for one to become due.
     * </pre>
     */
    default void lease(dev.jobsvc.v1.LeaseRequest request,
        io.grpc.stub.StreamObserver<dev.jobsvc.v1.LeaseResponse> responseObserver) {
      io.grpc.stub.ServerCalls.asyncUnimplementedUnaryCall(getLeaseMethod(), responseObserver);
    }

    /**
     */
    default void heartbeat(dev.jobsvc.v1.HeartbeatRequest request,
        io.grpc.stub.StreamObserver<dev.jobsvc.v1.HeartbeatResponse> responseObserver) {
      io.grpc.stub.ServerCalls.asyncUnimplementedUnaryCall(getHeartbeatMethod(), responseObserver);
    }

    /**
     * <pre>
     * A partial output over max_payload_bytes fails the attempt, non-retryably
     * (jobsvc.PartialOutputTooLarge), answered RESOURCE_EXHAUSTED (PARTIAL_OUTPUT_TOO_LARGE).
     * A progress message is cut to 4 KiB.
     * </pre>
     */
    default void reportProgress(dev.jobsvc.v1.ReportProgressRequest request,
        io.grpc.stub.StreamObserver<dev.jobsvc.v1.ReportProgressResponse> responseObserver) {
      io.grpc.stub.ServerCalls.asyncUnimplementedUnaryCall(getReportProgressMethod(), responseObserver);
    }

    /**
     * <pre>
     * Store the result: the job SUCCEEDED. A result over the server's max_payload_bytes
     * (see WorkResponse.Welcome) fails the attempt instead, non-retryably
     * (jobsvc.ResultTooLarge), and the Ack answers RESOURCE_EXHAUSTED (reason RESULT_TOO_LARGE).
     * </pre>
     */
    default void ack(dev.jobsvc.v1.AckRequest request,
        io.grpc.stub.StreamObserver<dev.jobsvc.v1.AckResponse> responseObserver) {
      io.grpc.stub.ServerCalls.asyncUnimplementedUnaryCall(getAckMethod(), responseObserver);
    }

    /**
     * <pre>
     * The attempt failed: retry per the policy (or after retry_delay), unless
     * non_retryable or out of attempts, in which case the job FAILED.
     * </pre>
     */
    default void nack(dev.jobsvc.v1.NackRequest request,
        io.grpc.stub.StreamObserver<dev.jobsvc.v1.NackResponse> responseObserver) {
      io.grpc.stub.ServerCalls.asyncUnimplementedUnaryCall(getNackMethod(), responseObserver);
    }

    /**
     * <pre>
     * Never retry: dead-letter the job (state FAILED) at once.
     * </pre>
     */
    default void reject(dev.jobsvc.v1.RejectRequest request,
        io.grpc.stub.StreamObserver<dev.jobsvc.v1.RejectResponse> responseObserver) {
      io.grpc.stub.ServerCalls.asyncUnimplementedUnaryCall(getRejectMethod(), responseObserver);
    }
  }

  /**
   * Base class for the server implementation of the service AckService.
   * <pre>
   * Remote workers, in any language, lease jobs and settle them.
   * Every assignment carries an attempt token and a lease deadline. Any message about
   * a job (heartbeat, progress, ack, nack, reject) must carry the token of the current
   * attempt; a stale token is refused with FAILED_PRECONDITION (reason STALE_ATTEMPT)
   * and changes nothing.
   * </pre>
   */
  public static abstract class AckServiceImplBase
      implements io.grpc.BindableService, AsyncService {

    @java.lang.Override public final io.grpc.ServerServiceDefinition bindService() {
      return AckServiceGrpc.bindService(this);
    }
  }

  /**
   * A stub to allow clients to do asynchronous rpc calls to service AckService.
   * <pre>
   * Remote workers, in any language, lease jobs and settle them.
   * Every assignment carries an attempt token and a lease deadline. Any message about
   * a job (heartbeat, progress, ack, nack, reject) must carry the token of the current
   * attempt; a stale token is refused with FAILED_PRECONDITION (reason STALE_ATTEMPT)
   * and changes nothing.
   * </pre>
   */
  public static final class AckServiceStub
      extends io.grpc.stub.AbstractAsyncStub<AckServiceStub> {
    private AckServiceStub(
        io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
      super(channel, callOptions);
    }

    @java.lang.Override
    protected AckServiceStub build(
        io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
      return new AckServiceStub(channel, callOptions);
    }

    /**
     * <pre>
     * One bidirectional stream per worker session. The worker sends `hello` first,
     * then heartbeats, progress and settlements; the server sends a welcome, then
     * assignments (never more than the worker's free capacity) and cancellations.
     * Messages about one job are handled in the order sent; messages about different
     * jobs may be handled concurrently.
     * Any message extends the leases of the worker's jobs. When the stream ends, the
     * worker's leases run out after `reconnect_grace`: a worker that reconnects in
     * time may still settle them (tokens are not tied to a session).
     * </pre>
     */
    public io.grpc.stub.StreamObserver<dev.jobsvc.v1.WorkRequest> work(
        io.grpc.stub.StreamObserver<dev.jobsvc.v1.WorkResponse> responseObserver) {
      return io.grpc.stub.ClientCalls.asyncBidiStreamingCall(
          getChannel().newCall(getWorkMethod(), getCallOptions()), responseObserver);
    }

    /**
     * <pre>
     * Unary alternative for simple workers: lease up to `max_jobs`, waiting up to
     * `wait` for one to become due.
     * </pre>
     */
    public void lease(dev.jobsvc.v1.LeaseRequest request,
        io.grpc.stub.StreamObserver<dev.jobsvc.v1.LeaseResponse> responseObserver) {
      io.grpc.stub.ClientCalls.asyncUnaryCall(
          getChannel().newCall(getLeaseMethod(), getCallOptions()), request, responseObserver);
    }

    /**
     */
    public void heartbeat(dev.jobsvc.v1.HeartbeatRequest request,
        io.grpc.stub.StreamObserver<dev.jobsvc.v1.HeartbeatResponse> responseObserver) {
      io.grpc.stub.ClientCalls.asyncUnaryCall(
          getChannel().newCall(getHeartbeatMethod(), getCallOptions()), request, responseObserver);
    }

    /**
     * <pre>
     * A partial output over max_payload_bytes fails the attempt, non-retryably
     * (jobsvc.PartialOutputTooLarge), answered RESOURCE_EXHAUSTED (PARTIAL_OUTPUT_TOO_LARGE).
     * A progress message is cut to 4 KiB.
     * </pre>
     */
    public void reportProgress(dev.jobsvc.v1.ReportProgressRequest request,
        io.grpc.stub.StreamObserver<dev.jobsvc.v1.ReportProgressResponse> responseObserver) {
      io.grpc.stub.ClientCalls.asyncUnaryCall(
          getChannel().newCall(getReportProgressMethod(), getCallOptions()), request, responseObserver);
    }

    /**
     * <pre>
     * Store the result: the job SUCCEEDED. A result over the server's max_payload_bytes
     * (see WorkResponse.Welcome) fails the attempt instead, non-retryably
     * (jobsvc.ResultTooLarge), and the Ack answers RESOURCE_EXHAUSTED (reason RESULT_TOO_LARGE).
     * </pre>
     */
    public void ack(dev.jobsvc.v1.AckRequest request,
        io.grpc.stub.StreamObserver<dev.jobsvc.v1.AckResponse> responseObserver) {
      io.grpc.stub.ClientCalls.asyncUnaryCall(
          getChannel().newCall(getAckMethod(), getCallOptions()), request, responseObserver);
    }

    /**
     * <pre>
     * The attempt failed: retry per the policy (or after retry_delay), unless
     * non_retryable or out of attempts, in which case the job FAILED.
     * </pre>
     */
    public void nack(dev.jobsvc.v1.NackRequest request,
        io.grpc.stub.StreamObserver<dev.jobsvc.v1.NackResponse> responseObserver) {
      io.grpc.stub.ClientCalls.asyncUnaryCall(
          getChannel().newCall(getNackMethod(), getCallOptions()), request, responseObserver);
    }

    /**
     * <pre>
     * Never retry: dead-letter the job (state FAILED) at once.
     * </pre>
     */
    public void reject(dev.jobsvc.v1.RejectRequest request,
        io.grpc.stub.StreamObserver<dev.jobsvc.v1.RejectResponse> responseObserver) {
      io.grpc.stub.ClientCalls.asyncUnaryCall(
          getChannel().newCall(getRejectMethod(), getCallOptions()), request, responseObserver);
    }
  }

  /**
   * A stub to allow clients to do synchronous rpc calls to service AckService.
   * <pre>
   * Remote workers, in any language, lease jobs and settle them.
   * Every assignment carries an attempt token and a lease deadline. Any message about
   * a job (heartbeat, progress, ack, nack, reject) must carry the token of the current
   * attempt; a stale token is refused with FAILED_PRECONDITION (reason STALE_ATTEMPT)
   * and changes nothing.
   * </pre>
   */
  public static final class AckServiceBlockingV2Stub
      extends io.grpc.stub.AbstractBlockingStub<AckServiceBlockingV2Stub> {
    private AckServiceBlockingV2Stub(
        io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
      super(channel, callOptions);
    }

    @java.lang.Override
    protected AckServiceBlockingV2Stub build(
        io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
      return new AckServiceBlockingV2Stub(channel, callOptions);
    }

    /**
     * <pre>
     * One bidirectional stream per worker session. The worker sends `hello` first,
     * then heartbeats, progress and settlements; the server sends a welcome, then
     * assignments (never more than the worker's free capacity) and cancellations.
     * Messages about one job are handled in the order sent; messages about different
     * jobs may be handled concurrently.
     * Any message extends the leases of the worker's jobs. When the stream ends, the
     * worker's leases run out after `reconnect_grace`: a worker that reconnects in
     * time may still settle them (tokens are not tied to a session).
     * </pre>
     */
    @io.grpc.ExperimentalApi("https://github.com/grpc/grpc-java/issues/10918")
    public io.grpc.stub.BlockingClientCall<dev.jobsvc.v1.WorkRequest, dev.jobsvc.v1.WorkResponse>
        work() {
      return io.grpc.stub.ClientCalls.blockingBidiStreamingCall(
          getChannel(), getWorkMethod(), getCallOptions());
    }

    /**
     * <pre>
     * Unary alternative for simple workers: lease up to `max_jobs`, waiting up to
     * `wait` for one to become due.
     * </pre>
     */
    public dev.jobsvc.v1.LeaseResponse lease(dev.jobsvc.v1.LeaseRequest request) throws io.grpc.StatusException {
      return io.grpc.stub.ClientCalls.blockingV2UnaryCall(
          getChannel(), getLeaseMethod(), getCallOptions(), request);
    }

    /**
     */
    public dev.jobsvc.v1.HeartbeatResponse heartbeat(dev.jobsvc.v1.HeartbeatRequest request) throws io.grpc.StatusException {
      return io.grpc.stub.ClientCalls.blockingV2UnaryCall(
          getChannel(), getHeartbeatMethod(), getCallOptions(), request);
    }

    /**
     * <pre>
     * A partial output over max_payload_bytes fails the attempt, non-retryably
     * (jobsvc.PartialOutputTooLarge), answered RESOURCE_EXHAUSTED (PARTIAL_OUTPUT_TOO_LARGE).
     * A progress message is cut to 4 KiB.
     * </pre>
     */
    public dev.jobsvc.v1.ReportProgressResponse reportProgress(dev.jobsvc.v1.ReportProgressRequest request) throws io.grpc.StatusException {
      return io.grpc.stub.ClientCalls.blockingV2UnaryCall(
          getChannel(), getReportProgressMethod(), getCallOptions(), request);
    }

    /**
     * <pre>
     * Store the result: the job SUCCEEDED. A result over the server's max_payload_bytes
     * (see WorkResponse.Welcome) fails the attempt instead, non-retryably
     * (jobsvc.ResultTooLarge), and the Ack answers RESOURCE_EXHAUSTED (reason RESULT_TOO_LARGE).
     * </pre>
     */
    public dev.jobsvc.v1.AckResponse ack(dev.jobsvc.v1.AckRequest request) throws io.grpc.StatusException {
      return io.grpc.stub.ClientCalls.blockingV2UnaryCall(
          getChannel(), getAckMethod(), getCallOptions(), request);
    }

    /**
     * <pre>
     * The attempt failed: retry per the policy (or after retry_delay), unless
     * non_retryable or out of attempts, in which case the job FAILED.
     * </pre>
     */
    public dev.jobsvc.v1.NackResponse nack(dev.jobsvc.v1.NackRequest request) throws io.grpc.StatusException {
      return io.grpc.stub.ClientCalls.blockingV2UnaryCall(
          getChannel(), getNackMethod(), getCallOptions(), request);
    }

    /**
     * <pre>
     * Never retry: dead-letter the job (state FAILED) at once.
     * </pre>
     */
    public dev.jobsvc.v1.RejectResponse reject(dev.jobsvc.v1.RejectRequest request) throws io.grpc.StatusException {
      return io.grpc.stub.ClientCalls.blockingV2UnaryCall(
          getChannel(), getRejectMethod(), getCallOptions(), request);
    }
  }

  /**
   * A stub to allow clients to do limited synchronous rpc calls to service AckService.
   * <pre>
   * Remote workers, in any language, lease jobs and settle them.
   * Every assignment carries an attempt token and a lease deadline. Any message about
   * a job (heartbeat, progress, ack, nack, reject) must carry the token of the current
   * attempt; a stale token is refused with FAILED_PRECONDITION (reason STALE_ATTEMPT)
   * and changes nothing.
   * </pre>
   */
  public static final class AckServiceBlockingStub
      extends io.grpc.stub.AbstractBlockingStub<AckServiceBlockingStub> {
    private AckServiceBlockingStub(
        io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
      super(channel, callOptions);
    }

    @java.lang.Override
    protected AckServiceBlockingStub build(
        io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
      return new AckServiceBlockingStub(channel, callOptions);
    }

    /**
     * <pre>
     * Unary alternative for simple workers: lease up to `max_jobs`, waiting up to
     * `wait` for one to become due.
     * </pre>
     */
    public dev.jobsvc.v1.LeaseResponse lease(dev.jobsvc.v1.LeaseRequest request) {
      return io.grpc.stub.ClientCalls.blockingUnaryCall(
          getChannel(), getLeaseMethod(), getCallOptions(), request);
    }

    /**
     */
    public dev.jobsvc.v1.HeartbeatResponse heartbeat(dev.jobsvc.v1.HeartbeatRequest request) {
      return io.grpc.stub.ClientCalls.blockingUnaryCall(
          getChannel(), getHeartbeatMethod(), getCallOptions(), request);
    }

    /**
     * <pre>
     * A partial output over max_payload_bytes fails the attempt, non-retryably
     * (jobsvc.PartialOutputTooLarge), answered RESOURCE_EXHAUSTED (PARTIAL_OUTPUT_TOO_LARGE).
     * A progress message is cut to 4 KiB.
     * </pre>
     */
    public dev.jobsvc.v1.ReportProgressResponse reportProgress(dev.jobsvc.v1.ReportProgressRequest request) {
      return io.grpc.stub.ClientCalls.blockingUnaryCall(
          getChannel(), getReportProgressMethod(), getCallOptions(), request);
    }

    /**
     * <pre>
     * Store the result: the job SUCCEEDED. A result over the server's max_payload_bytes
     * (see WorkResponse.Welcome) fails the attempt instead, non-retryably
     * (jobsvc.ResultTooLarge), and the Ack answers RESOURCE_EXHAUSTED (reason RESULT_TOO_LARGE).
     * </pre>
     */
    public dev.jobsvc.v1.AckResponse ack(dev.jobsvc.v1.AckRequest request) {
      return io.grpc.stub.ClientCalls.blockingUnaryCall(
          getChannel(), getAckMethod(), getCallOptions(), request);
    }

    /**
     * <pre>
     * The attempt failed: retry per the policy (or after retry_delay), unless
     * non_retryable or out of attempts, in which case the job FAILED.
     * </pre>
     */
    public dev.jobsvc.v1.NackResponse nack(dev.jobsvc.v1.NackRequest request) {
      return io.grpc.stub.ClientCalls.blockingUnaryCall(
          getChannel(), getNackMethod(), getCallOptions(), request);
    }

    /**
     * <pre>
     * Never retry: dead-letter the job (state FAILED) at once.
     * </pre>
     */
    public dev.jobsvc.v1.RejectResponse reject(dev.jobsvc.v1.RejectRequest request) {
      return io.grpc.stub.ClientCalls.blockingUnaryCall(
          getChannel(), getRejectMethod(), getCallOptions(), request);
    }
  }

  /**
   * A stub to allow clients to do ListenableFuture-style rpc calls to service AckService.
   * <pre>
   * Remote workers, in any language, lease jobs and settle them.
   * Every assignment carries an attempt token and a lease deadline. Any message about
   * a job (heartbeat, progress, ack, nack, reject) must carry the token of the current
   * attempt; a stale token is refused with FAILED_PRECONDITION (reason STALE_ATTEMPT)
   * and changes nothing.
   * </pre>
   */
  public static final class AckServiceFutureStub
      extends io.grpc.stub.AbstractFutureStub<AckServiceFutureStub> {
    private AckServiceFutureStub(
        io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
      super(channel, callOptions);
    }

    @java.lang.Override
    protected AckServiceFutureStub build(
        io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
      return new AckServiceFutureStub(channel, callOptions);
    }

    /**
     * <pre>
     * Unary alternative for simple workers: lease up to `max_jobs`, waiting up to
     * `wait` for one to become due.
     * </pre>
     */
    public com.google.common.util.concurrent.ListenableFuture<dev.jobsvc.v1.LeaseResponse> lease(
        dev.jobsvc.v1.LeaseRequest request) {
      return io.grpc.stub.ClientCalls.futureUnaryCall(
          getChannel().newCall(getLeaseMethod(), getCallOptions()), request);
    }

    /**
     */
    public com.google.common.util.concurrent.ListenableFuture<dev.jobsvc.v1.HeartbeatResponse> heartbeat(
        dev.jobsvc.v1.HeartbeatRequest request) {
      return io.grpc.stub.ClientCalls.futureUnaryCall(
          getChannel().newCall(getHeartbeatMethod(), getCallOptions()), request);
    }

    /**
     * <pre>
     * A partial output over max_payload_bytes fails the attempt, non-retryably
     * (jobsvc.PartialOutputTooLarge), answered RESOURCE_EXHAUSTED (PARTIAL_OUTPUT_TOO_LARGE).
     * A progress message is cut to 4 KiB.
     * </pre>
     */
    public com.google.common.util.concurrent.ListenableFuture<dev.jobsvc.v1.ReportProgressResponse> reportProgress(
        dev.jobsvc.v1.ReportProgressRequest request) {
      return io.grpc.stub.ClientCalls.futureUnaryCall(
          getChannel().newCall(getReportProgressMethod(), getCallOptions()), request);
    }

    /**
     * <pre>
     * Store the result: the job SUCCEEDED. A result over the server's max_payload_bytes
     * (see WorkResponse.Welcome) fails the attempt instead, non-retryably
     * (jobsvc.ResultTooLarge), and the Ack answers RESOURCE_EXHAUSTED (reason RESULT_TOO_LARGE).
     * </pre>
     */
    public com.google.common.util.concurrent.ListenableFuture<dev.jobsvc.v1.AckResponse> ack(
        dev.jobsvc.v1.AckRequest request) {
      return io.grpc.stub.ClientCalls.futureUnaryCall(
          getChannel().newCall(getAckMethod(), getCallOptions()), request);
    }

    /**
     * <pre>
     * The attempt failed: retry per the policy (or after retry_delay), unless
     * non_retryable or out of attempts, in which case the job FAILED.
     * </pre>
     */
    public com.google.common.util.concurrent.ListenableFuture<dev.jobsvc.v1.NackResponse> nack(
        dev.jobsvc.v1.NackRequest request) {
      return io.grpc.stub.ClientCalls.futureUnaryCall(
          getChannel().newCall(getNackMethod(), getCallOptions()), request);
    }

    /**
     * <pre>
     * Never retry: dead-letter the job (state FAILED) at once.
     * </pre>
     */
    public com.google.common.util.concurrent.ListenableFuture<dev.jobsvc.v1.RejectResponse> reject(
        dev.jobsvc.v1.RejectRequest request) {
      return io.grpc.stub.ClientCalls.futureUnaryCall(
          getChannel().newCall(getRejectMethod(), getCallOptions()), request);
    }
  }

  private static final int METHODID_LEASE = 0;
  private static final int METHODID_HEARTBEAT = 1;
  private static final int METHODID_REPORT_PROGRESS = 2;
  private static final int METHODID_ACK = 3;
  private static final int METHODID_NACK = 4;
  private static final int METHODID_REJECT = 5;
  private static final int METHODID_WORK = 6;

  private static final class MethodHandlers<Req, Resp> implements
      io.grpc.stub.ServerCalls.UnaryMethod<Req, Resp>,
      io.grpc.stub.ServerCalls.ServerStreamingMethod<Req, Resp>,
      io.grpc.stub.ServerCalls.ClientStreamingMethod<Req, Resp>,
      io.grpc.stub.ServerCalls.BidiStreamingMethod<Req, Resp> {
    private final AsyncService serviceImpl;
    private final int methodId;

    MethodHandlers(AsyncService serviceImpl, int methodId) {
      this.serviceImpl = serviceImpl;
      this.methodId = methodId;
    }

    @java.lang.Override
    @java.lang.SuppressWarnings("unchecked")
    public void invoke(Req request, io.grpc.stub.StreamObserver<Resp> responseObserver) {
      switch (methodId) {
        case METHODID_LEASE:
          serviceImpl.lease((dev.jobsvc.v1.LeaseRequest) request,
              (io.grpc.stub.StreamObserver<dev.jobsvc.v1.LeaseResponse>) responseObserver);
          break;
        case METHODID_HEARTBEAT:
          serviceImpl.heartbeat((dev.jobsvc.v1.HeartbeatRequest) request,
              (io.grpc.stub.StreamObserver<dev.jobsvc.v1.HeartbeatResponse>) responseObserver);
          break;
        case METHODID_REPORT_PROGRESS:
          serviceImpl.reportProgress((dev.jobsvc.v1.ReportProgressRequest) request,
              (io.grpc.stub.StreamObserver<dev.jobsvc.v1.ReportProgressResponse>) responseObserver);
          break;
        case METHODID_ACK:
          serviceImpl.ack((dev.jobsvc.v1.AckRequest) request,
              (io.grpc.stub.StreamObserver<dev.jobsvc.v1.AckResponse>) responseObserver);
          break;
        case METHODID_NACK:
          serviceImpl.nack((dev.jobsvc.v1.NackRequest) request,
              (io.grpc.stub.StreamObserver<dev.jobsvc.v1.NackResponse>) responseObserver);
          break;
        case METHODID_REJECT:
          serviceImpl.reject((dev.jobsvc.v1.RejectRequest) request,
              (io.grpc.stub.StreamObserver<dev.jobsvc.v1.RejectResponse>) responseObserver);
          break;
        default:
          throw new AssertionError();
      }
    }

    @java.lang.Override
    @java.lang.SuppressWarnings("unchecked")
    public io.grpc.stub.StreamObserver<Req> invoke(
        io.grpc.stub.StreamObserver<Resp> responseObserver) {
      switch (methodId) {
        case METHODID_WORK:
          return (io.grpc.stub.StreamObserver<Req>) serviceImpl.work(
              (io.grpc.stub.StreamObserver<dev.jobsvc.v1.WorkResponse>) responseObserver);
        default:
          throw new AssertionError();
      }
    }
  }

  public static final io.grpc.ServerServiceDefinition bindService(AsyncService service) {
    return io.grpc.ServerServiceDefinition.builder(getServiceDescriptor())
        .addMethod(
          getWorkMethod(),
          io.grpc.stub.ServerCalls.asyncBidiStreamingCall(
            new MethodHandlers<
              dev.jobsvc.v1.WorkRequest,
              dev.jobsvc.v1.WorkResponse>(
                service, METHODID_WORK)))
        .addMethod(
          getLeaseMethod(),
          io.grpc.stub.ServerCalls.asyncUnaryCall(
            new MethodHandlers<
              dev.jobsvc.v1.LeaseRequest,
              dev.jobsvc.v1.LeaseResponse>(
                service, METHODID_LEASE)))
        .addMethod(
          getHeartbeatMethod(),
          io.grpc.stub.ServerCalls.asyncUnaryCall(
            new MethodHandlers<
              dev.jobsvc.v1.HeartbeatRequest,
              dev.jobsvc.v1.HeartbeatResponse>(
                service, METHODID_HEARTBEAT)))
        .addMethod(
          getReportProgressMethod(),
          io.grpc.stub.ServerCalls.asyncUnaryCall(
            new MethodHandlers<
              dev.jobsvc.v1.ReportProgressRequest,
              dev.jobsvc.v1.ReportProgressResponse>(
                service, METHODID_REPORT_PROGRESS)))
        .addMethod(
          getAckMethod(),
          io.grpc.stub.ServerCalls.asyncUnaryCall(
            new MethodHandlers<
              dev.jobsvc.v1.AckRequest,
              dev.jobsvc.v1.AckResponse>(
                service, METHODID_ACK)))
        .addMethod(
          getNackMethod(),
          io.grpc.stub.ServerCalls.asyncUnaryCall(
            new MethodHandlers<
              dev.jobsvc.v1.NackRequest,
              dev.jobsvc.v1.NackResponse>(
                service, METHODID_NACK)))
        .addMethod(
          getRejectMethod(),
          io.grpc.stub.ServerCalls.asyncUnaryCall(
            new MethodHandlers<
              dev.jobsvc.v1.RejectRequest,
              dev.jobsvc.v1.RejectResponse>(
                service, METHODID_REJECT)))
        .build();
  }

  private static abstract class AckServiceBaseDescriptorSupplier
      implements io.grpc.protobuf.ProtoFileDescriptorSupplier, io.grpc.protobuf.ProtoServiceDescriptorSupplier {
    AckServiceBaseDescriptorSupplier() {}

    @java.lang.Override
    public com.google.protobuf.Descriptors.FileDescriptor getFileDescriptor() {
      return dev.jobsvc.v1.AckServiceOuterClass.getDescriptor();
    }

    @java.lang.Override
    public com.google.protobuf.Descriptors.ServiceDescriptor getServiceDescriptor() {
      return getFileDescriptor().findServiceByName("AckService");
    }
  }

  private static final class AckServiceFileDescriptorSupplier
      extends AckServiceBaseDescriptorSupplier {
    AckServiceFileDescriptorSupplier() {}
  }

  private static final class AckServiceMethodDescriptorSupplier
      extends AckServiceBaseDescriptorSupplier
      implements io.grpc.protobuf.ProtoMethodDescriptorSupplier {
    private final java.lang.String methodName;

    AckServiceMethodDescriptorSupplier(java.lang.String methodName) {
      this.methodName = methodName;
    }

    @java.lang.Override
    public com.google.protobuf.Descriptors.MethodDescriptor getMethodDescriptor() {
      return getServiceDescriptor().findMethodByName(methodName);
    }
  }

  private static volatile io.grpc.ServiceDescriptor serviceDescriptor;

  public static io.grpc.ServiceDescriptor getServiceDescriptor() {
    io.grpc.ServiceDescriptor result = serviceDescriptor;
    if (result == null) {
      synchronized (AckServiceGrpc.class) {
        result = serviceDescriptor;
        if (result == null) {
          serviceDescriptor = result = io.grpc.ServiceDescriptor.newBuilder(SERVICE_NAME)
              .setSchemaDescriptor(new AckServiceFileDescriptorSupplier())
              .addMethod(getWorkMethod())
              .addMethod(getLeaseMethod())
              .addMethod(getHeartbeatMethod())
              .addMethod(getReportProgressMethod())
              .addMethod(getAckMethod())
              .addMethod(getNackMethod())
              .addMethod(getRejectMethod())
              .build();
        }
      }
    }
    return result;
  }
}
