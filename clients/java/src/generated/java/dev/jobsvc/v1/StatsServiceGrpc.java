package dev.jobsvc.v1;

import static io.grpc.MethodDescriptor.generateFullMethodName;

/**
 * <pre>
 * Read-only statistics of the queue, for dashboards: what the dashboard's overview shows,
 * so that any client can build the same view.
 * </pre>
 */
@io.grpc.stub.annotations.GrpcGenerated
public final class StatsServiceGrpc {

  private StatsServiceGrpc() {}

  public static final java.lang.String SERVICE_NAME = "jobsvc.v1.StatsService";

  // Static method descriptors that strictly reflect the proto.
  private static volatile io.grpc.MethodDescriptor<dev.jobsvc.v1.GetQueueStatsRequest,
      dev.jobsvc.v1.GetQueueStatsResponse> getGetQueueStatsMethod;

  @io.grpc.stub.annotations.RpcMethod(
      fullMethodName = SERVICE_NAME + '/' + "GetQueueStats",
      requestType = dev.jobsvc.v1.GetQueueStatsRequest.class,
      responseType = dev.jobsvc.v1.GetQueueStatsResponse.class,
      methodType = io.grpc.MethodDescriptor.MethodType.UNARY)
  public static io.grpc.MethodDescriptor<dev.jobsvc.v1.GetQueueStatsRequest,
      dev.jobsvc.v1.GetQueueStatsResponse> getGetQueueStatsMethod() {
    io.grpc.MethodDescriptor<dev.jobsvc.v1.GetQueueStatsRequest, dev.jobsvc.v1.GetQueueStatsResponse> getGetQueueStatsMethod;
    if ((getGetQueueStatsMethod = StatsServiceGrpc.getGetQueueStatsMethod) == null) {
      synchronized (StatsServiceGrpc.class) {
        if ((getGetQueueStatsMethod = StatsServiceGrpc.getGetQueueStatsMethod) == null) {
          StatsServiceGrpc.getGetQueueStatsMethod = getGetQueueStatsMethod =
              io.grpc.MethodDescriptor.<dev.jobsvc.v1.GetQueueStatsRequest, dev.jobsvc.v1.GetQueueStatsResponse>newBuilder()
              .setType(io.grpc.MethodDescriptor.MethodType.UNARY)
              .setFullMethodName(generateFullMethodName(SERVICE_NAME, "GetQueueStats"))
              .setSampledToLocalTracing(true)
              .setRequestMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.jobsvc.v1.GetQueueStatsRequest.getDefaultInstance()))
              .setResponseMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.jobsvc.v1.GetQueueStatsResponse.getDefaultInstance()))
              .setSchemaDescriptor(new StatsServiceMethodDescriptorSupplier("GetQueueStats"))
              .build();
        }
      }
    }
    return getGetQueueStatsMethod;
  }

  /**
   * Creates a new async stub that supports all call types for the service
   */
  public static StatsServiceStub newStub(io.grpc.Channel channel) {
    io.grpc.stub.AbstractStub.StubFactory<StatsServiceStub> factory =
      new io.grpc.stub.AbstractStub.StubFactory<StatsServiceStub>() {
        @java.lang.Override
        public StatsServiceStub newStub(io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
          return new StatsServiceStub(channel, callOptions);
        }
      };
    return StatsServiceStub.newStub(factory, channel);
  }

  /**
   * Creates a new blocking-style stub that supports all types of calls on the service
   */
  public static StatsServiceBlockingV2Stub newBlockingV2Stub(
      io.grpc.Channel channel) {
    io.grpc.stub.AbstractStub.StubFactory<StatsServiceBlockingV2Stub> factory =
      new io.grpc.stub.AbstractStub.StubFactory<StatsServiceBlockingV2Stub>() {
        @java.lang.Override
        public StatsServiceBlockingV2Stub newStub(io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
          return new StatsServiceBlockingV2Stub(channel, callOptions);
        }
      };
    return StatsServiceBlockingV2Stub.newStub(factory, channel);
  }

  /**
   * Creates a new blocking-style stub that supports unary and streaming output calls on the service
   */
  public static StatsServiceBlockingStub newBlockingStub(
      io.grpc.Channel channel) {
    io.grpc.stub.AbstractStub.StubFactory<StatsServiceBlockingStub> factory =
      new io.grpc.stub.AbstractStub.StubFactory<StatsServiceBlockingStub>() {
        @java.lang.Override
        public StatsServiceBlockingStub newStub(io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
          return new StatsServiceBlockingStub(channel, callOptions);
        }
      };
    return StatsServiceBlockingStub.newStub(factory, channel);
  }

  /**
   * Creates a new ListenableFuture-style stub that supports unary calls on the service
   */
  public static StatsServiceFutureStub newFutureStub(
      io.grpc.Channel channel) {
    io.grpc.stub.AbstractStub.StubFactory<StatsServiceFutureStub> factory =
      new io.grpc.stub.AbstractStub.StubFactory<StatsServiceFutureStub>() {
        @java.lang.Override
        public StatsServiceFutureStub newStub(io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
          return new StatsServiceFutureStub(channel, callOptions);
        }
      };
    return StatsServiceFutureStub.newStub(factory, channel);
  }

  /**
   * <pre>
   * Read-only statistics of the queue, for dashboards: what the dashboard's overview shows,
   * so that any client can build the same view.
   * </pre>
   */
  public interface AsyncService {

    /**
     * <pre>
     * Per handler and version: jobs waiting and running now, and those that finished within
     * a recent window. Its cost grows with the jobs that are queued, running or finished
     * within the window, not with the whole history.
     * </pre>
     */
    default void getQueueStats(dev.jobsvc.v1.GetQueueStatsRequest request,
        io.grpc.stub.StreamObserver<dev.jobsvc.v1.GetQueueStatsResponse> responseObserver) {
      io.grpc.stub.ServerCalls.asyncUnimplementedUnaryCall(getGetQueueStatsMethod(), responseObserver);
    }
  }

  /**
   * Base class for the server implementation of the service StatsService.
   * <pre>
   * Read-only statistics of the queue, for dashboards: what the dashboard's overview shows,
   * so that any client can build the same view.
   * </pre>
   */
  public static abstract class StatsServiceImplBase
      implements io.grpc.BindableService, AsyncService {

    @java.lang.Override public final io.grpc.ServerServiceDefinition bindService() {
      return StatsServiceGrpc.bindService(this);
    }
  }

  /**
   * A stub to allow clients to do asynchronous rpc calls to service StatsService.
   * <pre>
   * Read-only statistics of the queue, for dashboards: what the dashboard's overview shows,
   * so that any client can build the same view.
   * </pre>
   */
  public static final class StatsServiceStub
      extends io.grpc.stub.AbstractAsyncStub<StatsServiceStub> {
    private StatsServiceStub(
        io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
      super(channel, callOptions);
    }

    @java.lang.Override
    protected StatsServiceStub build(
        io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
      return new StatsServiceStub(channel, callOptions);
    }

    /**
     * <pre>
     * Per handler and version: jobs waiting and running now, and those that finished within
     * a recent window. Its cost grows with the jobs that are queued, running or finished
     * within the window, not with the whole history.
     * </pre>
     */
    public void getQueueStats(dev.jobsvc.v1.GetQueueStatsRequest request,
        io.grpc.stub.StreamObserver<dev.jobsvc.v1.GetQueueStatsResponse> responseObserver) {
      io.grpc.stub.ClientCalls.asyncUnaryCall(
          getChannel().newCall(getGetQueueStatsMethod(), getCallOptions()), request, responseObserver);
    }
  }

  /**
   * A stub to allow clients to do synchronous rpc calls to service StatsService.
   * <pre>
   * Read-only statistics of the queue, for dashboards: what the dashboard's overview shows,
   * so that any client can build the same view.
   * </pre>
   */
  public static final class StatsServiceBlockingV2Stub
      extends io.grpc.stub.AbstractBlockingStub<StatsServiceBlockingV2Stub> {
    private StatsServiceBlockingV2Stub(
        io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
      super(channel, callOptions);
    }

    @java.lang.Override
    protected StatsServiceBlockingV2Stub build(
        io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
      return new StatsServiceBlockingV2Stub(channel, callOptions);
    }

    /**
     * <pre>
     * Per handler and version: jobs waiting and running now, and those that finished within
     * a recent window. Its cost grows with the jobs that are queued, running or finished
     * within the window, not with the whole history.
     * </pre>
     */
    public dev.jobsvc.v1.GetQueueStatsResponse getQueueStats(dev.jobsvc.v1.GetQueueStatsRequest request) throws io.grpc.StatusException {
      return io.grpc.stub.ClientCalls.blockingV2UnaryCall(
          getChannel(), getGetQueueStatsMethod(), getCallOptions(), request);
    }
  }

  /**
   * A stub to allow clients to do limited synchronous rpc calls to service StatsService.
   * <pre>
   * Read-only statistics of the queue, for dashboards: what the dashboard's overview shows,
   * so that any client can build the same view.
   * </pre>
   */
  public static final class StatsServiceBlockingStub
      extends io.grpc.stub.AbstractBlockingStub<StatsServiceBlockingStub> {
    private StatsServiceBlockingStub(
        io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
      super(channel, callOptions);
    }

    @java.lang.Override
    protected StatsServiceBlockingStub build(
        io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
      return new StatsServiceBlockingStub(channel, callOptions);
    }

    /**
     * <pre>
     * Per handler and version: jobs waiting and running now, and those that finished within
     * a recent window. Its cost grows with the jobs that are queued, running or finished
     * within the window, not with the whole history.
     * </pre>
     */
    public dev.jobsvc.v1.GetQueueStatsResponse getQueueStats(dev.jobsvc.v1.GetQueueStatsRequest request) {
      return io.grpc.stub.ClientCalls.blockingUnaryCall(
          getChannel(), getGetQueueStatsMethod(), getCallOptions(), request);
    }
  }

  /**
   * A stub to allow clients to do ListenableFuture-style rpc calls to service StatsService.
   * <pre>
   * Read-only statistics of the queue, for dashboards: what the dashboard's overview shows,
   * so that any client can build the same view.
   * </pre>
   */
  public static final class StatsServiceFutureStub
      extends io.grpc.stub.AbstractFutureStub<StatsServiceFutureStub> {
    private StatsServiceFutureStub(
        io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
      super(channel, callOptions);
    }

    @java.lang.Override
    protected StatsServiceFutureStub build(
        io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
      return new StatsServiceFutureStub(channel, callOptions);
    }

    /**
     * <pre>
     * Per handler and version: jobs waiting and running now, and those that finished within
     * a recent window. Its cost grows with the jobs that are queued, running or finished
     * within the window, not with the whole history.
     * </pre>
     */
    public com.google.common.util.concurrent.ListenableFuture<dev.jobsvc.v1.GetQueueStatsResponse> getQueueStats(
        dev.jobsvc.v1.GetQueueStatsRequest request) {
      return io.grpc.stub.ClientCalls.futureUnaryCall(
          getChannel().newCall(getGetQueueStatsMethod(), getCallOptions()), request);
    }
  }

  private static final int METHODID_GET_QUEUE_STATS = 0;

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
        case METHODID_GET_QUEUE_STATS:
          serviceImpl.getQueueStats((dev.jobsvc.v1.GetQueueStatsRequest) request,
              (io.grpc.stub.StreamObserver<dev.jobsvc.v1.GetQueueStatsResponse>) responseObserver);
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
          getGetQueueStatsMethod(),
          io.grpc.stub.ServerCalls.asyncUnaryCall(
            new MethodHandlers<
              dev.jobsvc.v1.GetQueueStatsRequest,
              dev.jobsvc.v1.GetQueueStatsResponse>(
                service, METHODID_GET_QUEUE_STATS)))
        .build();
  }

  private static abstract class StatsServiceBaseDescriptorSupplier
      implements io.grpc.protobuf.ProtoFileDescriptorSupplier, io.grpc.protobuf.ProtoServiceDescriptorSupplier {
    StatsServiceBaseDescriptorSupplier() {}

    @java.lang.Override
    public com.google.protobuf.Descriptors.FileDescriptor getFileDescriptor() {
      return dev.jobsvc.v1.StatsServiceOuterClass.getDescriptor();
    }

    @java.lang.Override
    public com.google.protobuf.Descriptors.ServiceDescriptor getServiceDescriptor() {
      return getFileDescriptor().findServiceByName("StatsService");
    }
  }

  private static final class StatsServiceFileDescriptorSupplier
      extends StatsServiceBaseDescriptorSupplier {
    StatsServiceFileDescriptorSupplier() {}
  }

  private static final class StatsServiceMethodDescriptorSupplier
      extends StatsServiceBaseDescriptorSupplier
      implements io.grpc.protobuf.ProtoMethodDescriptorSupplier {
    private final java.lang.String methodName;

    StatsServiceMethodDescriptorSupplier(java.lang.String methodName) {
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
      synchronized (StatsServiceGrpc.class) {
        result = serviceDescriptor;
        if (result == null) {
          serviceDescriptor = result = io.grpc.ServiceDescriptor.newBuilder(SERVICE_NAME)
              .setSchemaDescriptor(new StatsServiceFileDescriptorSupplier())
              .addMethod(getGetQueueStatsMethod())
              .build();
        }
      }
    }
    return result;
  }
}
