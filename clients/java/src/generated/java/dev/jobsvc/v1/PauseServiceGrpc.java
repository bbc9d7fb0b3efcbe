package dev.jobsvc.v1;

import static io.grpc.MethodDescriptor.generateFullMethodName;

/**
 * <pre>
 * Pause and resume a handler, one version of it, or a flow-control key. While paused, the
 * queued jobs it names stay queued (new ones are accepted and queue too; GetJob shows
 * WAIT_REASON_PAUSED) and running ones finish; no replica and no remote worker starts
 * one. Resuming starts them at once.
 * </pre>
 */
@io.grpc.stub.annotations.GrpcGenerated
public final class PauseServiceGrpc {

  private PauseServiceGrpc() {}

  public static final java.lang.String SERVICE_NAME = "jobsvc.v1.PauseService";

  // Static method descriptors that strictly reflect the proto.
  private static volatile io.grpc.MethodDescriptor<dev.jobsvc.v1.PauseHandlerRequest,
      dev.jobsvc.v1.PauseHandlerResponse> getPauseHandlerMethod;

  @io.grpc.stub.annotations.RpcMethod(
      fullMethodName = SERVICE_NAME + '/' + "PauseHandler",
      requestType = dev.jobsvc.v1.PauseHandlerRequest.class,
      responseType = dev.jobsvc.v1.PauseHandlerResponse.class,
      methodType = io.grpc.MethodDescriptor.MethodType.UNARY)
  public static io.grpc.MethodDescriptor<dev.jobsvc.v1.PauseHandlerRequest,
      dev.jobsvc.v1.PauseHandlerResponse> getPauseHandlerMethod() {
    io.grpc.MethodDescriptor<dev.jobsvc.v1.PauseHandlerRequest, dev.jobsvc.v1.PauseHandlerResponse> getPauseHandlerMethod;
    if ((getPauseHandlerMethod = PauseServiceGrpc.getPauseHandlerMethod) == null) {
      synchronized (PauseServiceGrpc.class) {
        if ((getPauseHandlerMethod = PauseServiceGrpc.getPauseHandlerMethod) == null) {
          PauseServiceGrpc.getPauseHandlerMethod = getPauseHandlerMethod =
              io.grpc.MethodDescriptor.<dev.jobsvc.v1.PauseHandlerRequest, dev.jobsvc.v1.PauseHandlerResponse>newBuilder()
              .setType(io.grpc.MethodDescriptor.MethodType.UNARY)
              .setFullMethodName(generateFullMethodName(SERVICE_NAME, "PauseHandler"))
              .setSampledToLocalTracing(true)
              .setRequestMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.jobsvc.v1.PauseHandlerRequest.getDefaultInstance()))
              .setResponseMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.jobsvc.v1.PauseHandlerResponse.getDefaultInstance()))
              .setSchemaDescriptor(new PauseServiceMethodDescriptorSupplier("PauseHandler"))
              .build();
        }
      }
    }
    return getPauseHandlerMethod;
  }

  private static volatile io.grpc.MethodDescriptor<dev.jobsvc.v1.ResumeHandlerRequest,
      dev.jobsvc.v1.ResumeHandlerResponse> getResumeHandlerMethod;

  @io.grpc.stub.annotations.RpcMethod(
      fullMethodName = SERVICE_NAME + '/' + "ResumeHandler",
      requestType = dev.jobsvc.v1.ResumeHandlerRequest.class,
      responseType = dev.jobsvc.v1.ResumeHandlerResponse.class,
      methodType = io.grpc.MethodDescriptor.MethodType.UNARY)
  public static io.grpc.MethodDescriptor<dev.jobsvc.v1.ResumeHandlerRequest,
      dev.jobsvc.v1.ResumeHandlerResponse> getResumeHandlerMethod() {
    io.grpc.MethodDescriptor<dev.jobsvc.v1.ResumeHandlerRequest, dev.jobsvc.v1.ResumeHandlerResponse> getResumeHandlerMethod;
    if ((getResumeHandlerMethod = PauseServiceGrpc.getResumeHandlerMethod) == null) {
      synchronized (PauseServiceGrpc.class) {
        if ((getResumeHandlerMethod = PauseServiceGrpc.getResumeHandlerMethod) == null) {
          PauseServiceGrpc.getResumeHandlerMethod = getResumeHandlerMethod =
              io.grpc.MethodDescriptor.<dev.jobsvc.v1.ResumeHandlerRequest, dev.jobsvc.v1.ResumeHandlerResponse>newBuilder()
              .setType(io.grpc.MethodDescriptor.MethodType.UNARY)
              .setFullMethodName(generateFullMethodName(SERVICE_NAME, "ResumeHandler"))
              .setSampledToLocalTracing(true)
              .setRequestMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.jobsvc.v1.ResumeHandlerRequest.getDefaultInstance()))
              .setResponseMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.jobsvc.v1.ResumeHandlerResponse.getDefaultInstance()))
              .setSchemaDescriptor(new PauseServiceMethodDescriptorSupplier("ResumeHandler"))
              .build();
        }
      }
    }
    return getResumeHandlerMethod;
  }

  private static volatile io.grpc.MethodDescriptor<dev.jobsvc.v1.PauseFlowKeyRequest,
      dev.jobsvc.v1.PauseFlowKeyResponse> getPauseFlowKeyMethod;

  @io.grpc.stub.annotations.RpcMethod(
      fullMethodName = SERVICE_NAME + '/' + "PauseFlowKey",
      requestType = dev.jobsvc.v1.PauseFlowKeyRequest.class,
      responseType = dev.jobsvc.v1.PauseFlowKeyResponse.class,
      methodType = io.grpc.MethodDescriptor.MethodType.UNARY)
  public static io.grpc.MethodDescriptor<dev.jobsvc.v1.PauseFlowKeyRequest,
      dev.jobsvc.v1.PauseFlowKeyResponse> getPauseFlowKeyMethod() {
    io.grpc.MethodDescriptor<dev.jobsvc.v1.PauseFlowKeyRequest, dev.jobsvc.v1.PauseFlowKeyResponse> getPauseFlowKeyMethod;
    if ((getPauseFlowKeyMethod = PauseServiceGrpc.getPauseFlowKeyMethod) == null) {
      synchronized (PauseServiceGrpc.class) {
        if ((getPauseFlowKeyMethod = PauseServiceGrpc.getPauseFlowKeyMethod) == null) {
          PauseServiceGrpc.getPauseFlowKeyMethod = getPauseFlowKeyMethod =
              io.grpc.MethodDescriptor.<dev.jobsvc.v1.PauseFlowKeyRequest, dev.jobsvc.v1.PauseFlowKeyResponse>newBuilder()
              .setType(io.grpc.MethodDescriptor.MethodType.UNARY)
              .setFullMethodName(generateFullMethodName(SERVICE_NAME, "PauseFlowKey"))
              .setSampledToLocalTracing(true)
              .setRequestMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.jobsvc.v1.PauseFlowKeyRequest.getDefaultInstance()))
              .setResponseMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.jobsvc.v1.PauseFlowKeyResponse.getDefaultInstance()))
              .setSchemaDescriptor(new PauseServiceMethodDescriptorSupplier("PauseFlowKey"))
              .build();
        }
      }
    }
    return getPauseFlowKeyMethod;
  }

  private static volatile io.grpc.MethodDescriptor<dev.jobsvc.v1.ResumeFlowKeyRequest,
      dev.jobsvc.v1.ResumeFlowKeyResponse> getResumeFlowKeyMethod;

  @io.grpc.stub.annotations.RpcMethod(
      fullMethodName = SERVICE_NAME + '/' + "ResumeFlowKey",
      requestType = dev.jobsvc.v1.ResumeFlowKeyRequest.class,
      responseType = dev.jobsvc.v1.ResumeFlowKeyResponse.class,
      methodType = io.grpc.MethodDescriptor.MethodType.UNARY)
  public static io.grpc.MethodDescriptor<dev.jobsvc.v1.ResumeFlowKeyRequest,
      dev.jobsvc.v1.ResumeFlowKeyResponse> getResumeFlowKeyMethod() {
    io.grpc.MethodDescriptor<dev.jobsvc.v1.ResumeFlowKeyRequest, dev.jobsvc.v1.ResumeFlowKeyResponse> getResumeFlowKeyMethod;
    if ((getResumeFlowKeyMethod = PauseServiceGrpc.getResumeFlowKeyMethod) == null) {
      synchronized (PauseServiceGrpc.class) {
        if ((getResumeFlowKeyMethod = PauseServiceGrpc.getResumeFlowKeyMethod) == null) {
          PauseServiceGrpc.getResumeFlowKeyMethod = getResumeFlowKeyMethod =
              io.grpc.MethodDescriptor.<dev.jobsvc.v1.ResumeFlowKeyRequest, dev.jobsvc.v1.ResumeFlowKeyResponse>newBuilder()
              .setType(io.grpc.MethodDescriptor.MethodType.UNARY)
              .setFullMethodName(generateFullMethodName(SERVICE_NAME, "ResumeFlowKey"))
              .setSampledToLocalTracing(true)
              .setRequestMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.jobsvc.v1.ResumeFlowKeyRequest.getDefaultInstance()))
              .setResponseMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.jobsvc.v1.ResumeFlowKeyResponse.getDefaultInstance()))
              .setSchemaDescriptor(new PauseServiceMethodDescriptorSupplier("ResumeFlowKey"))
              .build();
        }
      }
    }
    return getResumeFlowKeyMethod;
  }

  private static volatile io.grpc.MethodDescriptor<dev.jobsvc.v1.ListPausesRequest,
      dev.jobsvc.v1.ListPausesResponse> getListPausesMethod;

  @io.grpc.stub.annotations.RpcMethod(
      fullMethodName = SERVICE_NAME + '/' + "ListPauses",
      requestType = dev.jobsvc.v1.ListPausesRequest.class,
      responseType = dev.jobsvc.v1.ListPausesResponse.class,
      methodType = io.grpc.MethodDescriptor.MethodType.UNARY)
  public static io.grpc.MethodDescriptor<dev.jobsvc.v1.ListPausesRequest,
      dev.jobsvc.v1.ListPausesResponse> getListPausesMethod() {
    io.grpc.MethodDescriptor<dev.jobsvc.v1.ListPausesRequest, dev.jobsvc.v1.ListPausesResponse> getListPausesMethod;
    if ((getListPausesMethod = PauseServiceGrpc.getListPausesMethod) == null) {
      synchronized (PauseServiceGrpc.class) {
        if ((getListPausesMethod = PauseServiceGrpc.getListPausesMethod) == null) {
          PauseServiceGrpc.getListPausesMethod = getListPausesMethod =
              io.grpc.MethodDescriptor.<dev.jobsvc.v1.ListPausesRequest, dev.jobsvc.v1.ListPausesResponse>newBuilder()
              .setType(io.grpc.MethodDescriptor.MethodType.UNARY)
              .setFullMethodName(generateFullMethodName(SERVICE_NAME, "ListPauses"))
              .setSampledToLocalTracing(true)
              .setRequestMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.jobsvc.v1.ListPausesRequest.getDefaultInstance()))
              .setResponseMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.jobsvc.v1.ListPausesResponse.getDefaultInstance()))
              .setSchemaDescriptor(new PauseServiceMethodDescriptorSupplier("ListPauses"))
              .build();
        }
      }
    }
    return getListPausesMethod;
  }

  /**
   * Creates a new async stub that supports all call types for the service
   */
  public static PauseServiceStub newStub(io.grpc.Channel channel) {
    io.grpc.stub.AbstractStub.StubFactory<PauseServiceStub> factory =
      new io.grpc.stub.AbstractStub.StubFactory<PauseServiceStub>() {
        @java.lang.Override
        public PauseServiceStub newStub(io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
          return new PauseServiceStub(channel, callOptions);
        }
      };
    return PauseServiceStub.newStub(factory, channel);
  }

  /**
   * Creates a new blocking-style stub that supports all types of calls on the service
   */
  public static PauseServiceBlockingV2Stub newBlockingV2Stub(
      io.grpc.Channel channel) {
    io.grpc.stub.AbstractStub.StubFactory<PauseServiceBlockingV2Stub> factory =
      new io.grpc.stub.AbstractStub.StubFactory<PauseServiceBlockingV2Stub>() {
        @java.lang.Override
        public PauseServiceBlockingV2Stub newStub(io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
          return new PauseServiceBlockingV2Stub(channel, callOptions);
        }
      };
    return PauseServiceBlockingV2Stub.newStub(factory, channel);
  }

  /**
   * Creates a new blocking-style stub that supports unary and streaming output calls on the service
   */
  public static PauseServiceBlockingStub newBlockingStub(
      io.grpc.Channel channel) {
    io.grpc.stub.AbstractStub.StubFactory<PauseServiceBlockingStub> factory =
      new io.grpc.stub.AbstractStub.StubFactory<PauseServiceBlockingStub>() {
        @java.lang.Override
        public PauseServiceBlockingStub newStub(io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
          return new PauseServiceBlockingStub(channel, callOptions);
        }
      };
    return PauseServiceBlockingStub.newStub(factory, channel);
  }

  /**
   * Creates a new ListenableFuture-style stub that supports unary calls on the service
   */
  public static PauseServiceFutureStub newFutureStub(
      io.grpc.Channel channel) {
    io.grpc.stub.AbstractStub.StubFactory<PauseServiceFutureStub> factory =
      new io.grpc.stub.AbstractStub.StubFactory<PauseServiceFutureStub>() {
        @java.lang.Override
        public PauseServiceFutureStub newStub(io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
          return new PauseServiceFutureStub(channel, callOptions);
        }
      };
    return PauseServiceFutureStub.newStub(factory, channel);
  }

  /**
   * <pre>
   * Pause and resume a handler, one version of it, or a flow-control key. While paused, the
   * queued jobs it names stay queued (new ones are accepted and queue too; GetJob shows
   * WAIT_REASON_PAUSED) and running ones finish; no replica and no remote worker starts
   * one. Resuming starts them at once.
   * </pre>
   */
  public interface AsyncService {

    /**
     * <pre>
     * Returns once every replica obeys: after it returns, no job of the paused handler
     * (or version) starts. Pausing what is paused already changes nothing. NOT_FOUND for a
     * handler or version no process has registered.
     * </pre>
     */
    default void pauseHandler(dev.jobsvc.v1.PauseHandlerRequest request,
        io.grpc.stub.StreamObserver<dev.jobsvc.v1.PauseHandlerResponse> responseObserver) {
      io.grpc.stub.ServerCalls.asyncUnimplementedUnaryCall(getPauseHandlerMethod(), responseObserver);
    }

    /**
     * <pre>
     * Resuming what is not paused changes nothing (was_paused false).
     * </pre>
     */
    default void resumeHandler(dev.jobsvc.v1.ResumeHandlerRequest request,
        io.grpc.stub.StreamObserver<dev.jobsvc.v1.ResumeHandlerResponse> responseObserver) {
      io.grpc.stub.ServerCalls.asyncUnimplementedUnaryCall(getResumeHandlerMethod(), responseObserver);
    }

    /**
     * <pre>
     * Pauses every job carrying this flow-control key: its concurrency, rate or fairness key
     * as rendered at submit (a tenant's, say `{input.customer_id}` rendered). Returns once
     * every replica obeys, as PauseHandler does. Any key may be paused, even one no job has yet.
     * </pre>
     */
    default void pauseFlowKey(dev.jobsvc.v1.PauseFlowKeyRequest request,
        io.grpc.stub.StreamObserver<dev.jobsvc.v1.PauseFlowKeyResponse> responseObserver) {
      io.grpc.stub.ServerCalls.asyncUnimplementedUnaryCall(getPauseFlowKeyMethod(), responseObserver);
    }

    /**
     */
    default void resumeFlowKey(dev.jobsvc.v1.ResumeFlowKeyRequest request,
        io.grpc.stub.StreamObserver<dev.jobsvc.v1.ResumeFlowKeyResponse> responseObserver) {
      io.grpc.stub.ServerCalls.asyncUnimplementedUnaryCall(getResumeFlowKeyMethod(), responseObserver);
    }

    /**
     */
    default void listPauses(dev.jobsvc.v1.ListPausesRequest request,
        io.grpc.stub.StreamObserver<dev.jobsvc.v1.ListPausesResponse> responseObserver) {
      io.grpc.stub.ServerCalls.asyncUnimplementedUnaryCall(getListPausesMethod(), responseObserver);
    }
  }

  /**
   * Base class for the server implementation of the service PauseService.
   * <pre>
   * Pause and resume a handler, one version of it, or a flow-control key. While paused, the
   * queued jobs it names stay queued (new ones are accepted and queue too; GetJob shows
   * WAIT_REASON_PAUSED) and running ones finish; no replica and no remote worker starts
   * one. Resuming starts them at once.
   * </pre>
   */
  public static abstract class PauseServiceImplBase
      implements io.grpc.BindableService, AsyncService {

    @java.lang.Override public final io.grpc.ServerServiceDefinition bindService() {
      return PauseServiceGrpc.bindService(this);
    }
  }

  /**
   * A stub to allow clients to do asynchronous rpc calls to service PauseService.
   * <pre>
   * Pause and resume a handler, one version of it, or a flow-control key. While paused, the
   * queued jobs it names stay queued (new ones are accepted and queue too; GetJob shows
   * WAIT_REASON_PAUSED) and running ones finish; no replica and no remote worker starts
   * one. Resuming starts them at once.
   * </pre>
   */
  public static final class PauseServiceStub
      extends io.grpc.stub.AbstractAsyncStub<PauseServiceStub> {
    private PauseServiceStub(
        io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
      super(channel, callOptions);
    }

    @java.lang.Override
    protected PauseServiceStub build(
        io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
      return new PauseServiceStub(channel, callOptions);
    }

    /**
     * <pre>
     * Returns once every replica obeys: after it returns, no job of the paused handler
     * (or version) starts. Pausing what is paused already changes nothing. NOT_FOUND for a
     * handler or version no process has registered.
     * </pre>
     */
    public void pauseHandler(dev.jobsvc.v1.PauseHandlerRequest request,
        io.grpc.stub.StreamObserver<dev.jobsvc.v1.PauseHandlerResponse> responseObserver) {
      io.grpc.stub.ClientCalls.asyncUnaryCall(
          getChannel().newCall(getPauseHandlerMethod(), getCallOptions()), request, responseObserver);
    }

    /**
     * <pre>
     * Resuming what is not paused changes nothing (was_paused false).
     * </pre>
     */
    public void resumeHandler(dev.jobsvc.v1.ResumeHandlerRequest request,
        io.grpc.stub.StreamObserver<dev.jobsvc.v1.ResumeHandlerResponse> responseObserver) {
      io.grpc.stub.ClientCalls.asyncUnaryCall(
          getChannel().newCall(getResumeHandlerMethod(), getCallOptions()), request, responseObserver);
    }

    /**
     * <pre>
     * Pauses every job carrying this flow-control key: its concurrency, rate or fairness key
     * as rendered at submit (a tenant's, say `{input.customer_id}` rendered). Returns once
     * every replica obeys, as PauseHandler does. Any key may be paused, even one no job has yet.
     * </pre>
     */
    public void pauseFlowKey(dev.jobsvc.v1.PauseFlowKeyRequest request,
        io.grpc.stub.StreamObserver<dev.jobsvc.v1.PauseFlowKeyResponse> responseObserver) {
      io.grpc.stub.ClientCalls.asyncUnaryCall(
          getChannel().newCall(getPauseFlowKeyMethod(), getCallOptions()), request, responseObserver);
    }

    /**
     */
    public void resumeFlowKey(dev.jobsvc.v1.ResumeFlowKeyRequest request,
        io.grpc.stub.StreamObserver<dev.jobsvc.v1.ResumeFlowKeyResponse> responseObserver) {
      io.grpc.stub.ClientCalls.asyncUnaryCall(
          getChannel().newCall(getResumeFlowKeyMethod(), getCallOptions()), request, responseObserver);
    }

    /**
     */
    public void listPauses(dev.jobsvc.v1.ListPausesRequest request,
        io.grpc.stub.StreamObserver<dev.jobsvc.v1.ListPausesResponse> responseObserver) {
      io.grpc.stub.ClientCalls.asyncUnaryCall(
          getChannel().newCall(getListPausesMethod(), getCallOptions()), request, responseObserver);
    }
  }

  /**
   * A stub to allow clients to do synchronous rpc calls to service PauseService.
   * <pre>
   * Pause and resume a handler, one version of it, or a flow-control key. While paused, the
   * queued jobs it names stay queued (new ones are accepted and queue too; GetJob shows
   * WAIT_REASON_PAUSED) and running ones finish; no replica and no remote worker starts
   * one. Resuming starts them at once.
   * </pre>
   */
  public static final class PauseServiceBlockingV2Stub
      extends io.grpc.stub.AbstractBlockingStub<PauseServiceBlockingV2Stub> {
    private PauseServiceBlockingV2Stub(
        io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
      super(channel, callOptions);
    }

    @java.lang.Override
    protected PauseServiceBlockingV2Stub build(
        io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
      return new PauseServiceBlockingV2Stub(channel, callOptions);
    }

    /**
     * <pre>
     * Returns once every replica obeys: after it returns, no job of the paused handler
     * (or version) starts. Pausing what is paused already changes nothing. NOT_FOUND for a
     * handler or version no process has registered.
     * </pre>
     */
    public dev.jobsvc.v1.PauseHandlerResponse pauseHandler(dev.jobsvc.v1.PauseHandlerRequest request) throws io.grpc.StatusException {
      return io.grpc.stub.ClientCalls.blockingV2UnaryCall(
          getChannel(), getPauseHandlerMethod(), getCallOptions(), request);
    }

    /**
     * <pre>
     * Resuming what is not paused changes nothing (was_paused false).
     * </pre>
     */
    public dev.jobsvc.v1.ResumeHandlerResponse resumeHandler(dev.jobsvc.v1.ResumeHandlerRequest request) throws io.grpc.StatusException {
      return io.grpc.stub.ClientCalls.blockingV2UnaryCall(
          getChannel(), getResumeHandlerMethod(), getCallOptions(), request);
    }

    /**
     * <pre>
     * Pauses every job carrying this flow-control key: its concurrency, rate or fairness key
     * as rendered at submit (a tenant's, say `{input.customer_id}` rendered). Returns once
     * every replica obeys, as PauseHandler does. Any key may be paused, even one no job has yet.
     * </pre>
     */
    public dev.jobsvc.v1.PauseFlowKeyResponse pauseFlowKey(dev.jobsvc.v1.PauseFlowKeyRequest request) throws io.grpc.StatusException {
      return io.grpc.stub.ClientCalls.blockingV2UnaryCall(
          getChannel(), getPauseFlowKeyMethod(), getCallOptions(), request);
    }

    /**
     */
    public dev.jobsvc.v1.ResumeFlowKeyResponse resumeFlowKey(dev.jobsvc.v1.ResumeFlowKeyRequest request) throws io.grpc.StatusException {
      return io.grpc.stub.ClientCalls.blockingV2UnaryCall(
          getChannel(), getResumeFlowKeyMethod(), getCallOptions(), request);
    }

    /**
     */
    public dev.jobsvc.v1.ListPausesResponse listPauses(dev.jobsvc.v1.ListPausesRequest request) throws io.grpc.StatusException {
      return io.grpc.stub.ClientCalls.blockingV2UnaryCall(
          getChannel(), getListPausesMethod(), getCallOptions(), request);
    }
  }

  /**
   * A stub to allow clients to do limited synchronous rpc calls to service PauseService.
   * <pre>
   * Pause and resume a handler, one version of it, or a flow-control key. While paused, the
   * queued jobs it names stay queued (new ones are accepted and queue too; GetJob shows
   * WAIT_REASON_PAUSED) and running ones finish; no replica and no remote worker starts
   * one. Resuming starts them at once.
   * </pre>
   */
  public static final class PauseServiceBlockingStub
      extends io.grpc.stub.AbstractBlockingStub<PauseServiceBlockingStub> {
    private PauseServiceBlockingStub(
        io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
      super(channel, callOptions);
    }

    @java.lang.Override
    protected PauseServiceBlockingStub build(
        io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
      return new PauseServiceBlockingStub(channel, callOptions);
    }

    /**
     * <pre>
     * Returns once every replica obeys: after it returns, no job of the paused handler
     * (or version) starts. Pausing what is paused already changes nothing. NOT_FOUND for a
     * handler or version no process has registered.
     * </pre>
     */
    public dev.jobsvc.v1.PauseHandlerResponse pauseHandler(dev.jobsvc.v1.PauseHandlerRequest request) {
      return io.grpc.stub.ClientCalls.blockingUnaryCall(
          getChannel(), getPauseHandlerMethod(), getCallOptions(), request);
    }

    /**
     * <pre>
     * Resuming what is not paused changes nothing (was_paused false).
     * </pre>
     */
    public dev.jobsvc.v1.ResumeHandlerResponse resumeHandler(dev.jobsvc.v1.ResumeHandlerRequest request) {
      return io.grpc.stub.ClientCalls.blockingUnaryCall(
          getChannel(), getResumeHandlerMethod(), getCallOptions(), request);
    }

    /**
     * <pre>
     * Pauses every job carrying this flow-control key: its concurrency, rate or fairness key
     * as rendered at submit (a tenant's, say `{input.customer_id}` rendered). Returns once
     * every replica obeys, as PauseHandler does. Any key may be paused, even one no job has yet.
     * </pre>
     */
    public dev.jobsvc.v1.PauseFlowKeyResponse pauseFlowKey(dev.jobsvc.v1.PauseFlowKeyRequest request) {
      return io.grpc.stub.ClientCalls.blockingUnaryCall(
          getChannel(), getPauseFlowKeyMethod(), getCallOptions(), request);
    }

    /**
     */
    public dev.jobsvc.v1.ResumeFlowKeyResponse resumeFlowKey(dev.jobsvc.v1.ResumeFlowKeyRequest request) {
      return io.grpc.stub.ClientCalls.blockingUnaryCall(
          getChannel(), getResumeFlowKeyMethod(), getCallOptions(), request);
    }

    /**
     */
    public dev.jobsvc.v1.ListPausesResponse listPauses(dev.jobsvc.v1.ListPausesRequest request) {
      return io.grpc.stub.ClientCalls.blockingUnaryCall(
          getChannel(), getListPausesMethod(), getCallOptions(), request);
    }
  }

  /**
   * A stub to allow clients to do ListenableFuture-style rpc calls to service PauseService.
   * <pre>
   * Pause and resume a handler, one version of it, or a flow-control key. While paused, the
   * queued jobs it names stay queued (new ones are accepted and queue too; GetJob shows
   * WAIT_REASON_PAUSED) and running ones finish; no replica and no remote worker starts
   * one. Resuming starts them at once.
   * </pre>
   */
  public static final class PauseServiceFutureStub
      extends io.grpc.stub.AbstractFutureStub<PauseServiceFutureStub> {
    private PauseServiceFutureStub(
        io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
      super(channel, callOptions);
    }

    @java.lang.Override
    protected PauseServiceFutureStub build(
        io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
      return new PauseServiceFutureStub(channel, callOptions);
    }

    /**
     * <pre>
     * Returns once every replica obeys: after it returns, no job of the paused handler
     * (or version) starts. Pausing what is paused already changes nothing. NOT_FOUND for a
     * handler or version no process has registered.
     * </pre>
     */
    public com.google.common.util.concurrent.ListenableFuture<dev.jobsvc.v1.PauseHandlerResponse> pauseHandler(
        dev.jobsvc.v1.PauseHandlerRequest request) {
      return io.grpc.stub.ClientCalls.futureUnaryCall(
          getChannel().newCall(getPauseHandlerMethod(), getCallOptions()), request);
    }

    /**
     * <pre>
     * Resuming what is not paused changes nothing (was_paused false).
     * </pre>
     */
    public com.google.common.util.concurrent.ListenableFuture<dev.jobsvc.v1.ResumeHandlerResponse> resumeHandler(
        dev.jobsvc.v1.ResumeHandlerRequest request) {
      return io.grpc.stub.ClientCalls.futureUnaryCall(
          getChannel().newCall(getResumeHandlerMethod(), getCallOptions()), request);
    }

    /**
     * <pre>
     * Pauses every job carrying this flow-control key: its concurrency, rate or fairness key
     * as rendered at submit (a tenant's, say `{input.customer_id}` rendered). Returns once
     * every replica obeys, as PauseHandler does. Any key may be paused, even one no job has yet.
     * </pre>
     */
    public com.google.common.util.concurrent.ListenableFuture<dev.jobsvc.v1.PauseFlowKeyResponse> pauseFlowKey(
        dev.jobsvc.v1.PauseFlowKeyRequest request) {
      return io.grpc.stub.ClientCalls.futureUnaryCall(
          getChannel().newCall(getPauseFlowKeyMethod(), getCallOptions()), request);
    }

    /**
     */
    public com.google.common.util.concurrent.ListenableFuture<dev.jobsvc.v1.ResumeFlowKeyResponse> resumeFlowKey(
        dev.jobsvc.v1.ResumeFlowKeyRequest request) {
      return io.grpc.stub.ClientCalls.futureUnaryCall(
          getChannel().newCall(getResumeFlowKeyMethod(), getCallOptions()), request);
    }

    /**
     */
    public com.google.common.util.concurrent.ListenableFuture<dev.jobsvc.v1.ListPausesResponse> listPauses(
        dev.jobsvc.v1.ListPausesRequest request) {
      return io.grpc.stub.ClientCalls.futureUnaryCall(
          getChannel().newCall(getListPausesMethod(), getCallOptions()), request);
    }
  }

  private static final int METHODID_PAUSE_HANDLER = 0;
  private static final int METHODID_RESUME_HANDLER = 1;
  private static final int METHODID_PAUSE_FLOW_KEY = 2;
  private static final int METHODID_RESUME_FLOW_KEY = 3;
  private static final int METHODID_LIST_PAUSES = 4;

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
        case METHODID_PAUSE_HANDLER:
          serviceImpl.pauseHandler((dev.jobsvc.v1.PauseHandlerRequest) request,
              (io.grpc.stub.StreamObserver<dev.jobsvc.v1.PauseHandlerResponse>) responseObserver);
          break;
        case METHODID_RESUME_HANDLER:
          serviceImpl.resumeHandler((dev.jobsvc.v1.ResumeHandlerRequest) request,
              (io.grpc.stub.StreamObserver<dev.jobsvc.v1.ResumeHandlerResponse>) responseObserver);
          break;
        case METHODID_PAUSE_FLOW_KEY:
          serviceImpl.pauseFlowKey((dev.jobsvc.v1.PauseFlowKeyRequest) request,
              (io.grpc.stub.StreamObserver<dev.jobsvc.v1.PauseFlowKeyResponse>) responseObserver);
          break;
        case METHODID_RESUME_FLOW_KEY:
          serviceImpl.resumeFlowKey((dev.jobsvc.v1.ResumeFlowKeyRequest) request,
              (io.grpc.stub.StreamObserver<dev.jobsvc.v1.ResumeFlowKeyResponse>) responseObserver);
          break;
        case METHODID_LIST_PAUSES:
          serviceImpl.listPauses((dev.jobsvc.v1.ListPausesRequest) request,
              (io.grpc.stub.StreamObserver<dev.jobsvc.v1.ListPausesResponse>) responseObserver);
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
          getPauseHandlerMethod(),
          io.grpc.stub.ServerCalls.asyncUnaryCall(
            new MethodHandlers<
              dev.jobsvc.v1.PauseHandlerRequest,
              dev.jobsvc.v1.PauseHandlerResponse>(
                service, METHODID_PAUSE_HANDLER)))
        .addMethod(
          getResumeHandlerMethod(),
          io.grpc.stub.ServerCalls.asyncUnaryCall(
            new MethodHandlers<
              dev.jobsvc.v1.ResumeHandlerRequest,
              dev.jobsvc.v1.ResumeHandlerResponse>(
                service, METHODID_RESUME_HANDLER)))
        .addMethod(
          getPauseFlowKeyMethod(),
          io.grpc.stub.ServerCalls.asyncUnaryCall(
            new MethodHandlers<
              dev.jobsvc.v1.PauseFlowKeyRequest,
              dev.jobsvc.v1.PauseFlowKeyResponse>(
                service, METHODID_PAUSE_FLOW_KEY)))
        .addMethod(
          getResumeFlowKeyMethod(),
          io.grpc.stub.ServerCalls.asyncUnaryCall(
            new MethodHandlers<
              dev.jobsvc.v1.ResumeFlowKeyRequest,
              dev.jobsvc.v1.ResumeFlowKeyResponse>(
                service, METHODID_RESUME_FLOW_KEY)))
        .addMethod(
          getListPausesMethod(),
          io.grpc.stub.ServerCalls.asyncUnaryCall(
            new MethodHandlers<
              dev.jobsvc.v1.ListPausesRequest,
              dev.jobsvc.v1.ListPausesResponse>(
                service, METHODID_LIST_PAUSES)))
        .build();
  }

  private static abstract class PauseServiceBaseDescriptorSupplier
      implements io.grpc.protobuf.ProtoFileDescriptorSupplier, io.grpc.protobuf.ProtoServiceDescriptorSupplier {
    PauseServiceBaseDescriptorSupplier() {}

    @java.lang.Override
    public com.google.protobuf.Descriptors.FileDescriptor getFileDescriptor() {
      return dev.jobsvc.v1.PauseServiceOuterClass.getDescriptor();
    }

    @java.lang.Override
    public com.google.protobuf.Descriptors.ServiceDescriptor getServiceDescriptor() {
      return getFileDescriptor().findServiceByName("PauseService");
    }
  }

  private static final class PauseServiceFileDescriptorSupplier
      extends PauseServiceBaseDescriptorSupplier {
    PauseServiceFileDescriptorSupplier() {}
  }

  private static final class PauseServiceMethodDescriptorSupplier
      extends PauseServiceBaseDescriptorSupplier
      implements io.grpc.protobuf.ProtoMethodDescriptorSupplier {
    private final java.lang.String methodName;

    PauseServiceMethodDescriptorSupplier(java.lang.String methodName) {
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
      synchronized (PauseServiceGrpc.class) {
        result = serviceDescriptor;
        if (result == null) {
          serviceDescriptor = result = io.grpc.ServiceDescriptor.newBuilder(SERVICE_NAME)
              .setSchemaDescriptor(new PauseServiceFileDescriptorSupplier())
              .addMethod(getPauseHandlerMethod())
              .addMethod(getResumeHandlerMethod())
              .addMethod(getPauseFlowKeyMethod())
              .addMethod(getResumeFlowKeyMethod())
              .addMethod(getListPausesMethod())
              .build();
        }
      }
    }
    return result;
  }
}
