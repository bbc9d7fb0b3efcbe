package dev.jobsvc.v1;

import static io.grpc.MethodDescriptor.generateFullMethodName;

/**
 * <pre>
 * Run a job and wait for its result, RPC-style.
 * </pre>
 */
@io.grpc.stub.annotations.GrpcGenerated
public final class CallServiceGrpc {

  private CallServiceGrpc() {}

  public static final java.lang.String SERVICE_NAME = "jobsvc.v1.CallService";

  // Static method descriptors that strictly reflect the proto.
  private static volatile io.grpc.MethodDescriptor<dev.jobsvc.v1.CallRequest,
      dev.jobsvc.v1.CallResponse> getCallMethod;

  @io.grpc.stub.annotations.RpcMethod(
      fullMethodName = SERVICE_NAME + '/' + "Call",
      requestType = dev.jobsvc.v1.CallRequest.class,
      responseType = dev.jobsvc.v1.CallResponse.class,
      methodType = io.grpc.MethodDescriptor.MethodType.UNARY)
  public static io.grpc.MethodDescriptor<dev.jobsvc.v1.CallRequest,
      dev.jobsvc.v1.CallResponse> getCallMethod() {
    io.grpc.MethodDescriptor<dev.jobsvc.v1.CallRequest, dev.jobsvc.v1.CallResponse> getCallMethod;
    if ((getCallMethod = CallServiceGrpc.getCallMethod) == null) {
      synchronized (CallServiceGrpc.class) {
        if ((getCallMethod = CallServiceGrpc.getCallMethod) == null) {
          CallServiceGrpc.getCallMethod = getCallMethod =
              io.grpc.MethodDescriptor.<dev.jobsvc.v1.CallRequest, dev.jobsvc.v1.CallResponse>newBuilder()
              .setType(io.grpc.MethodDescriptor.MethodType.UNARY)
              .setFullMethodName(generateFullMethodName(SERVICE_NAME, "Call"))
              .setSampledToLocalTracing(true)
              .setRequestMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.jobsvc.v1.CallRequest.getDefaultInstance()))
              .setResponseMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.jobsvc.v1.CallResponse.getDefaultInstance()))
              .setSchemaDescriptor(new CallServiceMethodDescriptorSupplier("Call"))
              .build();
        }
      }
    }
    return getCallMethod;
  }

  /**
   * Creates a new async stub that supports all call types for the service
   */
  public static CallServiceStub newStub(io.grpc.Channel channel) {
    io.grpc.stub.AbstractStub.StubFactory<CallServiceStub> factory =
      new io.grpc.stub.AbstractStub.StubFactory<CallServiceStub>() {
        @java.lang.Override
        public CallServiceStub newStub(io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
          return new CallServiceStub(channel, callOptions);
        }
      };
    return CallServiceStub.newStub(factory, channel);
  }

  /**
   * Creates a new blocking-style stub that supports all types of calls on the service
   */
  public static CallServiceBlockingV2Stub newBlockingV2Stub(
      io.grpc.Channel channel) {
    io.grpc.stub.AbstractStub.StubFactory<CallServiceBlockingV2Stub> factory =
      new io.grpc.stub.AbstractStub.StubFactory<CallServiceBlockingV2Stub>() {
        @java.lang.Override
        public CallServiceBlockingV2Stub newStub(io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
          return new CallServiceBlockingV2Stub(channel, callOptions);
        }
      };
    return CallServiceBlockingV2Stub.newStub(factory, channel);
  }

  /**
   * Creates a new blocking-style stub that supports unary and streaming output calls on the service
   */
  public static CallServiceBlockingStub newBlockingStub(
      io.grpc.Channel channel) {
    io.grpc.stub.AbstractStub.StubFactory<CallServiceBlockingStub> factory =
      new io.grpc.stub.AbstractStub.StubFactory<CallServiceBlockingStub>() {
        @java.lang.Override
        public CallServiceBlockingStub newStub(io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
          return new CallServiceBlockingStub(channel, callOptions);
        }
      };
    return CallServiceBlockingStub.newStub(factory, channel);
  }

  /**
   * Creates a new ListenableFuture-style stub that supports unary calls on the service
   */
  public static CallServiceFutureStub newFutureStub(
      io.grpc.Channel channel) {
    io.grpc.stub.AbstractStub.StubFactory<CallServiceFutureStub> factory =
      new io.grpc.stub.AbstractStub.StubFactory<CallServiceFutureStub>() {
        @java.lang.Override
        public CallServiceFutureStub newStub(io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
          return new CallServiceFutureStub(channel, callOptions);
        }
      };
    return CallServiceFutureStub.newStub(factory, channel);
  }

  /**
   * <pre>
   * Run a job and wait for its result, RPC-style.
   * </pre>
   */
  public interface AsyncService {

    /**
     * <pre>
     * Submit and wait within the caller's deadline. A job that fails is a result
     * (job.state FAILED with job.error), not a failed RPC. When the deadline passes
     * the RPC ends with DEADLINE_EXCEEDED and the job carries on; its id is in the
     * response's initial metadata (`jobsvc-job-id`) and GetJob fetches it later.
     * </pre>
     */
    default void call(dev.jobsvc.v1.CallRequest request,
        io.grpc.stub.StreamObserver<dev.jobsvc.v1.CallResponse> responseObserver) {
      io.grpc.stub.ServerCalls.asyncUnimplementedUnaryCall(getCallMethod(), responseObserver);
    }
  }

  /**
   * Base class for the server implementation of the service CallService.
   * <pre>
   * Run a job and wait for its result, RPC-style.
   * </pre>
   */
  public static abstract class CallServiceImplBase
      implements io.grpc.BindableService, AsyncService {

    @java.lang.Override public final io.grpc.ServerServiceDefinition bindService() {
      return CallServiceGrpc.bindService(this);
    }
  }

  /**
   * A stub to allow clients to do asynchronous rpc calls to service CallService.
   * <pre>
   * Run a job and wait for its result, RPC-style.
   * </pre>
   */
  public static final class CallServiceStub
      extends io.grpc.stub.AbstractAsyncStub<CallServiceStub> {
    private CallServiceStub(
        io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
      super(channel, callOptions);
    }

    @java.lang.Override
    protected CallServiceStub build(
        io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
      return new CallServiceStub(channel, callOptions);
    }

    /**
     * <pre>
     * Submit and wait within the caller's deadline. A job that fails is a result
     * (job.state FAILED with job.error), not a failed RPC. When the deadline passes
     * the RPC ends with DEADLINE_EXCEEDED and the job carries on; its id is in the
     * response's initial metadata (`jobsvc-job-id`) and GetJob fetches it later.
     * </pre>
     */
    public void call(dev.jobsvc.v1.CallRequest request,
        io.grpc.stub.StreamObserver<dev.jobsvc.v1.CallResponse> responseObserver) {
      io.grpc.stub.ClientCalls.asyncUnaryCall(
          getChannel().newCall(getCallMethod(), getCallOptions()), request, responseObserver);
    }
  }

  /**
   * A stub to allow clients to do synchronous rpc calls to service CallService.
   * <pre>
   * Run a job and wait for its result, RPC-style.
   * </pre>
   */
  public static final class CallServiceBlockingV2Stub
      extends io.grpc.stub.AbstractBlockingStub<CallServiceBlockingV2Stub> {
    private CallServiceBlockingV2Stub(
        io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
      super(channel, callOptions);
    }

    @java.lang.Override
    protected CallServiceBlockingV2Stub build(
        io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
      return new CallServiceBlockingV2Stub(channel, callOptions);
    }

    /**
     * <pre>
     * Submit and wait within the caller's deadline. A job that fails is a result
     * (job.state FAILED with job.error), not a failed RPC. When the deadline passes
     * the RPC ends with DEADLINE_EXCEEDED and the job carries on; its id is in the
     * response's initial metadata (`jobsvc-job-id`) and GetJob fetches it later.
     * </pre>
     */
    public dev.jobsvc.v1.CallResponse call(dev.jobsvc.v1.CallRequest request) throws io.grpc.StatusException {
      return io.grpc.stub.ClientCalls.blockingV2UnaryCall(
          getChannel(), getCallMethod(), getCallOptions(), request);
    }
  }

  /**
   * A stub to allow clients to do limited synchronous rpc calls to service CallService.
   * <pre>
   * Run a job and wait for its result, RPC-style.
   * </pre>
   */
  public static final class CallServiceBlockingStub
      extends io.grpc.stub.AbstractBlockingStub<CallServiceBlockingStub> {
    private CallServiceBlockingStub(
        io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
      super(channel, callOptions);
    }

    @java.lang.Override
    protected CallServiceBlockingStub build(
        io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
      return new CallServiceBlockingStub(channel, callOptions);
    }

    /**
     * <pre>
     * Submit and wait within the caller's deadline. A job that fails is a result
     * (job.state FAILED with job.error), not a failed RPC. When the deadline passes
     * the RPC ends with DEADLINE_EXCEEDED and the job carries on; its id is in the
     * response's initial metadata (`jobsvc-job-id`) and GetJob fetches it later.
     * </pre>
     */
    public dev.jobsvc.v1.CallResponse call(dev.jobsvc.v1.CallRequest request) {
      return io.grpc.stub.ClientCalls.blockingUnaryCall(
          getChannel(), getCallMethod(), getCallOptions(), request);
    }
  }

  /**
   * A stub to allow clients to do ListenableFuture-style rpc calls to service CallService.
   * <pre>
   * Run a job and wait for its result, RPC-style.
   * </pre>
   */
  public static final class CallServiceFutureStub
      extends io.grpc.stub.AbstractFutureStub<CallServiceFutureStub> {
    private CallServiceFutureStub(
        io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
      super(channel, callOptions);
    }

    @java.lang.Override
    protected CallServiceFutureStub build(
        io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
      return new CallServiceFutureStub(channel, callOptions);
    }

    /**
     * <pre>
     * Submit and wait within the caller's deadline. A job that fails is a result
     * (job.state FAILED with job.error), not a failed RPC. When the deadline passes
     * the RPC ends with DEADLINE_EXCEEDED and the job carries on; its id is in the
     * response's initial metadata (`jobsvc-job-id`) and GetJob fetches it later.
     * </pre>
     */
    public com.google.common.util.concurrent.ListenableFuture<dev.jobsvc.v1.CallResponse> call(
        dev.jobsvc.v1.CallRequest request) {
      return io.grpc.stub.ClientCalls.futureUnaryCall(
          getChannel().newCall(getCallMethod(), getCallOptions()), request);
    }
  }

  private static final int METHODID_CALL = 0;

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
        case METHODID_CALL:
          serviceImpl.call((dev.jobsvc.v1.CallRequest) request,
              (io.grpc.stub.StreamObserver<dev.jobsvc.v1.CallResponse>) responseObserver);
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
          getCallMethod(),
          io.grpc.stub.ServerCalls.asyncUnaryCall(
            new MethodHandlers<
              dev.jobsvc.v1.CallRequest,
              dev.jobsvc.v1.CallResponse>(
                service, METHODID_CALL)))
        .build();
  }

  private static abstract class CallServiceBaseDescriptorSupplier
      implements io.grpc.protobuf.ProtoFileDescriptorSupplier, io.grpc.protobuf.ProtoServiceDescriptorSupplier {
    CallServiceBaseDescriptorSupplier() {}

    @java.lang.Override
    public com.google.protobuf.Descriptors.FileDescriptor getFileDescriptor() {
      return dev.jobsvc.v1.CallServiceOuterClass.getDescriptor();
    }

    @java.lang.Override
    public com.google.protobuf.Descriptors.ServiceDescriptor getServiceDescriptor() {
      return getFileDescriptor().findServiceByName("CallService");
    }
  }

  private static final class CallServiceFileDescriptorSupplier
      extends CallServiceBaseDescriptorSupplier {
    CallServiceFileDescriptorSupplier() {}
  }

  private static final class CallServiceMethodDescriptorSupplier
      extends CallServiceBaseDescriptorSupplier
      implements io.grpc.protobuf.ProtoMethodDescriptorSupplier {
    private final java.lang.String methodName;

    CallServiceMethodDescriptorSupplier(java.lang.String methodName) {
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
      synchronized (CallServiceGrpc.class) {
        result = serviceDescriptor;
        if (result == null) {
          serviceDescriptor = result = io.grpc.ServiceDescriptor.newBuilder(SERVICE_NAME)
              .setSchemaDescriptor(new CallServiceFileDescriptorSupplier())
              .addMethod(getCallMethod())
              .build();
        }
      }
    }
    return result;
  }
}
