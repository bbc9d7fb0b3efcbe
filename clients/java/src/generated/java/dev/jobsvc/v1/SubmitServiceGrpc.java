package dev.jobsvc.v1;

import static io.grpc.MethodDescriptor.generateFullMethodName;

/**
 * <pre>
 * Enqueue jobs without waiting for them.
 * </pre>
 */
@io.grpc.stub.annotations.GrpcGenerated
public final class SubmitServiceGrpc {

  private SubmitServiceGrpc() {}

  public static final java.lang.String SERVICE_NAME = "jobsvc.v1.SubmitService";

  // Static method descriptors that strictly reflect the proto.
  private static volatile io.grpc.MethodDescriptor<dev.jobsvc.v1.SubmitRequest,
      dev.jobsvc.v1.SubmitResponse> getSubmitMethod;

  @io.grpc.stub.annotations.RpcMethod(
      fullMethodName = SERVICE_NAME + '/' + "Submit",
      requestType = dev.jobsvc.v1.SubmitRequest.class,
      responseType = dev.jobsvc.v1.SubmitResponse.class,
      methodType = io.grpc.MethodDescriptor.MethodType.UNARY)
  public static io.grpc.MethodDescriptor<dev.jobsvc.v1.SubmitRequest,
      dev.jobsvc.v1.SubmitResponse> getSubmitMethod() {
    io.grpc.MethodDescriptor<dev.jobsvc.v1.SubmitRequest, dev.jobsvc.v1.SubmitResponse> getSubmitMethod;
    if ((getSubmitMethod = SubmitServiceGrpc.getSubmitMethod) == null) {
      synchronized (SubmitServiceGrpc.class) {
        if ((getSubmitMethod = SubmitServiceGrpc.getSubmitMethod) == null) {
          SubmitServiceGrpc.getSubmitMethod = getSubmitMethod =
              io.grpc.MethodDescriptor.<dev.jobsvc.v1.SubmitRequest, dev.jobsvc.v1.SubmitResponse>newBuilder()
              .setType(io.grpc.MethodDescriptor.MethodType.UNARY)
              .setFullMethodName(generateFullMethodName(SERVICE_NAME, "Submit"))
              .setSampledToLocalTracing(true)
              .setRequestMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.jobsvc.v1.SubmitRequest.getDefaultInstance()))
              .setResponseMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.jobsvc.v1.SubmitResponse.getDefaultInstance()))
              .setSchemaDescriptor(new SubmitServiceMethodDescriptorSupplier("Submit"))
              .build();
        }
      }
    }
    return getSubmitMethod;
  }

  private static volatile io.grpc.MethodDescriptor<dev.jobsvc.v1.SubmitBatchRequest,
      dev.jobsvc.v1.SubmitBatchResponse> getSubmitBatchMethod;

  @io.grpc.stub.annotations.RpcMethod(
      fullMethodName = SERVICE_NAME + '/' + "SubmitBatch",
      requestType = dev.jobsvc.v1.SubmitBatchRequest.class,
      responseType = dev.jobsvc.v1.SubmitBatchResponse.class,
      methodType = io.grpc.MethodDescriptor.MethodType.UNARY)
  public static io.grpc.MethodDescriptor<dev.jobsvc.v1.SubmitBatchRequest,
      dev.jobsvc.v1.SubmitBatchResponse> getSubmitBatchMethod() {
    io.grpc.MethodDescriptor<dev.jobsvc.v1.SubmitBatchRequest, dev.jobsvc.v1.SubmitBatchResponse> getSubmitBatchMethod;
    if ((getSubmitBatchMethod = SubmitServiceGrpc.getSubmitBatchMethod) == null) {
      synchronized (SubmitServiceGrpc.class) {
        if ((getSubmitBatchMethod = SubmitServiceGrpc.getSubmitBatchMethod) == null) {
          SubmitServiceGrpc.getSubmitBatchMethod = getSubmitBatchMethod =
              io.grpc.MethodDescriptor.<dev.jobsvc.v1.SubmitBatchRequest, dev.jobsvc.v1.SubmitBatchResponse>newBuilder()
              .setType(io.grpc.MethodDescriptor.MethodType.UNARY)
              .setFullMethodName(generateFullMethodName(SERVICE_NAME, "SubmitBatch"))
              .setSampledToLocalTracing(true)
              .setRequestMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.jobsvc.v1.SubmitBatchRequest.getDefaultInstance()))
              .setResponseMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.jobsvc.v1.SubmitBatchResponse.getDefaultInstance()))
              .setSchemaDescriptor(new SubmitServiceMethodDescriptorSupplier("SubmitBatch"))
              .build();
        }
      }
    }
    return getSubmitBatchMethod;
  }

  /**
   * Creates a new async stub that supports all call types for the service
   */
  public static SubmitServiceStub newStub(io.grpc.Channel channel) {
    io.grpc.stub.AbstractStub.StubFactory<SubmitServiceStub> factory =
      new io.grpc.stub.AbstractStub.StubFactory<SubmitServiceStub>() {
        @java.lang.Override
        public SubmitServiceStub newStub(io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
          return new SubmitServiceStub(channel, callOptions);
        }
      };
    return SubmitServiceStub.newStub(factory, channel);
  }

  /**
   * Creates a new blocking-style stub that supports all types of calls on the service
   */
  public static SubmitServiceBlockingV2Stub newBlockingV2Stub(
      io.grpc.Channel channel) {
    io.grpc.stub.AbstractStub.StubFactory<SubmitServiceBlockingV2Stub> factory =
      new io.grpc.stub.AbstractStub.StubFactory<SubmitServiceBlockingV2Stub>() {
        @java.lang.Override
        public SubmitServiceBlockingV2Stub newStub(io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
          return new SubmitServiceBlockingV2Stub(channel, callOptions);
        }
      };
    return SubmitServiceBlockingV2Stub.newStub(factory, channel);
  }

  /**
   * Creates a new blocking-style stub that supports unary and streaming output calls on the service
   */
  public static SubmitServiceBlockingStub newBlockingStub(
      io.grpc.Channel channel) {
    io.grpc.stub.AbstractStub.StubFactory<SubmitServiceBlockingStub> factory =
      new io.grpc.stub.AbstractStub.StubFactory<SubmitServiceBlockingStub>() {
        @java.lang.Override
        public SubmitServiceBlockingStub newStub(io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
          return new SubmitServiceBlockingStub(channel, callOptions);
        }
      };
    return SubmitServiceBlockingStub.newStub(factory, channel);
  }

  /**
   * Creates a new ListenableFuture-style stub that supports unary calls on the service
   */
  public static SubmitServiceFutureStub newFutureStub(
      io.grpc.Channel channel) {
    io.grpc.stub.AbstractStub.StubFactory<SubmitServiceFutureStub> factory =
      new io.grpc.stub.AbstractStub.StubFactory<SubmitServiceFutureStub>() {
        @java.lang.Override
        public SubmitServiceFutureStub newStub(io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
          return new SubmitServiceFutureStub(channel, callOptions);
        }
      };
    return SubmitServiceFutureStub.newStub(factory, channel);
  }

  /**
   * <pre>
   * Enqueue jobs without waiting for them.
   * </pre>
   */
  public interface AsyncService {

    /**
     * <pre>
     * Enqueue one job. Answers only once the job is durable in PostgreSQL.
     * </pre>
     */
    default void submit(dev.jobsvc.v1.SubmitRequest request,
        io.grpc.stub.StreamObserver<dev.jobsvc.v1.SubmitResponse> responseObserver) {
      io.grpc.stub.ServerCalls.asyncUnimplementedUnaryCall(getSubmitMethod(), responseObserver);
    }

    /**
     * <pre>
     * Enqueue many jobs in one transaction: all or none.
     * </pre>
     */
    default void submitBatch(dev.jobsvc.v1.SubmitBatchRequest request,
        io.grpc.stub.StreamObserver<dev.jobsvc.v1.SubmitBatchResponse> responseObserver) {
      io.grpc.stub.ServerCalls.asyncUnimplementedUnaryCall(getSubmitBatchMethod(), responseObserver);
    }
  }

  /**
   * Base class for the server implementation of the service SubmitService.
   * <pre>
   * Enqueue jobs without waiting for them.
   * </pre>
   */
  public static abstract class SubmitServiceImplBase
      implements io.grpc.BindableService, AsyncService {

    @java.lang.Override public final io.grpc.ServerServiceDefinition bindService() {
      return SubmitServiceGrpc.bindService(this);
    }
  }

  /**
   * A stub to allow clients to do asynchronous rpc calls to service SubmitService.
   * <pre>
   * Enqueue jobs without waiting for them.
   * </pre>
   */
  public static final class SubmitServiceStub
      extends io.grpc.stub.AbstractAsyncStub<SubmitServiceStub> {
    private SubmitServiceStub(
        io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
      super(channel, callOptions);
    }

    @java.lang.Override
    protected SubmitServiceStub build(
        io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
      return new SubmitServiceStub(channel, callOptions);
    }

    /**
     * <pre>
     * Enqueue one job. Answers only once the job is durable in PostgreSQL.
     * </pre>
     */
    public void submit(dev.jobsvc.v1.SubmitRequest request,
        io.grpc.stub.StreamObserver<dev.jobsvc.v1.SubmitResponse> responseObserver) {
      io.grpc.stub.ClientCalls.asyncUnaryCall(
          getChannel().newCall(getSubmitMethod(), getCallOptions()), request, responseObserver);
    }

    /**
     * <pre>
     * Enqueue many jobs in one transaction: all or none.
     * </pre>
     */
    public void submitBatch(dev.jobsvc.v1.SubmitBatchRequest request,
        io.grpc.stub.StreamObserver<dev.jobsvc.v1.SubmitBatchResponse> responseObserver) {
      io.grpc.stub.ClientCalls.asyncUnaryCall(
          getChannel().newCall(getSubmitBatchMethod(), getCallOptions()), request, responseObserver);
    }
  }

  /**
   * A stub to allow clients to do synchronous rpc calls to service SubmitService.
   * <pre>
   * Enqueue jobs without waiting for them.
   * </pre>
   */
  public static final class SubmitServiceBlockingV2Stub
      extends io.grpc.stub.AbstractBlockingStub<SubmitServiceBlockingV2Stub> {
    private SubmitServiceBlockingV2Stub(
        io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
      super(channel, callOptions);
    }

    @java.lang.Override
    protected SubmitServiceBlockingV2Stub build(
        io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
      return new SubmitServiceBlockingV2Stub(channel, callOptions);
    }

    /**
     * <pre>
     * Enqueue one job. Answers only once the job is durable in PostgreSQL.
     * </pre>
     */
    public dev.jobsvc.v1.SubmitResponse submit(dev.jobsvc.v1.SubmitRequest request) throws io.grpc.StatusException {
      return io.grpc.stub.ClientCalls.blockingV2UnaryCall(
          getChannel(), getSubmitMethod(), getCallOptions(), request);
    }

    /**
     * <pre>
     * Enqueue many jobs in one transaction: all or none.
     * </pre>
     */
    public dev.jobsvc.v1.SubmitBatchResponse submitBatch(dev.jobsvc.v1.SubmitBatchRequest request) throws io.grpc.StatusException {
      return io.grpc.stub.ClientCalls.blockingV2UnaryCall(
          getChannel(), getSubmitBatchMethod(), getCallOptions(), request);
    }
  }

  /**
   * A stub to allow clients to do limited synchronous rpc calls to service SubmitService.
   * <pre>
   * Enqueue jobs without waiting for them.
   * </pre>
   */
  public static final class SubmitServiceBlockingStub
      extends io.grpc.stub.AbstractBlockingStub<SubmitServiceBlockingStub> {
    private SubmitServiceBlockingStub(
        io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
      super(channel, callOptions);
    }

    @java.lang.Override
    protected SubmitServiceBlockingStub build(
        io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
      return new SubmitServiceBlockingStub(channel, callOptions);
    }

    /**
     * <pre>
     * Enqueue one job. Answers only once the job is durable in PostgreSQL.
     * </pre>
     */
    public dev.jobsvc.v1.SubmitResponse submit(dev.jobsvc.v1.SubmitRequest request) {
      return io.grpc.stub.ClientCalls.blockingUnaryCall(
          getChannel(), getSubmitMethod(), getCallOptions(), request);
    }

    /**
     * <pre>
     * Enqueue many jobs in one transaction: all or none.
     * </pre>
     */
    public dev.jobsvc.v1.SubmitBatchResponse submitBatch(dev.jobsvc.v1.SubmitBatchRequest request) {
      return io.grpc.stub.ClientCalls.blockingUnaryCall(
          getChannel(), getSubmitBatchMethod(), getCallOptions(), request);
    }
  }

  /**
   * A stub to allow clients to do ListenableFuture-style rpc calls to service SubmitService.
   * <pre>
   * Enqueue jobs without waiting for them.
   * </pre>
   */
  public static final class SubmitServiceFutureStub
      extends io.grpc.stub.AbstractFutureStub<SubmitServiceFutureStub> {
    private SubmitServiceFutureStub(
        io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
      super(channel, callOptions);
    }

    @java.lang.Override
    protected SubmitServiceFutureStub build(
        io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
      return new SubmitServiceFutureStub(channel, callOptions);
    }

    /**
     * <pre>
     * Enqueue one job. Answers only once the job is durable in PostgreSQL.
     * </pre>
     */
    public com.google.common.util.concurrent.ListenableFuture<dev.jobsvc.v1.SubmitResponse> submit(
        dev.jobsvc.v1.SubmitRequest request) {
      return io.grpc.stub.ClientCalls.futureUnaryCall(
          getChannel().newCall(getSubmitMethod(), getCallOptions()), request);
    }

    /**
     * <pre>
     * Enqueue many jobs in one transaction: all or none.
     * </pre>
     */
    public com.google.common.util.concurrent.ListenableFuture<dev.jobsvc.v1.SubmitBatchResponse> submitBatch(
        dev.jobsvc.v1.SubmitBatchRequest request) {
      return io.grpc.stub.ClientCalls.futureUnaryCall(
          getChannel().newCall(getSubmitBatchMethod(), getCallOptions()), request);
    }
  }

  private static final int METHODID_SUBMIT = 0;
  private static final int METHODID_SUBMIT_BATCH = 1;

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
        case METHODID_SUBMIT:
          serviceImpl.submit((dev.jobsvc.v1.SubmitRequest) request,
              (io.grpc.stub.StreamObserver<dev.jobsvc.v1.SubmitResponse>) responseObserver);
          break;
        case METHODID_SUBMIT_BATCH:
          serviceImpl.submitBatch((dev.jobsvc.v1.SubmitBatchRequest) request,
              (io.grpc.stub.StreamObserver<dev.jobsvc.v1.SubmitBatchResponse>) responseObserver);
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
          getSubmitMethod(),
          io.grpc.stub.ServerCalls.asyncUnaryCall(
            new MethodHandlers<
              dev.jobsvc.v1.SubmitRequest,
              dev.jobsvc.v1.SubmitResponse>(
                service, METHODID_SUBMIT)))
        .addMethod(
          getSubmitBatchMethod(),
          io.grpc.stub.ServerCalls.asyncUnaryCall(
            new MethodHandlers<
              dev.jobsvc.v1.SubmitBatchRequest,
              dev.jobsvc.v1.SubmitBatchResponse>(
                service, METHODID_SUBMIT_BATCH)))
        .build();
  }

  private static abstract class SubmitServiceBaseDescriptorSupplier
      implements io.grpc.protobuf.ProtoFileDescriptorSupplier, io.grpc.protobuf.ProtoServiceDescriptorSupplier {
    SubmitServiceBaseDescriptorSupplier() {}

    @java.lang.Override
    public com.google.protobuf.Descriptors.FileDescriptor getFileDescriptor() {
      return dev.jobsvc.v1.SubmitServiceOuterClass.getDescriptor();
    }

    @java.lang.Override
    public com.google.protobuf.Descriptors.ServiceDescriptor getServiceDescriptor() {
      return getFileDescriptor().findServiceByName("SubmitService");
    }
  }

  private static final class SubmitServiceFileDescriptorSupplier
      extends SubmitServiceBaseDescriptorSupplier {
    SubmitServiceFileDescriptorSupplier() {}
  }

  private static final class SubmitServiceMethodDescriptorSupplier
      extends SubmitServiceBaseDescriptorSupplier
      implements io.grpc.protobuf.ProtoMethodDescriptorSupplier {
    private final java.lang.String methodName;

    SubmitServiceMethodDescriptorSupplier(java.lang.String methodName) {
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
      synchronized (SubmitServiceGrpc.class) {
        result = serviceDescriptor;
        if (result == null) {
          serviceDescriptor = result = io.grpc.ServiceDescriptor.newBuilder(SERVICE_NAME)
              .setSchemaDescriptor(new SubmitServiceFileDescriptorSupplier())
              .addMethod(getSubmitMethod())
              .addMethod(getSubmitBatchMethod())
              .build();
        }
      }
    }
    return result;
  }
}
