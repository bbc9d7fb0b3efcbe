package dev.jobsvc.v1;

import static io.grpc.MethodDescriptor.generateFullMethodName;

/**
 * <pre>
 * Read-only directory of the remote worker sessions (AckService.Work streams) connected
 * to any replica of the deployment: what the dashboard's Workers page shows.
 * </pre>
 */
@io.grpc.stub.annotations.GrpcGenerated
public final class WorkerDirectoryServiceGrpc {

  private WorkerDirectoryServiceGrpc() {}

  public static final java.lang.String SERVICE_NAME = "jobsvc.v1.WorkerDirectoryService";

  // Static method descriptors that strictly reflect the proto.
  private static volatile io.grpc.MethodDescriptor<dev.jobsvc.v1.ListWorkersRequest,
      dev.jobsvc.v1.ListWorkersResponse> getListWorkersMethod;

  @io.grpc.stub.annotations.RpcMethod(
      fullMethodName = SERVICE_NAME + '/' + "ListWorkers",
      requestType = dev.jobsvc.v1.ListWorkersRequest.class,
      responseType = dev.jobsvc.v1.ListWorkersResponse.class,
      methodType = io.grpc.MethodDescriptor.MethodType.UNARY)
  public static io.grpc.MethodDescriptor<dev.jobsvc.v1.ListWorkersRequest,
      dev.jobsvc.v1.ListWorkersResponse> getListWorkersMethod() {
    io.grpc.MethodDescriptor<dev.jobsvc.v1.ListWorkersRequest, dev.jobsvc.v1.ListWorkersResponse> getListWorkersMethod;
    if ((getListWorkersMethod = WorkerDirectoryServiceGrpc.getListWorkersMethod) == null) {
      synchronized (WorkerDirectoryServiceGrpc.class) {
        if ((getListWorkersMethod = WorkerDirectoryServiceGrpc.getListWorkersMethod) == null) {
          WorkerDirectoryServiceGrpc.getListWorkersMethod = getListWorkersMethod =
              io.grpc.MethodDescriptor.<dev.jobsvc.v1.ListWorkersRequest, dev.jobsvc.v1.ListWorkersResponse>newBuilder()
              .setType(io.grpc.MethodDescriptor.MethodType.UNARY)
              .setFullMethodName(generateFullMethodName(SERVICE_NAME, "ListWorkers"))
              .setSampledToLocalTracing(true)
              .setRequestMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.jobsvc.v1.ListWorkersRequest.getDefaultInstance()))
              .setResponseMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.jobsvc.v1.ListWorkersResponse.getDefaultInstance()))
              .setSchemaDescriptor(new WorkerDirectoryServiceMethodDescriptorSupplier("ListWorkers"))
              .build();
        }
      }
    }
    return getListWorkersMethod;
  }

  /**
   * Creates a new async stub that supports all call types for the service
   */
  public static WorkerDirectoryServiceStub newStub(io.grpc.Channel channel) {
    io.grpc.stub.AbstractStub.StubFactory<WorkerDirectoryServiceStub> factory =
      new io.grpc.stub.AbstractStub.StubFactory<WorkerDirectoryServiceStub>() {
        @java.lang.Override
        public WorkerDirectoryServiceStub newStub(io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
          return new WorkerDirectoryServiceStub(channel, callOptions);
        }
      };
    return WorkerDirectoryServiceStub.newStub(factory, channel);
  }

  /**
   * Creates a new blocking-style stub that supports all types of calls on the service
   */
  public static WorkerDirectoryServiceBlockingV2Stub newBlockingV2Stub(
      io.grpc.Channel channel) {
    io.grpc.stub.AbstractStub.StubFactory<WorkerDirectoryServiceBlockingV2Stub> factory =
      new io.grpc.stub.AbstractStub.StubFactory<WorkerDirectoryServiceBlockingV2Stub>() {
        @java.lang.Override
        public WorkerDirectoryServiceBlockingV2Stub newStub(io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
          return new WorkerDirectoryServiceBlockingV2Stub(channel, callOptions);
        }
      };
    return WorkerDirectoryServiceBlockingV2Stub.newStub(factory, channel);
  }

  /**
   * Creates a new blocking-style stub that supports unary and streaming output calls on the service
   */
  public static WorkerDirectoryServiceBlockingStub newBlockingStub(
      io.grpc.Channel channel) {
    io.grpc.stub.AbstractStub.StubFactory<WorkerDirectoryServiceBlockingStub> factory =
      new io.grpc.stub.AbstractStub.StubFactory<WorkerDirectoryServiceBlockingStub>() {
        @java.lang.Override
        public WorkerDirectoryServiceBlockingStub newStub(io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
          return new WorkerDirectoryServiceBlockingStub(channel, callOptions);
        }
      };
    return WorkerDirectoryServiceBlockingStub.newStub(factory, channel);
  }

  /**
   * Creates a new ListenableFuture-style stub that supports unary calls on the service
   */
  public static WorkerDirectoryServiceFutureStub newFutureStub(
      io.grpc.Channel channel) {
    io.grpc.stub.AbstractStub.StubFactory<WorkerDirectoryServiceFutureStub> factory =
      new io.grpc.stub.AbstractStub.StubFactory<WorkerDirectoryServiceFutureStub>() {
        @java.lang.Override
        public WorkerDirectoryServiceFutureStub newStub(io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
          return new WorkerDirectoryServiceFutureStub(channel, callOptions);
        }
      };
    return WorkerDirectoryServiceFutureStub.newStub(factory, channel);
  }

  /**
   * <pre>
   * Read-only directory of the remote worker sessions (AckService.Work streams) connected
   * to any replica of the deployment: what the dashboard's Workers page shows.
   * </pre>
   */
  public interface AsyncService {

    /**
     * <pre>
     * Every connected session, whichever replica holds it, ordered by worker name. The
     * sessions are kept in PostgreSQL by the replica that holds them: a replica refreshes
     * its sessions' rows every few seconds, so in_flight may be that much behind, and the
     * sessions of a replica that stopped refreshing them (it died) drop out after a bound.
     * </pre>
     */
    default void listWorkers(dev.jobsvc.v1.ListWorkersRequest request,
        io.grpc.stub.StreamObserver<dev.jobsvc.v1.ListWorkersResponse> responseObserver) {
      io.grpc.stub.ServerCalls.asyncUnimplementedUnaryCall(getListWorkersMethod(), responseObserver);
    }
  }

  /**
   * Base class for the server implementation of the service WorkerDirectoryService.
   * <pre>
   * Read-only directory of the remote worker sessions (AckService.Work streams) connected
   * to any replica of the deployment: what the dashboard's Workers page shows.
   * </pre>
   */
  public static abstract class WorkerDirectoryServiceImplBase
      implements io.grpc.BindableService, AsyncService {

    @java.lang.Override public final io.grpc.ServerServiceDefinition bindService() {
      return WorkerDirectoryServiceGrpc.bindService(this);
    }
  }

  /**
   * A stub to allow clients to do asynchronous rpc calls to service WorkerDirectoryService.
   * <pre>
   * Read-only directory of the remote worker sessions (AckService.Work streams) connected
   * to any replica of the deployment: what the dashboard's Workers page shows.
   * </pre>
   */
  public static final class WorkerDirectoryServiceStub
      extends io.grpc.stub.AbstractAsyncStub<WorkerDirectoryServiceStub> {
    private WorkerDirectoryServiceStub(
        io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
      super(channel, callOptions);
    }

    @java.lang.Override
    protected WorkerDirectoryServiceStub build(
        io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
      return new WorkerDirectoryServiceStub(channel, callOptions);
    }

    /**
     * <pre>
     * Every connected session, whichever replica holds it, ordered by worker name. The
     * sessions are kept in PostgreSQL by the replica that holds them: a replica refreshes
     * its sessions' rows every few seconds, so in_flight may be that much behind, and the
     * sessions of a replica that stopped refreshing them (it died) drop out after a bound.
     * </pre>
     */
    public void listWorkers(dev.jobsvc.v1.ListWorkersRequest request,
        io.grpc.stub.StreamObserver<dev.jobsvc.v1.ListWorkersResponse> responseObserver) {
      io.grpc.stub.ClientCalls.asyncUnaryCall(
          getChannel().newCall(getListWorkersMethod(), getCallOptions()), request, responseObserver);
    }
  }

  /**
   * A stub to allow clients to do synchronous rpc calls to service WorkerDirectoryService.
   * <pre>
   * Read-only directory of the remote worker sessions (AckService.Work streams) connected
   * to any replica of the deployment: what the dashboard's Workers page shows.
   * </pre>
   */
  public static final class WorkerDirectoryServiceBlockingV2Stub
      extends io.grpc.stub.AbstractBlockingStub<WorkerDirectoryServiceBlockingV2Stub> {
    private WorkerDirectoryServiceBlockingV2Stub(
        io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
      super(channel, callOptions);
    }

    @java.lang.Override
    protected WorkerDirectoryServiceBlockingV2Stub build(
        io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
      return new WorkerDirectoryServiceBlockingV2Stub(channel, callOptions);
    }

    /**
     * <pre>
     * Every connected session, whichever replica holds it, ordered by worker name. The
     * sessions are kept in PostgreSQL by the replica that holds them: a replica refreshes
     * its sessions' rows every few seconds, so in_flight may be that much behind, and the
     * sessions of a replica that stopped refreshing them (it died) drop out after a bound.
     * </pre>
     */
    public dev.jobsvc.v1.ListWorkersResponse listWorkers(dev.jobsvc.v1.ListWorkersRequest request) throws io.grpc.StatusException {
      return io.grpc.stub.ClientCalls.blockingV2UnaryCall(
          getChannel(), getListWorkersMethod(), getCallOptions(), request);
    }
  }

  /**
   * A stub to allow clients to do limited synchronous rpc calls to service WorkerDirectoryService.
   * <pre>
   * Read-only directory of the remote worker sessions (AckService.Work streams) connected
   * to any replica of the deployment: what the dashboard's Workers page shows.
   * </pre>
   */
  public static final class WorkerDirectoryServiceBlockingStub
      extends io.grpc.stub.AbstractBlockingStub<WorkerDirectoryServiceBlockingStub> {
    private WorkerDirectoryServiceBlockingStub(
        io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
      super(channel, callOptions);
    }

    @java.lang.Override
    protected WorkerDirectoryServiceBlockingStub build(
        io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
      return new WorkerDirectoryServiceBlockingStub(channel, callOptions);
    }

    /**
     * <pre>
     * Every connected session, whichever replica holds it, ordered by worker name. The
     * sessions are kept in PostgreSQL by the replica that holds them: a replica refreshes
     * its sessions' rows every few seconds, so in_flight may be that much behind, and the
     * sessions of a replica that stopped refreshing them (it died) drop out after a bound.
     * </pre>
     */
    public dev.jobsvc.v1.ListWorkersResponse listWorkers(dev.jobsvc.v1.ListWorkersRequest request) {
      return io.grpc.stub.ClientCalls.blockingUnaryCall(
          getChannel(), getListWorkersMethod(), getCallOptions(), request);
    }
  }

  /**
   * A stub to allow clients to do ListenableFuture-style rpc calls to service WorkerDirectoryService.
   * <pre>
   * Read-only directory of the remote worker sessions (AckService.Work streams) connected
   * to any replica of the deployment: what the dashboard's Workers page shows.
   * </pre>
   */
  public static final class WorkerDirectoryServiceFutureStub
      extends io.grpc.stub.AbstractFutureStub<WorkerDirectoryServiceFutureStub> {
    private WorkerDirectoryServiceFutureStub(
        io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
      super(channel, callOptions);
    }

    @java.lang.Override
    protected WorkerDirectoryServiceFutureStub build(
        io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
      return new WorkerDirectoryServiceFutureStub(channel, callOptions);
    }

    /**
     * <pre>
     * Every connected session, whichever replica holds it, ordered by worker name. The
     * sessions are kept in PostgreSQL by the replica that holds them: a replica refreshes
     * its sessions' rows every few seconds, so in_flight may be that much behind, and the
     * sessions of a replica that stopped refreshing them (it died) drop out after a bound.
     * </pre>
     */
    public com.google.common.util.concurrent.ListenableFuture<dev.jobsvc.v1.ListWorkersResponse> listWorkers(
        dev.jobsvc.v1.ListWorkersRequest request) {
      return io.grpc.stub.ClientCalls.futureUnaryCall(
          getChannel().newCall(getListWorkersMethod(), getCallOptions()), request);
    }
  }

  private static final int METHODID_LIST_WORKERS = 0;

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
        case METHODID_LIST_WORKERS:
          serviceImpl.listWorkers((dev.jobsvc.v1.ListWorkersRequest) request,
              (io.grpc.stub.StreamObserver<dev.jobsvc.v1.ListWorkersResponse>) responseObserver);
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
          getListWorkersMethod(),
          io.grpc.stub.ServerCalls.asyncUnaryCall(
            new MethodHandlers<
              dev.jobsvc.v1.ListWorkersRequest,
              dev.jobsvc.v1.ListWorkersResponse>(
                service, METHODID_LIST_WORKERS)))
        .build();
  }

  private static abstract class WorkerDirectoryServiceBaseDescriptorSupplier
      implements io.grpc.protobuf.ProtoFileDescriptorSupplier, io.grpc.protobuf.ProtoServiceDescriptorSupplier {
    WorkerDirectoryServiceBaseDescriptorSupplier() {}

    @java.lang.Override
    public com.google.protobuf.Descriptors.FileDescriptor getFileDescriptor() {
      return dev.jobsvc.v1.WorkerDirectory.getDescriptor();
    }

    @java.lang.Override
    public com.google.protobuf.Descriptors.ServiceDescriptor getServiceDescriptor() {
      return getFileDescriptor().findServiceByName("WorkerDirectoryService");
    }
  }

  private static final class WorkerDirectoryServiceFileDescriptorSupplier
      extends WorkerDirectoryServiceBaseDescriptorSupplier {
    WorkerDirectoryServiceFileDescriptorSupplier() {}
  }

  private static final class WorkerDirectoryServiceMethodDescriptorSupplier
      extends WorkerDirectoryServiceBaseDescriptorSupplier
      implements io.grpc.protobuf.ProtoMethodDescriptorSupplier {
    private final java.lang.String methodName;

    WorkerDirectoryServiceMethodDescriptorSupplier(java.lang.String methodName) {
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
      synchronized (WorkerDirectoryServiceGrpc.class) {
        result = serviceDescriptor;
        if (result == null) {
          serviceDescriptor = result = io.grpc.ServiceDescriptor.newBuilder(SERVICE_NAME)
              .setSchemaDescriptor(new WorkerDirectoryServiceFileDescriptorSupplier())
              .addMethod(getListWorkersMethod())
              .build();
        }
      }
    }
    return result;
  }
}
