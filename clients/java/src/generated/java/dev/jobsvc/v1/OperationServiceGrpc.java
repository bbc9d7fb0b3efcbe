package dev.jobsvc.v1;

import static io.grpc.MethodDescriptor.generateFullMethodName;

/**
 * <pre>
 * Bulk actions by filter: cancel, redrive or delete every job a filter selects, as a
 * background operation that runs in batches at a bounded rate (so it never starves the
 * hot path), survives the replica running it (another carries on from its last batch),
 * and records who started it. Start with dry_run for the count first.
 * </pre>
 */
@io.grpc.stub.annotations.GrpcGenerated
public final class OperationServiceGrpc {

  private OperationServiceGrpc() {}

  public static final java.lang.String SERVICE_NAME = "jobsvc.v1.OperationService";

  // Static method descriptors that strictly reflect the proto.
  private static volatile io.grpc.MethodDescriptor<dev.jobsvc.v1.StartBulkActionRequest,
      dev.jobsvc.v1.StartBulkActionResponse> getStartBulkActionMethod;

  @io.grpc.stub.annotations.RpcMethod(
      fullMethodName = SERVICE_NAME + '/' + "StartBulkAction",
      requestType = dev.jobsvc.v1.StartBulkActionRequest.class,
      responseType = dev.jobsvc.v1.StartBulkActionResponse.class,
      methodType = io.grpc.MethodDescriptor.MethodType.UNARY)
  public static io.grpc.MethodDescriptor<dev.jobsvc.v1.StartBulkActionRequest,
      dev.jobsvc.v1.StartBulkActionResponse> getStartBulkActionMethod() {
    io.grpc.MethodDescriptor<dev.jobsvc.v1.StartBulkActionRequest, dev.jobsvc.v1.StartBulkActionResponse> getStartBulkActionMethod;
    if ((getStartBulkActionMethod = OperationServiceGrpc.getStartBulkActionMethod) == null) {
      synchronized (OperationServiceGrpc.class) {
        if ((getStartBulkActionMethod = OperationServiceGrpc.getStartBulkActionMethod) == null) {
          OperationServiceGrpc.getStartBulkActionMethod = getStartBulkActionMethod =
              io.grpc.MethodDescriptor.<dev.jobsvc.v1.StartBulkActionRequest, dev.jobsvc.v1.StartBulkActionResponse>newBuilder()
              .setType(io.grpc.MethodDescriptor.MethodType.UNARY)
              .setFullMethodName(generateFullMethodName(SERVICE_NAME, "StartBulkAction"))
              .setSampledToLocalTracing(true)
              .setRequestMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.jobsvc.v1.StartBulkActionRequest.getDefaultInstance()))
              .setResponseMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.jobsvc.v1.StartBulkActionResponse.getDefaultInstance()))
              .setSchemaDescriptor(new OperationServiceMethodDescriptorSupplier("StartBulkAction"))
              .build();
        }
      }
    }
    return getStartBulkActionMethod;
  }

  private static volatile io.grpc.MethodDescriptor<dev.jobsvc.v1.GetOperationRequest,
      dev.jobsvc.v1.GetOperationResponse> getGetOperationMethod;

  @io.grpc.stub.annotations.RpcMethod(
      fullMethodName = SERVICE_NAME + '/' + "GetOperation",
      requestType = dev.jobsvc.v1.GetOperationRequest.class,
      responseType = dev.jobsvc.v1.GetOperationResponse.class,
      methodType = io.grpc.MethodDescriptor.MethodType.UNARY)
  public static io.grpc.MethodDescriptor<dev.jobsvc.v1.GetOperationRequest,
      dev.jobsvc.v1.GetOperationResponse> getGetOperationMethod() {
    io.grpc.MethodDescriptor<dev.jobsvc.v1.GetOperationRequest, dev.jobsvc.v1.GetOperationResponse> getGetOperationMethod;
    if ((getGetOperationMethod = OperationServiceGrpc.getGetOperationMethod) == null) {
      synchronized (OperationServiceGrpc.class) {
        if ((getGetOperationMethod = OperationServiceGrpc.getGetOperationMethod) == null) {
          OperationServiceGrpc.getGetOperationMethod = getGetOperationMethod =
              io.grpc.MethodDescriptor.<dev.jobsvc.v1.GetOperationRequest, dev.jobsvc.v1.GetOperationResponse>newBuilder()
              .setType(io.grpc.MethodDescriptor.MethodType.UNARY)
              .setFullMethodName(generateFullMethodName(SERVICE_NAME, "GetOperation"))
              .setSampledToLocalTracing(true)
              .setRequestMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.jobsvc.v1.GetOperationRequest.getDefaultInstance()))
              .setResponseMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.jobsvc.v1.GetOperationResponse.getDefaultInstance()))
              .setSchemaDescriptor(new OperationServiceMethodDescriptorSupplier("GetOperation"))
              .build();
        }
      }
    }
    return getGetOperationMethod;
  }

  private static volatile io.grpc.MethodDescriptor<dev.jobsvc.v1.ListOperationsRequest,
      dev.jobsvc.v1.ListOperationsResponse> getListOperationsMethod;

  @io.grpc.stub.annotations.RpcMethod(
      fullMethodName = SERVICE_NAME + '/' + "ListOperations",
      requestType = dev.jobsvc.v1.ListOperationsRequest.class,
      responseType = dev.jobsvc.v1.ListOperationsResponse.class,
      methodType = io.grpc.MethodDescriptor.MethodType.UNARY)
  public static io.grpc.MethodDescriptor<dev.jobsvc.v1.ListOperationsRequest,
      dev.jobsvc.v1.ListOperationsResponse> getListOperationsMethod() {
    io.grpc.MethodDescriptor<dev.jobsvc.v1.ListOperationsRequest, dev.jobsvc.v1.ListOperationsResponse> getListOperationsMethod;
    if ((getListOperationsMethod = OperationServiceGrpc.getListOperationsMethod) == null) {
      synchronized (OperationServiceGrpc.class) {
        if ((getListOperationsMethod = OperationServiceGrpc.getListOperationsMethod) == null) {
          OperationServiceGrpc.getListOperationsMethod = getListOperationsMethod =
              io.grpc.MethodDescriptor.<dev.jobsvc.v1.ListOperationsRequest, dev.jobsvc.v1.ListOperationsResponse>newBuilder()
              .setType(io.grpc.MethodDescriptor.MethodType.UNARY)
              .setFullMethodName(generateFullMethodName(SERVICE_NAME, "ListOperations"))
              .setSampledToLocalTracing(true)
              .setRequestMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.jobsvc.v1.ListOperationsRequest.getDefaultInstance()))
              .setResponseMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.jobsvc.v1.ListOperationsResponse.getDefaultInstance()))
              .setSchemaDescriptor(new OperationServiceMethodDescriptorSupplier("ListOperations"))
              .build();
        }
      }
    }
    return getListOperationsMethod;
  }

  private static volatile io.grpc.MethodDescriptor<dev.jobsvc.v1.StreamOperationRequest,
      dev.jobsvc.v1.StreamOperationResponse> getStreamOperationMethod;

  @io.grpc.stub.annotations.RpcMethod(
      fullMethodName = SERVICE_NAME + '/' + "StreamOperation",
      requestType = dev.jobsvc.v1.StreamOperationRequest.class,
      responseType = dev.jobsvc.v1.StreamOperationResponse.class,
      methodType = io.grpc.MethodDescriptor.MethodType.SERVER_STREAMING)
  public static io.grpc.MethodDescriptor<dev.jobsvc.v1.StreamOperationRequest,
      dev.jobsvc.v1.StreamOperationResponse> getStreamOperationMethod() {
    io.grpc.MethodDescriptor<dev.jobsvc.v1.StreamOperationRequest, dev.jobsvc.v1.StreamOperationResponse> getStreamOperationMethod;
    if ((getStreamOperationMethod = OperationServiceGrpc.getStreamOperationMethod) == null) {
      synchronized (OperationServiceGrpc.class) {
        if ((getStreamOperationMethod = OperationServiceGrpc.getStreamOperationMethod) == null) {
          OperationServiceGrpc.getStreamOperationMethod = getStreamOperationMethod =
              io.grpc.MethodDescriptor.<dev.jobsvc.v1.StreamOperationRequest, dev.jobsvc.v1.StreamOperationResponse>newBuilder()
              .setType(io.grpc.MethodDescriptor.MethodType.SERVER_STREAMING)
              .setFullMethodName(generateFullMethodName(SERVICE_NAME, "StreamOperation"))
              .setSampledToLocalTracing(true)
              .setRequestMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.jobsvc.v1.StreamOperationRequest.getDefaultInstance()))
              .setResponseMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.jobsvc.v1.StreamOperationResponse.getDefaultInstance()))
              .setSchemaDescriptor(new OperationServiceMethodDescriptorSupplier("StreamOperation"))
              .build();
        }
      }
    }
    return getStreamOperationMethod;
  }

  private static volatile io.grpc.MethodDescriptor<dev.jobsvc.v1.CancelOperationRequest,
      dev.jobsvc.v1.CancelOperationResponse> getCancelOperationMethod;

  @io.grpc.stub.annotations.RpcMethod(
      fullMethodName = SERVICE_NAME + '/' + "CancelOperation",
      requestType = dev.jobsvc.v1.CancelOperationRequest.class,
      responseType = dev.jobsvc.v1.CancelOperationResponse.class,
      methodType = io.grpc.MethodDescriptor.MethodType.UNARY)
  public static io.grpc.MethodDescriptor<dev.jobsvc.v1.CancelOperationRequest,
      dev.jobsvc.v1.CancelOperationResponse> getCancelOperationMethod() {
    io.grpc.MethodDescriptor<dev.jobsvc.v1.CancelOperationRequest, dev.jobsvc.v1.CancelOperationResponse> getCancelOperationMethod;
    if ((getCancelOperationMethod = OperationServiceGrpc.getCancelOperationMethod) == null) {
      synchronized (OperationServiceGrpc.class) {
        if ((getCancelOperationMethod = OperationServiceGrpc.getCancelOperationMethod) == null) {
          OperationServiceGrpc.getCancelOperationMethod = getCancelOperationMethod =
              io.grpc.MethodDescriptor.<dev.jobsvc.v1.CancelOperationRequest, dev.jobsvc.v1.CancelOperationResponse>newBuilder()
              .setType(io.grpc.MethodDescriptor.MethodType.UNARY)
              .setFullMethodName(generateFullMethodName(SERVICE_NAME, "CancelOperation"))
              .setSampledToLocalTracing(true)
              .setRequestMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.jobsvc.v1.CancelOperationRequest.getDefaultInstance()))
              .setResponseMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.jobsvc.v1.CancelOperationResponse.getDefaultInstance()))
              .setSchemaDescriptor(new OperationServiceMethodDescriptorSupplier("CancelOperation"))
              .build();
        }
      }
    }
    return getCancelOperationMethod;
  }

  /**
   * Creates a new async stub that supports all call types for the service
   */
  public static OperationServiceStub newStub(io.grpc.Channel channel) {
    io.grpc.stub.AbstractStub.StubFactory<OperationServiceStub> factory =
      new io.grpc.stub.AbstractStub.StubFactory<OperationServiceStub>() {
        @java.lang.Override
        public OperationServiceStub newStub(io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
          return new OperationServiceStub(channel, callOptions);
        }
      };
    return OperationServiceStub.newStub(factory, channel);
  }

  /**
   * Creates a new blocking-style stub that supports all types of calls on the service
   */
  public static OperationServiceBlockingV2Stub newBlockingV2Stub(
      io.grpc.Channel channel) {
    io.grpc.stub.AbstractStub.StubFactory<OperationServiceBlockingV2Stub> factory =
      new io.grpc.stub.AbstractStub.StubFactory<OperationServiceBlockingV2Stub>() {
        @java.lang.Override
        public OperationServiceBlockingV2Stub newStub(io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
          return new OperationServiceBlockingV2Stub(channel, callOptions);
        }
      };
    return OperationServiceBlockingV2Stub.newStub(factory, channel);
  }

  /**
   * Creates a new blocking-style stub that supports unary and streaming output calls on the service
   */
  public static OperationServiceBlockingStub newBlockingStub(
      io.grpc.Channel channel) {
    io.grpc.stub.AbstractStub.StubFactory<OperationServiceBlockingStub> factory =
      new io.grpc.stub.AbstractStub.StubFactory<OperationServiceBlockingStub>() {
        @java.lang.Override
        public OperationServiceBlockingStub newStub(io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
          return new OperationServiceBlockingStub(channel, callOptions);
        }
      };
    return OperationServiceBlockingStub.newStub(factory, channel);
  }

  /**
   * Creates a new ListenableFuture-style stub that supports unary calls on the service
   */
  public static OperationServiceFutureStub newFutureStub(
      io.grpc.Channel channel) {
    io.grpc.stub.AbstractStub.StubFactory<OperationServiceFutureStub> factory =
      new io.grpc.stub.AbstractStub.StubFactory<OperationServiceFutureStub>() {
        @java.lang.Override
        public OperationServiceFutureStub newStub(io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
          return new OperationServiceFutureStub(channel, callOptions);
        }
      };
    return OperationServiceFutureStub.newStub(factory, channel);
  }

  /**
   * <pre>
   * Bulk actions by filter: cancel, redrive or delete every job a filter selects, as a
   * background operation that runs in batches at a bounded rate (so it never starves the
   * hot path), survives the replica running it (another carries on from its last batch),
   * and records who started it. Start with dry_run for the count first.
   * </pre>
   */
  public interface AsyncService {

    /**
     */
    default void startBulkAction(dev.jobsvc.v1.StartBulkActionRequest request,
        io.grpc.stub.StreamObserver<dev.jobsvc.v1.StartBulkActionResponse> responseObserver) {
      io.grpc.stub.ServerCalls.asyncUnimplementedUnaryCall(getStartBulkActionMethod(), responseObserver);
    }

    /**
     */
    default void getOperation(dev.jobsvc.v1.GetOperationRequest request,
        io.grpc.stub.StreamObserver<dev.jobsvc.v1.GetOperationResponse> responseObserver) {
      io.grpc.stub.ServerCalls.asyncUnimplementedUnaryCall(getGetOperationMethod(), responseObserver);
    }

    /**
     * <pre>
     * The newest operations first.
     * </pre>
     */
    default void listOperations(dev.jobsvc.v1.ListOperationsRequest request,
        io.grpc.stub.StreamObserver<dev.jobsvc.v1.ListOperationsResponse> responseObserver) {
      io.grpc.stub.ServerCalls.asyncUnimplementedUnaryCall(getListOperationsMethod(), responseObserver);
    }

    /**
     * <pre>
     * The operation as it is, then again each time its state or progress changes, read
     * from its stored row every half second (one primary-key read per watcher, none on
     * the jobs); the stream ends after the message with its final state (SUCCEEDED or
     * CANCELLED). A finished operation gives one message. NOT_FOUND for an unknown id.
     * </pre>
     */
    default void streamOperation(dev.jobsvc.v1.StreamOperationRequest request,
        io.grpc.stub.StreamObserver<dev.jobsvc.v1.StreamOperationResponse> responseObserver) {
      io.grpc.stub.ServerCalls.asyncUnimplementedUnaryCall(getStreamOperationMethod(), responseObserver);
    }

    /**
     * <pre>
     * Stops a running operation after its batch in flight; what it did stays done.
     * </pre>
     */
    default void cancelOperation(dev.jobsvc.v1.CancelOperationRequest request,
        io.grpc.stub.StreamObserver<dev.jobsvc.v1.CancelOperationResponse> responseObserver) {
      io.grpc.stub.ServerCalls.asyncUnimplementedUnaryCall(getCancelOperationMethod(), responseObserver);
    }
  }

  /**
   * Base class for the server implementation of the service OperationService.
   * <pre>
   * Bulk actions by filter: cancel, redrive or delete every job a filter selects, as a
   * background operation that runs in batches at a bounded rate (so it never starves the
   * hot path), survives the replica running it (another carries on from its last batch),
   * and records who started it. Start with dry_run for the count first.
   * </pre>
   */
  public static abstract class OperationServiceImplBase
      implements io.grpc.BindableService, AsyncService {

    @java.lang.Override public final io.grpc.ServerServiceDefinition bindService() {
      return OperationServiceGrpc.bindService(this);
    }
  }

  /**
   * A stub to allow clients to do asynchronous rpc calls to service OperationService.
   * <pre>
   * Bulk actions by filter: cancel, redrive or delete every job a filter selects, as a
   * background operation that runs in batches at a bounded rate (so it never starves the
   * hot path), survives the replica running it (another carries on from its last batch),
   * and records who started it. Start with dry_run for the count first.
   * </pre>
   */
  public static final class OperationServiceStub
      extends io.grpc.stub.AbstractAsyncStub<OperationServiceStub> {
    private OperationServiceStub(
        io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
      super(channel, callOptions);
    }

    @java.lang.Override
    protected OperationServiceStub build(
        io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
      return new OperationServiceStub(channel, callOptions);
    }

    /**
     */
    public void startBulkAction(dev.jobsvc.v1.StartBulkActionRequest request,
        io.grpc.stub.StreamObserver<dev.jobsvc.v1.StartBulkActionResponse> responseObserver) {
      io.grpc.stub.ClientCalls.asyncUnaryCall(
          getChannel().newCall(getStartBulkActionMethod(), getCallOptions()), request, responseObserver);
    }

    /**
     */
    public void getOperation(dev.jobsvc.v1.GetOperationRequest request,
        io.grpc.stub.StreamObserver<dev.jobsvc.v1.GetOperationResponse> responseObserver) {
      io.grpc.stub.ClientCalls.asyncUnaryCall(
          getChannel().newCall(getGetOperationMethod(), getCallOptions()), request, responseObserver);
    }

    /**
     * <pre>
     * The newest operations first.
     * </pre>
     */
    public void listOperations(dev.jobsvc.v1.ListOperationsRequest request,
        io.grpc.stub.StreamObserver<dev.jobsvc.v1.ListOperationsResponse> responseObserver) {
      io.grpc.stub.ClientCalls.asyncUnaryCall(
          getChannel().newCall(getListOperationsMethod(), getCallOptions()), request, responseObserver);
    }

    /**
     * <pre>
     * The operation as it is, then again each time its state or progress changes, read
     * from its stored row every half second (one primary-key read per watcher, none on
     * the jobs); the stream ends after the message with its final state (SUCCEEDED or
     * CANCELLED). A finished operation gives one message. NOT_FOUND for an unknown id.
     * </pre>
     */
    public void streamOperation(dev.jobsvc.v1.StreamOperationRequest request,
        io.grpc.stub.StreamObserver<dev.jobsvc.v1.StreamOperationResponse> responseObserver) {
      io.grpc.stub.ClientCalls.asyncServerStreamingCall(
          getChannel().newCall(getStreamOperationMethod(), getCallOptions()), request, responseObserver);
    }

    /**
     * <pre>
     * Stops a running operation after its batch in flight; what it did stays done.
     * </pre>
     */
    public void cancelOperation(dev.jobsvc.v1.CancelOperationRequest request,
        io.grpc.stub.StreamObserver<dev.jobsvc.v1.CancelOperationResponse> responseObserver) {
      io.grpc.stub.ClientCalls.asyncUnaryCall(
          getChannel().newCall(getCancelOperationMethod(), getCallOptions()), request, responseObserver);
    }
  }

  /**
   * A stub to allow clients to do synchronous rpc calls to service OperationService.
   * <pre>
   * Bulk actions by filter: cancel, redrive or delete every job a filter selects, as a
   * background operation that runs in batches at a bounded rate (so it never starves the
   * hot path), survives the replica running it (another carries on from its last batch),
   * and records who started it. Start with dry_run for the count first.
   * </pre>
   */
  public static final class OperationServiceBlockingV2Stub
      extends io.grpc.stub.AbstractBlockingStub<OperationServiceBlockingV2Stub> {
    private OperationServiceBlockingV2Stub(
        io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
      super(channel, callOptions);
    }

    @java.lang.Override
    protected OperationServiceBlockingV2Stub build(
        io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
      return new OperationServiceBlockingV2Stub(channel, callOptions);
    }

    /**
     */
    public dev.jobsvc.v1.StartBulkActionResponse startBulkAction(dev.jobsvc.v1.StartBulkActionRequest request) throws io.grpc.StatusException {
      return io.grpc.stub.ClientCalls.blockingV2UnaryCall(
          getChannel(), getStartBulkActionMethod(), getCallOptions(), request);
    }

    /**
     */
    public dev.jobsvc.v1.GetOperationResponse getOperation(dev.jobsvc.v1.GetOperationRequest request) throws io.grpc.StatusException {
      return io.grpc.stub.ClientCalls.blockingV2UnaryCall(
          getChannel(), getGetOperationMethod(), getCallOptions(), request);
    }

    /**
     * <pre>
     * The newest operations first.
     * </pre>
     */
    public dev.jobsvc.v1.ListOperationsResponse listOperations(dev.jobsvc.v1.ListOperationsRequest request) throws io.grpc.StatusException {
      return io.grpc.stub.ClientCalls.blockingV2UnaryCall(
          getChannel(), getListOperationsMethod(), getCallOptions(), request);
    }

    /**
     * <pre>
     * The operation as it is, then again each time its state or progress changes, read
     * from its stored row every half second (one primary-key read per watcher, none on
     * the jobs); the stream ends after the message with its final state (SUCCEEDED or
     * CANCELLED). A finished operation gives one message. NOT_FOUND for an unknown id.
     * </pre>
     */
    @io.grpc.ExperimentalApi("https://github.com/grpc/grpc-java/issues/10918")
    public io.grpc.stub.BlockingClientCall<?, dev.jobsvc.v1.StreamOperationResponse>
        streamOperation(dev.jobsvc.v1.StreamOperationRequest request) {
      return io.grpc.stub.ClientCalls.blockingV2ServerStreamingCall(
          getChannel(), getStreamOperationMethod(), getCallOptions(), request);
    }

    /**
     * <pre>
     * Stops a running operation after its batch in flight; what it did stays done.
     * </pre>
     */
    public dev.jobsvc.v1.CancelOperationResponse cancelOperation(dev.jobsvc.v1.CancelOperationRequest request) throws io.grpc.StatusException {
      return io.grpc.stub.ClientCalls.blockingV2UnaryCall(
          getChannel(), getCancelOperationMethod(), getCallOptions(), request);
    }
  }

  /**
   * A stub to allow clients to do limited synchronous rpc calls to service OperationService.
   * <pre>
   * Bulk actions by filter: cancel, redrive or delete every job a filter selects, as a
   * background operation that runs in batches at a bounded rate (so it never starves the
   * hot path), survives the replica running it (another carries on from its last batch),
   * and records who started it. Start with dry_run for the count first.
   * </pre>
   */
  public static final class OperationServiceBlockingStub
      extends io.grpc.stub.AbstractBlockingStub<OperationServiceBlockingStub> {
    private OperationServiceBlockingStub(
        io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
      super(channel, callOptions);
    }

    @java.lang.Override
    protected OperationServiceBlockingStub build(
        io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
      return new OperationServiceBlockingStub(channel, callOptions);
    }

    /**
     */
    public dev.jobsvc.v1.StartBulkActionResponse startBulkAction(dev.jobsvc.v1.StartBulkActionRequest request) {
      return io.grpc.stub.ClientCalls.blockingUnaryCall(
          getChannel(), getStartBulkActionMethod(), getCallOptions(), request);
    }

    /**
     */
    public dev.jobsvc.v1.GetOperationResponse getOperation(dev.jobsvc.v1.GetOperationRequest request) {
      return io.grpc.stub.ClientCalls.blockingUnaryCall(
          getChannel(), getGetOperationMethod(), getCallOptions(), request);
    }

    /**
     * <pre>
     * The newest operations first.
     * </pre>
     */
    public dev.jobsvc.v1.ListOperationsResponse listOperations(dev.jobsvc.v1.ListOperationsRequest request) {
      return io.grpc.stub.ClientCalls.blockingUnaryCall(
          getChannel(), getListOperationsMethod(), getCallOptions(), request);
    }

    /**
     * <pre>
     * The operation as it is, then again each time its state or progress changes, read
     * from its stored row every half second (one primary-key read per watcher, none on
     * the jobs); the stream ends after the message with its final state (SUCCEEDED or
     * CANCELLED). A finished operation gives one message. NOT_FOUND for an unknown id.
     * </pre>
     */
    public java.util.Iterator<dev.jobsvc.v1.StreamOperationResponse> streamOperation(
        dev.jobsvc.v1.StreamOperationRequest request) {
      return io.grpc.stub.ClientCalls.blockingServerStreamingCall(
          getChannel(), getStreamOperationMethod(), getCallOptions(), request);
    }

    /**
     * <pre>
     * Stops a running operation after its batch in flight; what it did stays done.
     * </pre>
     */
    public dev.jobsvc.v1.CancelOperationResponse cancelOperation(dev.jobsvc.v1.CancelOperationRequest request) {
      return io.grpc.stub.ClientCalls.blockingUnaryCall(
          getChannel(), getCancelOperationMethod(), getCallOptions(), request);
    }
  }

  /**
   * A stub to allow clients to do ListenableFuture-style rpc calls to service OperationService.
   * <pre>
   * Bulk actions by filter: cancel, redrive or delete every job a filter selects, as a
   * background operation that runs in batches at a bounded rate (so it never starves the
   * hot path), survives the replica running it (another carries on from its last batch),
   * and records who started it. Start with dry_run for the count first.
   * </pre>
   */
  public static final class OperationServiceFutureStub
      extends io.grpc.stub.AbstractFutureStub<OperationServiceFutureStub> {
    private OperationServiceFutureStub(
        io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
      super(channel, callOptions);
    }

    @java.lang.Override
    protected OperationServiceFutureStub build(
        io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
      return new OperationServiceFutureStub(channel, callOptions);
    }

    /**
     */
    public com.google.common.util.concurrent.ListenableFuture<dev.jobsvc.v1.StartBulkActionResponse> startBulkAction(
        dev.jobsvc.v1.StartBulkActionRequest request) {
      return io.grpc.stub.ClientCalls.futureUnaryCall(
          getChannel().newCall(getStartBulkActionMethod(), getCallOptions()), request);
    }

    /**
     */
    public com.google.common.util.concurrent.ListenableFuture<dev.jobsvc.v1.GetOperationResponse> getOperation(
        dev.jobsvc.v1.GetOperationRequest request) {
      return io.grpc.stub.ClientCalls.futureUnaryCall(
          getChannel().newCall(getGetOperationMethod(), getCallOptions()), request);
    }

    /**
     * <pre>
     * The newest operations first.
     * </pre>
     */
    public com.google.common.util.concurrent.ListenableFuture<dev.jobsvc.v1.ListOperationsResponse> listOperations(
        dev.jobsvc.v1.ListOperationsRequest request) {
      return io.grpc.stub.ClientCalls.futureUnaryCall(
          getChannel().newCall(getListOperationsMethod(), getCallOptions()), request);
    }

    /**
     * <pre>
     * Stops a running operation after its batch in flight; what it did stays done.
     * </pre>
     */
    public com.google.common.util.concurrent.ListenableFuture<dev.jobsvc.v1.CancelOperationResponse> cancelOperation(
        dev.jobsvc.v1.CancelOperationRequest request) {
      return io.grpc.stub.ClientCalls.futureUnaryCall(
          getChannel().newCall(getCancelOperationMethod(), getCallOptions()), request);
    }
  }

  private static final int METHODID_START_BULK_ACTION = 0;
  private static final int METHODID_GET_OPERATION = 1;
  private static final int METHODID_LIST_OPERATIONS = 2;
  private static final int METHODID_STREAM_OPERATION = 3;
  private static final int METHODID_CANCEL_OPERATION = 4;

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
        case METHODID_START_BULK_ACTION:
          serviceImpl.startBulkAction((dev.jobsvc.v1.StartBulkActionRequest) request,
              (io.grpc.stub.StreamObserver<dev.jobsvc.v1.StartBulkActionResponse>) responseObserver);
          break;
        case METHODID_GET_OPERATION:
          serviceImpl.getOperation((dev.jobsvc.v1.GetOperationRequest) request,
              (io.grpc.stub.StreamObserver<dev.jobsvc.v1.GetOperationResponse>) responseObserver);
          break;
        case METHODID_LIST_OPERATIONS:
          serviceImpl.listOperations((dev.jobsvc.v1.ListOperationsRequest) request,
              (io.grpc.stub.StreamObserver<dev.jobsvc.v1.ListOperationsResponse>) responseObserver);
          break;
        case METHODID_STREAM_OPERATION:
          serviceImpl.streamOperation((dev.jobsvc.v1.StreamOperationRequest) request,
              (io.grpc.stub.StreamObserver<dev.jobsvc.v1.StreamOperationResponse>) responseObserver);
          break;
        case METHODID_CANCEL_OPERATION:
          serviceImpl.cancelOperation((dev.jobsvc.v1.CancelOperationRequest) request,
              (io.grpc.stub.StreamObserver<dev.jobsvc.v1.CancelOperationResponse>) responseObserver);
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
        default:
          throw new AssertionError();
      }
    }
  }

  public static final io.grpc.ServerServiceDefinition bindService(AsyncService service) {
    return io.grpc.ServerServiceDefinition.builder(getServiceDescriptor())
        .addMethod(
          getStartBulkActionMethod(),
          io.grpc.stub.ServerCalls.asyncUnaryCall(
            new MethodHandlers<
              dev.jobsvc.v1.StartBulkActionRequest,
              dev.jobsvc.v1.StartBulkActionResponse>(
                service, METHODID_START_BULK_ACTION)))
        .addMethod(
          getGetOperationMethod(),
          io.grpc.stub.ServerCalls.asyncUnaryCall(
            new MethodHandlers<
              dev.jobsvc.v1.GetOperationRequest,
              dev.jobsvc.v1.GetOperationResponse>(
                service, METHODID_GET_OPERATION)))
        .addMethod(
          getListOperationsMethod(),
          io.grpc.stub.ServerCalls.asyncUnaryCall(
            new MethodHandlers<
              dev.jobsvc.v1.ListOperationsRequest,
              dev.jobsvc.v1.ListOperationsResponse>(
                service, METHODID_LIST_OPERATIONS)))
        .addMethod(
          getStreamOperationMethod(),
          io.grpc.stub.ServerCalls.asyncServerStreamingCall(
            new MethodHandlers<
              dev.jobsvc.v1.StreamOperationRequest,
              dev.jobsvc.v1.StreamOperationResponse>(
                service, METHODID_STREAM_OPERATION)))
        .addMethod(
          getCancelOperationMethod(),
          io.grpc.stub.ServerCalls.asyncUnaryCall(
            new MethodHandlers<
              dev.jobsvc.v1.CancelOperationRequest,
              dev.jobsvc.v1.CancelOperationResponse>(
                service, METHODID_CANCEL_OPERATION)))
        .build();
  }

  private static abstract class OperationServiceBaseDescriptorSupplier
      implements io.grpc.protobuf.ProtoFileDescriptorSupplier, io.grpc.protobuf.ProtoServiceDescriptorSupplier {
    OperationServiceBaseDescriptorSupplier() {}

    @java.lang.Override
    public com.google.protobuf.Descriptors.FileDescriptor getFileDescriptor() {
      return dev.jobsvc.v1.OperationServiceOuterClass.getDescriptor();
    }

    @java.lang.Override
    public com.google.protobuf.Descriptors.ServiceDescriptor getServiceDescriptor() {
      return getFileDescriptor().findServiceByName("OperationService");
    }
  }

  private static final class OperationServiceFileDescriptorSupplier
      extends OperationServiceBaseDescriptorSupplier {
    OperationServiceFileDescriptorSupplier() {}
  }

  private static final class OperationServiceMethodDescriptorSupplier
      extends OperationServiceBaseDescriptorSupplier
      implements io.grpc.protobuf.ProtoMethodDescriptorSupplier {
    private final java.lang.String methodName;

    OperationServiceMethodDescriptorSupplier(java.lang.String methodName) {
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
      synchronized (OperationServiceGrpc.class) {
        result = serviceDescriptor;
        if (result == null) {
          serviceDescriptor = result = io.grpc.ServiceDescriptor.newBuilder(SERVICE_NAME)
              .setSchemaDescriptor(new OperationServiceFileDescriptorSupplier())
              .addMethod(getStartBulkActionMethod())
              .addMethod(getGetOperationMethod())
              .addMethod(getListOperationsMethod())
              .addMethod(getStreamOperationMethod())
              .addMethod(getCancelOperationMethod())
              .build();
        }
      }
    }
    return result;
  }
}
