package dev.jobsvc.v1;

import static io.grpc.MethodDescriptor.generateFullMethodName;

/**
 * <pre>
 * Inspect and manage jobs, and discover handlers.
 * </pre>
 */
@io.grpc.stub.annotations.GrpcGenerated
public final class JobServiceGrpc {

  private JobServiceGrpc() {}

  public static final java.lang.String SERVICE_NAME = "jobsvc.v1.JobService";

  // Static method descriptors that strictly reflect the proto.
  private static volatile io.grpc.MethodDescriptor<dev.jobsvc.v1.GetJobRequest,
      dev.jobsvc.v1.GetJobResponse> getGetJobMethod;

  @io.grpc.stub.annotations.RpcMethod(
      fullMethodName = SERVICE_NAME + '/' + "GetJob",
      requestType = dev.jobsvc.v1.GetJobRequest.class,
      responseType = dev.jobsvc.v1.GetJobResponse.class,
      methodType = io.grpc.MethodDescriptor.MethodType.UNARY)
  public static io.grpc.MethodDescriptor<dev.jobsvc.v1.GetJobRequest,
      dev.jobsvc.v1.GetJobResponse> getGetJobMethod() {
    io.grpc.MethodDescriptor<dev.jobsvc.v1.GetJobRequest, dev.jobsvc.v1.GetJobResponse> getGetJobMethod;
    if ((getGetJobMethod = JobServiceGrpc.getGetJobMethod) == null) {
      synchronized (JobServiceGrpc.class) {
        if ((getGetJobMethod = JobServiceGrpc.getGetJobMethod) == null) {
          JobServiceGrpc.getGetJobMethod = getGetJobMethod =
              io.grpc.MethodDescriptor.<dev.jobsvc.v1.GetJobRequest, dev.jobsvc.v1.GetJobResponse>newBuilder()
              .setType(io.grpc.MethodDescriptor.MethodType.UNARY)
              .setFullMethodName(generateFullMethodName(SERVICE_NAME, "GetJob"))
              .setSampledToLocalTracing(true)
              .setRequestMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.jobsvc.v1.GetJobRequest.getDefaultInstance()))
              .setResponseMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.jobsvc.v1.GetJobResponse.getDefaultInstance()))
              .setSchemaDescriptor(new JobServiceMethodDescriptorSupplier("GetJob"))
              .build();
        }
      }
    }
    return getGetJobMethod;
  }

  private static volatile io.grpc.MethodDescriptor<dev.jobsvc.v1.ListJobsRequest,
      dev.jobsvc.v1.ListJobsResponse> getListJobsMethod;

  @io.grpc.stub.annotations.RpcMethod(
      fullMethodName = SERVICE_NAME + '/' + "ListJobs",
      requestType = dev.jobsvc.v1.ListJobsRequest.class,
      responseType = dev.jobsvc.v1.ListJobsResponse.class,
      methodType = io.grpc.MethodDescriptor.MethodType.UNARY)
  public static io.grpc.MethodDescriptor<dev.jobsvc.v1.ListJobsRequest,
      dev.jobsvc.v1.ListJobsResponse> getListJobsMethod() {
    io.grpc.MethodDescriptor<dev.jobsvc.v1.ListJobsRequest, dev.jobsvc.v1.ListJobsResponse> getListJobsMethod;
    if ((getListJobsMethod = JobServiceGrpc.getListJobsMethod) == null) {
      synchronized (JobServiceGrpc.class) {
        if ((getListJobsMethod = JobServiceGrpc.getListJobsMethod) == null) {
          JobServiceGrpc.getListJobsMethod = getListJobsMethod =
              io.grpc.MethodDescriptor.<dev.jobsvc.v1.ListJobsRequest, dev.jobsvc.v1.ListJobsResponse>newBuilder()
              .setType(io.grpc.MethodDescriptor.MethodType.UNARY)
              .setFullMethodName(generateFullMethodName(SERVICE_NAME, "ListJobs"))
              .setSampledToLocalTracing(true)
              .setRequestMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.jobsvc.v1.ListJobsRequest.getDefaultInstance()))
              .setResponseMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.jobsvc.v1.ListJobsResponse.getDefaultInstance()))
              .setSchemaDescriptor(new JobServiceMethodDescriptorSupplier("ListJobs"))
              .build();
        }
      }
    }
    return getListJobsMethod;
  }

  private static volatile io.grpc.MethodDescriptor<dev.jobsvc.v1.CancelJobRequest,
      dev.jobsvc.v1.CancelJobResponse> getCancelJobMethod;

  @io.grpc.stub.annotations.RpcMethod(
      fullMethodName = SERVICE_NAME + '/' + "CancelJob",
      requestType = dev.jobsvc.v1.CancelJobRequest.class,
      responseType = dev.jobsvc.v1.CancelJobResponse.class,
      methodType = io.grpc.MethodDescriptor.MethodType.UNARY)
  public static io.grpc.MethodDescriptor<dev.jobsvc.v1.CancelJobRequest,
      dev.jobsvc.v1.CancelJobResponse> getCancelJobMethod() {
    io.grpc.MethodDescriptor<dev.jobsvc.v1.CancelJobRequest, dev.jobsvc.v1.CancelJobResponse> getCancelJobMethod;
    if ((getCancelJobMethod = JobServiceGrpc.getCancelJobMethod) == null) {
      synchronized (JobServiceGrpc.class) {
        if ((getCancelJobMethod = JobServiceGrpc.getCancelJobMethod) == null) {
          JobServiceGrpc.getCancelJobMethod = getCancelJobMethod =
              io.grpc.MethodDescriptor.<dev.jobsvc.v1.CancelJobRequest, dev.jobsvc.v1.CancelJobResponse>newBuilder()
              .setType(io.grpc.MethodDescriptor.MethodType.UNARY)
              .setFullMethodName(generateFullMethodName(SERVICE_NAME, "CancelJob"))
              .setSampledToLocalTracing(true)
              .setRequestMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.jobsvc.v1.CancelJobRequest.getDefaultInstance()))
              .setResponseMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.jobsvc.v1.CancelJobResponse.getDefaultInstance()))
              .setSchemaDescriptor(new JobServiceMethodDescriptorSupplier("CancelJob"))
              .build();
        }
      }
    }
    return getCancelJobMethod;
  }

  private static volatile io.grpc.MethodDescriptor<dev.jobsvc.v1.ListHandlersRequest,
      dev.jobsvc.v1.ListHandlersResponse> getListHandlersMethod;

  @io.grpc.stub.annotations.RpcMethod(
      fullMethodName = SERVICE_NAME + '/' + "ListHandlers",
      requestType = dev.jobsvc.v1.ListHandlersRequest.class,
      responseType = dev.jobsvc.v1.ListHandlersResponse.class,
      methodType = io.grpc.MethodDescriptor.MethodType.UNARY)
  public static io.grpc.MethodDescriptor<dev.jobsvc.v1.ListHandlersRequest,
      dev.jobsvc.v1.ListHandlersResponse> getListHandlersMethod() {
    io.grpc.MethodDescriptor<dev.jobsvc.v1.ListHandlersRequest, dev.jobsvc.v1.ListHandlersResponse> getListHandlersMethod;
    if ((getListHandlersMethod = JobServiceGrpc.getListHandlersMethod) == null) {
      synchronized (JobServiceGrpc.class) {
        if ((getListHandlersMethod = JobServiceGrpc.getListHandlersMethod) == null) {
          JobServiceGrpc.getListHandlersMethod = getListHandlersMethod =
              io.grpc.MethodDescriptor.<dev.jobsvc.v1.ListHandlersRequest, dev.jobsvc.v1.ListHandlersResponse>newBuilder()
              .setType(io.grpc.MethodDescriptor.MethodType.UNARY)
              .setFullMethodName(generateFullMethodName(SERVICE_NAME, "ListHandlers"))
              .setSampledToLocalTracing(true)
              .setRequestMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.jobsvc.v1.ListHandlersRequest.getDefaultInstance()))
              .setResponseMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.jobsvc.v1.ListHandlersResponse.getDefaultInstance()))
              .setSchemaDescriptor(new JobServiceMethodDescriptorSupplier("ListHandlers"))
              .build();
        }
      }
    }
    return getListHandlersMethod;
  }

  private static volatile io.grpc.MethodDescriptor<dev.jobsvc.v1.RedriveJobRequest,
      dev.jobsvc.v1.RedriveJobResponse> getRedriveJobMethod;

  @io.grpc.stub.annotations.RpcMethod(
      fullMethodName = SERVICE_NAME + '/' + "RedriveJob",
      requestType = dev.jobsvc.v1.RedriveJobRequest.class,
      responseType = dev.jobsvc.v1.RedriveJobResponse.class,
      methodType = io.grpc.MethodDescriptor.MethodType.UNARY)
  public static io.grpc.MethodDescriptor<dev.jobsvc.v1.RedriveJobRequest,
      dev.jobsvc.v1.RedriveJobResponse> getRedriveJobMethod() {
    io.grpc.MethodDescriptor<dev.jobsvc.v1.RedriveJobRequest, dev.jobsvc.v1.RedriveJobResponse> getRedriveJobMethod;
    if ((getRedriveJobMethod = JobServiceGrpc.getRedriveJobMethod) == null) {
      synchronized (JobServiceGrpc.class) {
        if ((getRedriveJobMethod = JobServiceGrpc.getRedriveJobMethod) == null) {
          JobServiceGrpc.getRedriveJobMethod = getRedriveJobMethod =
              io.grpc.MethodDescriptor.<dev.jobsvc.v1.RedriveJobRequest, dev.jobsvc.v1.RedriveJobResponse>newBuilder()
              .setType(io.grpc.MethodDescriptor.MethodType.UNARY)
              .setFullMethodName(generateFullMethodName(SERVICE_NAME, "RedriveJob"))
              .setSampledToLocalTracing(true)
              .setRequestMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.jobsvc.v1.RedriveJobRequest.getDefaultInstance()))
              .setResponseMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.jobsvc.v1.RedriveJobResponse.getDefaultInstance()))
              .setSchemaDescriptor(new JobServiceMethodDescriptorSupplier("RedriveJob"))
              .build();
        }
      }
    }
    return getRedriveJobMethod;
  }

  private static volatile io.grpc.MethodDescriptor<dev.jobsvc.v1.RedriveJobsRequest,
      dev.jobsvc.v1.RedriveJobsResponse> getRedriveJobsMethod;

  @io.grpc.stub.annotations.RpcMethod(
      fullMethodName = SERVICE_NAME + '/' + "RedriveJobs",
      requestType = dev.jobsvc.v1.RedriveJobsRequest.class,
      responseType = dev.jobsvc.v1.RedriveJobsResponse.class,
      methodType = io.grpc.MethodDescriptor.MethodType.UNARY)
  public static io.grpc.MethodDescriptor<dev.jobsvc.v1.RedriveJobsRequest,
      dev.jobsvc.v1.RedriveJobsResponse> getRedriveJobsMethod() {
    io.grpc.MethodDescriptor<dev.jobsvc.v1.RedriveJobsRequest, dev.jobsvc.v1.RedriveJobsResponse> getRedriveJobsMethod;
    if ((getRedriveJobsMethod = JobServiceGrpc.getRedriveJobsMethod) == null) {
      synchronized (JobServiceGrpc.class) {
        if ((getRedriveJobsMethod = JobServiceGrpc.getRedriveJobsMethod) == null) {
          JobServiceGrpc.getRedriveJobsMethod = getRedriveJobsMethod =
              io.grpc.MethodDescriptor.<dev.jobsvc.v1.RedriveJobsRequest, dev.jobsvc.v1.RedriveJobsResponse>newBuilder()
              .setType(io.grpc.MethodDescriptor.MethodType.UNARY)
              .setFullMethodName(generateFullMethodName(SERVICE_NAME, "RedriveJobs"))
              .setSampledToLocalTracing(true)
              .setRequestMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.jobsvc.v1.RedriveJobsRequest.getDefaultInstance()))
              .setResponseMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.jobsvc.v1.RedriveJobsResponse.getDefaultInstance()))
              .setSchemaDescriptor(new JobServiceMethodDescriptorSupplier("RedriveJobs"))
              .build();
        }
      }
    }
    return getRedriveJobsMethod;
  }

  /**
   * Creates a new async stub that supports all call types for the service
   */
  public static JobServiceStub newStub(io.grpc.Channel channel) {
    io.grpc.stub.AbstractStub.StubFactory<JobServiceStub> factory =
      new io.grpc.stub.AbstractStub.StubFactory<JobServiceStub>() {
        @java.lang.Override
        public JobServiceStub newStub(io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
          return new JobServiceStub(channel, callOptions);
        }
      };
    return JobServiceStub.newStub(factory, channel);
  }

  /**
   * Creates a new blocking-style stub that supports all types of calls on the service
   */
  public static JobServiceBlockingV2Stub newBlockingV2Stub(
      io.grpc.Channel channel) {
    io.grpc.stub.AbstractStub.StubFactory<JobServiceBlockingV2Stub> factory =
      new io.grpc.stub.AbstractStub.StubFactory<JobServiceBlockingV2Stub>() {
        @java.lang.Override
        public JobServiceBlockingV2Stub newStub(io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
          return new JobServiceBlockingV2Stub(channel, callOptions);
        }
      };
    return JobServiceBlockingV2Stub.newStub(factory, channel);
  }

  /**
   * Creates a new blocking-style stub that supports unary and streaming output calls on the service
   */
  public static JobServiceBlockingStub newBlockingStub(
      io.grpc.Channel channel) {
    io.grpc.stub.AbstractStub.StubFactory<JobServiceBlockingStub> factory =
      new io.grpc.stub.AbstractStub.StubFactory<JobServiceBlockingStub>() {
        @java.lang.Override
        public JobServiceBlockingStub newStub(io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
          return new JobServiceBlockingStub(channel, callOptions);
        }
      };
    return JobServiceBlockingStub.newStub(factory, channel);
  }

  /**
   * Creates a new ListenableFuture-style stub that supports unary calls on the service
   */
  public static JobServiceFutureStub newFutureStub(
      io.grpc.Channel channel) {
    io.grpc.stub.AbstractStub.StubFactory<JobServiceFutureStub> factory =
      new io.grpc.stub.AbstractStub.StubFactory<JobServiceFutureStub>() {
        @java.lang.Override
        public JobServiceFutureStub newStub(io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
          return new JobServiceFutureStub(channel, callOptions);
        }
      };
    return JobServiceFutureStub.newStub(factory, channel);
  }

  /**
   * <pre>
   * Inspect and manage jobs, and discover handlers.
   * </pre>
   */
  public interface AsyncService {

    /**
     */
    default void getJob(dev.jobsvc.v1.GetJobRequest request,
        io.grpc.stub.StreamObserver<dev.jobsvc.v1.GetJobResponse> responseObserver) {
      io.grpc.stub.ServerCalls.asyncUnimplementedUnaryCall(getGetJobMethod(), responseObserver);
    }

    /**
     * <pre>
     * Newest first.
     * </pre>
     */
    default void listJobs(dev.jobsvc.v1.ListJobsRequest request,
        io.grpc.stub.StreamObserver<dev.jobsvc.v1.ListJobsResponse> responseObserver) {
      io.grpc.stub.ServerCalls.asyncUnimplementedUnaryCall(getListJobsMethod(), responseObserver);
    }

    /**
     * <pre>
     * Cancel a queued job at once, or ask the executor of a running job to stop it
     * (the answer is then still RUNNING with cancel_requested set; the job ends
     * CANCELLED). Cancelling a CANCELLED job, or a running one already asked to stop,
     * answers OK and changes nothing (the first reason stays), so a retried cancel is
     * no error. FAILED_PRECONDITION (reason JOB_ALREADY_FINISHED) when the job
     * SUCCEEDED or FAILED.
     * </pre>
     */
    default void cancelJob(dev.jobsvc.v1.CancelJobRequest request,
        io.grpc.stub.StreamObserver<dev.jobsvc.v1.CancelJobResponse> responseObserver) {
      io.grpc.stub.ServerCalls.asyncUnimplementedUnaryCall(getCancelJobMethod(), responseObserver);
    }

    /**
     */
    default void listHandlers(dev.jobsvc.v1.ListHandlersRequest request,
        io.grpc.stub.StreamObserver<dev.jobsvc.v1.ListHandlersResponse> responseObserver) {
      io.grpc.stub.ServerCalls.asyncUnimplementedUnaryCall(getListHandlersMethod(), responseObserver);
    }

    /**
     * <pre>
     * Re-run a dead-lettered (FAILED) job as a new job with a fresh attempt budget;
     * the answer is the new job (its `redrive_of` is this id). A job is redriven once:
     * FAILED_PRECONDITION (reason JOB_NOT_DEAD_LETTERED) when it is not FAILED or was
     * redriven before (redrive the new job to run it again).
     * </pre>
     */
    default void redriveJob(dev.jobsvc.v1.RedriveJobRequest request,
        io.grpc.stub.StreamObserver<dev.jobsvc.v1.RedriveJobResponse> responseObserver) {
      io.grpc.stub.ServerCalls.asyncUnimplementedUnaryCall(getRedriveJobMethod(), responseObserver);
    }

    /**
     * <pre>
     * Re-run every dead-lettered job of a handler that was not redriven before.
     * </pre>
     */
    default void redriveJobs(dev.jobsvc.v1.RedriveJobsRequest request,
        io.grpc.stub.StreamObserver<dev.jobsvc.v1.RedriveJobsResponse> responseObserver) {
      io.grpc.stub.ServerCalls.asyncUnimplementedUnaryCall(getRedriveJobsMethod(), responseObserver);
    }
  }

  /**
   * Base class for the server implementation of the service JobService.
   * <pre>
   * Inspect and manage jobs, and discover handlers.
   * </pre>
   */
  public static abstract class JobServiceImplBase
      implements io.grpc.BindableService, AsyncService {

    @java.lang.Override public final io.grpc.ServerServiceDefinition bindService() {
      return JobServiceGrpc.bindService(this);
    }
  }

  /**
   * A stub to allow clients to do asynchronous rpc calls to service JobService.
   * <pre>
   * Inspect and manage jobs, and discover handlers.
   * </pre>
   */
  public static final class JobServiceStub
      extends io.grpc.stub.AbstractAsyncStub<JobServiceStub> {
    private JobServiceStub(
        io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
      super(channel, callOptions);
    }

    @java.lang.Override
    protected JobServiceStub build(
        io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
      return new JobServiceStub(channel, callOptions);
    }

    /**
     */
    public void getJob(dev.jobsvc.v1.GetJobRequest request,
        io.grpc.stub.StreamObserver<dev.jobsvc.v1.GetJobResponse> responseObserver) {
      io.grpc.stub.ClientCalls.asyncUnaryCall(
          getChannel().newCall(getGetJobMethod(), getCallOptions()), request, responseObserver);
    }

    /**
     * <pre>
     * Newest first.
     * </pre>
     */
    public void listJobs(dev.jobsvc.v1.ListJobsRequest request,
        io.grpc.stub.StreamObserver<dev.jobsvc.v1.ListJobsResponse> responseObserver) {
      io.grpc.stub.ClientCalls.asyncUnaryCall(
          getChannel().newCall(getListJobsMethod(), getCallOptions()), request, responseObserver);
    }

    /**
     * <pre>
     * Cancel a queued job at once, or ask the executor of a running job to stop it
     * (the answer is then still RUNNING with cancel_requested set; the job ends
     * CANCELLED). Cancelling a CANCELLED job, or a running one already asked to stop,
     * answers OK and changes nothing (the first reason stays), so a retried cancel is
     * no error. FAILED_PRECONDITION (reason JOB_ALREADY_FINISHED) when the job
     * SUCCEEDED or FAILED.
     * </pre>
     */
    public void cancelJob(dev.jobsvc.v1.CancelJobRequest request,
        io.grpc.stub.StreamObserver<dev.jobsvc.v1.CancelJobResponse> responseObserver) {
      io.grpc.stub.ClientCalls.asyncUnaryCall(
          getChannel().newCall(getCancelJobMethod(), getCallOptions()), request, responseObserver);
    }

    /**
     */
    public void listHandlers(dev.jobsvc.v1.ListHandlersRequest request,
        io.grpc.stub.StreamObserver<dev.jobsvc.v1.ListHandlersResponse> responseObserver) {
      io.grpc.stub.ClientCalls.asyncUnaryCall(
          getChannel().newCall(getListHandlersMethod(), getCallOptions()), request, responseObserver);
    }

    /**
     * <pre>
     * Re-run a dead-lettered (FAILED) job as a new job with a fresh attempt budget;
     * the answer is the new job (its `redrive_of` is this id). A job is redriven once:
     * FAILED_PRECONDITION (reason JOB_NOT_DEAD_LETTERED) when it is not FAILED or was
     * redriven before (redrive the new job to run it again).
     * </pre>
     */
    public void redriveJob(dev.jobsvc.v1.RedriveJobRequest request,
        io.grpc.stub.StreamObserver<dev.jobsvc.v1.RedriveJobResponse> responseObserver) {
      io.grpc.stub.ClientCalls.asyncUnaryCall(
          getChannel().newCall(getRedriveJobMethod(), getCallOptions()), request, responseObserver);
    }

    /**
     * <pre>
     * Re-run every dead-lettered job of a handler that was not redriven before.
     * </pre>
     */
    public void redriveJobs(dev.jobsvc.v1.RedriveJobsRequest request,
        io.grpc.stub.StreamObserver<dev.jobsvc.v1.RedriveJobsResponse> responseObserver) {
      io.grpc.stub.ClientCalls.asyncUnaryCall(
          getChannel().newCall(getRedriveJobsMethod(), getCallOptions()), request, responseObserver);
    }
  }

  /**
   * A stub to allow clients to do synchronous rpc calls to service JobService.
   * <pre>
   * Inspect and manage jobs, and discover handlers.
   * </pre>
   */
  public static final class JobServiceBlockingV2Stub
      extends io.grpc.stub.AbstractBlockingStub<JobServiceBlockingV2Stub> {
    private JobServiceBlockingV2Stub(
        io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
      super(channel, callOptions);
    }

    @java.lang.Override
    protected JobServiceBlockingV2Stub build(
        io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
      return new JobServiceBlockingV2Stub(channel, callOptions);
    }

    /**
     */
    public dev.jobsvc.v1.GetJobResponse getJob(dev.jobsvc.v1.GetJobRequest request) throws io.grpc.StatusException {
      return io.grpc.stub.ClientCalls.blockingV2UnaryCall(
          getChannel(), getGetJobMethod(), getCallOptions(), request);
    }

    /**
     * <pre>
     * Newest first.
     * </pre>
     */
    public dev.jobsvc.v1.ListJobsResponse listJobs(dev.jobsvc.v1.ListJobsRequest request) throws io.grpc.StatusException {
      return io.grpc.stub.ClientCalls.blockingV2UnaryCall(
          getChannel(), getListJobsMethod(), getCallOptions(), request);
    }

    /**
     * <pre>
     * Cancel a queued job at once, or ask the executor of a running job to stop it
     * (the answer is then still RUNNING with cancel_requested set; the job ends
     * CANCELLED). Cancelling a CANCELLED job, or a running one already asked to stop,
     * answers OK and changes nothing (the first reason stays), so a retried cancel is
     * no error. FAILED_PRECONDITION (reason JOB_ALREADY_FINISHED) when the job
     * SUCCEEDED or FAILED.
     * </pre>
     */
    public dev.jobsvc.v1.CancelJobResponse cancelJob(dev.jobsvc.v1.CancelJobRequest request) throws io.grpc.StatusException {
      return io.grpc.stub.ClientCalls.blockingV2UnaryCall(
          getChannel(), getCancelJobMethod(), getCallOptions(), request);
    }

    /**
     */
    public dev.jobsvc.v1.ListHandlersResponse listHandlers(dev.jobsvc.v1.ListHandlersRequest request) throws io.grpc.StatusException {
      return io.grpc.stub.ClientCalls.blockingV2UnaryCall(
          getChannel(), getListHandlersMethod(), getCallOptions(), request);
    }

    /**
     * <pre>
     * Re-run a dead-lettered (FAILED) job as a new job with a fresh attempt budget;
     * the answer is the new job (its `redrive_of` is this id). A job is redriven once:
     * FAILED_PRECONDITION (reason JOB_NOT_DEAD_LETTERED) when it is not FAILED or was
     * redriven before (redrive the new job to run it again).
     * </pre>
     */
    public dev.jobsvc.v1.RedriveJobResponse redriveJob(dev.jobsvc.v1.RedriveJobRequest request) throws io.grpc.StatusException {
      return io.grpc.stub.ClientCalls.blockingV2UnaryCall(
          getChannel(), getRedriveJobMethod(), getCallOptions(), request);
    }

    /**
     * <pre>
     * Re-run every dead-lettered job of a handler that was not redriven before.
     * </pre>
     */
    public dev.jobsvc.v1.RedriveJobsResponse redriveJobs(dev.jobsvc.v1.RedriveJobsRequest request) throws io.grpc.StatusException {
      return io.grpc.stub.ClientCalls.blockingV2UnaryCall(
          getChannel(), getRedriveJobsMethod(), getCallOptions(), request);
    }
  }

  /**
   * A stub to allow clients to do limited synchronous rpc calls to service JobService.
   * <pre>
   * Inspect and manage jobs, and discover handlers.
   * </pre>
   */
  public static final class JobServiceBlockingStub
      extends io.grpc.stub.AbstractBlockingStub<JobServiceBlockingStub> {
    private JobServiceBlockingStub(
        io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
      super(channel, callOptions);
    }

    @java.lang.Override
    protected JobServiceBlockingStub build(
        io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
      return new JobServiceBlockingStub(channel, callOptions);
    }

    /**
     */
    public dev.jobsvc.v1.GetJobResponse getJob(dev.jobsvc.v1.GetJobRequest request) {
      return io.grpc.stub.ClientCalls.blockingUnaryCall(
          getChannel(), getGetJobMethod(), getCallOptions(), request);
    }

    /**
     * <pre>
     * Newest first.
     * </pre>
     */
    public dev.jobsvc.v1.ListJobsResponse listJobs(dev.jobsvc.v1.ListJobsRequest request) {
      return io.grpc.stub.ClientCalls.blockingUnaryCall(
          getChannel(), getListJobsMethod(), getCallOptions(), request);
    }

    /**
     * <pre>
     * Cancel a queued job at once, or ask the executor of a running job to stop it
     * (the answer is then still RUNNING with cancel_requested set; the job ends
     * CANCELLED). Cancelling a CANCELLED job, or a running one already asked to stop,
     * answers OK and changes nothing (the first reason stays), so a retried cancel is
     * no error. FAILED_PRECONDITION (reason JOB_ALREADY_FINISHED) when the job
     * SUCCEEDED or FAILED.
     * </pre>
     */
    public dev.jobsvc.v1.CancelJobResponse cancelJob(dev.jobsvc.v1.CancelJobRequest request) {
      return io.grpc.stub.ClientCalls.blockingUnaryCall(
          getChannel(), getCancelJobMethod(), getCallOptions(), request);
    }

    /**
     */
    public dev.jobsvc.v1.ListHandlersResponse listHandlers(dev.jobsvc.v1.ListHandlersRequest request) {
      return io.grpc.stub.ClientCalls.blockingUnaryCall(
          getChannel(), getListHandlersMethod(), getCallOptions(), request);
    }

    /**
     * <pre>
     * Re-run a dead-lettered (FAILED) job as a new job with a fresh attempt budget;
     * the answer is the new job (its `redrive_of` is this id). A job is redriven once:
     * FAILED_PRECONDITION (reason JOB_NOT_DEAD_LETTERED) when it is not FAILED or was
     * redriven before (redrive the new job to run it again).
     * </pre>
     */
    public dev.jobsvc.v1.RedriveJobResponse redriveJob(dev.jobsvc.v1.RedriveJobRequest request) {
      return io.grpc.stub.ClientCalls.blockingUnaryCall(
          getChannel(), getRedriveJobMethod(), getCallOptions(), request);
    }

    /**
     * <pre>
     * Re-run every dead-lettered job of a handler that was not redriven before.
     * </pre>
     */
    public dev.jobsvc.v1.RedriveJobsResponse redriveJobs(dev.jobsvc.v1.RedriveJobsRequest request) {
      return io.grpc.stub.ClientCalls.blockingUnaryCall(
          getChannel(), getRedriveJobsMethod(), getCallOptions(), request);
    }
  }

  /**
   * A stub to allow clients to do ListenableFuture-style rpc calls to service JobService.
   * <pre>
   * Inspect and manage jobs, and discover handlers.
   * </pre>
   */
  public static final class JobServiceFutureStub
      extends io.grpc.stub.AbstractFutureStub<JobServiceFutureStub> {
    private JobServiceFutureStub(
        io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
      super(channel, callOptions);
    }

    @java.lang.Override
    protected JobServiceFutureStub build(
        io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
      return new JobServiceFutureStub(channel, callOptions);
    }

    /**
     */
    public com.google.common.util.concurrent.ListenableFuture<dev.jobsvc.v1.GetJobResponse> getJob(
        dev.jobsvc.v1.GetJobRequest request) {
      return io.grpc.stub.ClientCalls.futureUnaryCall(
          getChannel().newCall(getGetJobMethod(), getCallOptions()), request);
    }

    /**
     * <pre>
     * Newest first.
     * </pre>
     */
    public com.google.common.util.concurrent.ListenableFuture<dev.jobsvc.v1.ListJobsResponse> listJobs(
        dev.jobsvc.v1.ListJobsRequest request) {
      return io.grpc.stub.ClientCalls.futureUnaryCall(
          getChannel().newCall(getListJobsMethod(), getCallOptions()), request);
    }

    /**
     * <pre>
     * Cancel a queued job at once, or ask the executor of a running job to stop it
     * (the answer is then still RUNNING with cancel_requested set; the job ends
     * CANCELLED). Cancelling a CANCELLED job, or a running one already asked to stop,
     * answers OK and changes nothing (the first reason stays), so a retried cancel is
     * no error. FAILED_PRECONDITION (reason JOB_ALREADY_FINISHED) when the job
     * SUCCEEDED or FAILED.
     * </pre>
     */
    public com.google.common.util.concurrent.ListenableFuture<dev.jobsvc.v1.CancelJobResponse> cancelJob(
        dev.jobsvc.v1.CancelJobRequest request) {
      return io.grpc.stub.ClientCalls.futureUnaryCall(
          getChannel().newCall(getCancelJobMethod(), getCallOptions()), request);
    }

    /**
     */
    public com.google.common.util.concurrent.ListenableFuture<dev.jobsvc.v1.ListHandlersResponse> listHandlers(
        dev.jobsvc.v1.ListHandlersRequest request) {
      return io.grpc.stub.ClientCalls.futureUnaryCall(
          getChannel().newCall(getListHandlersMethod(), getCallOptions()), request);
    }

    /**
     * <pre>
     * Re-run a dead-lettered (FAILED) job as a new job with a fresh attempt budget;
     * the answer is the new job (its `redrive_of` is this id). A job is redriven once:
     * FAILED_PRECONDITION (reason JOB_NOT_DEAD_LETTERED) when it is not FAILED or was
     * redriven before (redrive the new job to run it again).
     * </pre>
     */
    public com.google.common.util.concurrent.ListenableFuture<dev.jobsvc.v1.RedriveJobResponse> redriveJob(
        dev.jobsvc.v1.RedriveJobRequest request) {
      return io.grpc.stub.ClientCalls.futureUnaryCall(
          getChannel().newCall(getRedriveJobMethod(), getCallOptions()), request);
    }

    /**
     * <pre>
     * Re-run every dead-lettered job of a handler that was not redriven before.
     * </pre>
     */
    public com.google.common.util.concurrent.ListenableFuture<dev.jobsvc.v1.RedriveJobsResponse> redriveJobs(
        dev.jobsvc.v1.RedriveJobsRequest request) {
      return io.grpc.stub.ClientCalls.futureUnaryCall(
          getChannel().newCall(getRedriveJobsMethod(), getCallOptions()), request);
    }
  }

  private static final int METHODID_GET_JOB = 0;
  private static final int METHODID_LIST_JOBS = 1;
  private static final int METHODID_CANCEL_JOB = 2;
  private static final int METHODID_LIST_HANDLERS = 3;
  private static final int METHODID_REDRIVE_JOB = 4;
  private static final int METHODID_REDRIVE_JOBS = 5;

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
        case METHODID_GET_JOB:
          serviceImpl.getJob((dev.jobsvc.v1.GetJobRequest) request,
              (io.grpc.stub.StreamObserver<dev.jobsvc.v1.GetJobResponse>) responseObserver);
          break;
        case METHODID_LIST_JOBS:
          serviceImpl.listJobs((dev.jobsvc.v1.ListJobsRequest) request,
              (io.grpc.stub.StreamObserver<dev.jobsvc.v1.ListJobsResponse>) responseObserver);
          break;
        case METHODID_CANCEL_JOB:
          serviceImpl.cancelJob((dev.jobsvc.v1.CancelJobRequest) request,
              (io.grpc.stub.StreamObserver<dev.jobsvc.v1.CancelJobResponse>) responseObserver);
          break;
        case METHODID_LIST_HANDLERS:
          serviceImpl.listHandlers((dev.jobsvc.v1.ListHandlersRequest) request,
              (io.grpc.stub.StreamObserver<dev.jobsvc.v1.ListHandlersResponse>) responseObserver);
          break;
        case METHODID_REDRIVE_JOB:
          serviceImpl.redriveJob((dev.jobsvc.v1.RedriveJobRequest) request,
              (io.grpc.stub.StreamObserver<dev.jobsvc.v1.RedriveJobResponse>) responseObserver);
          break;
        case METHODID_REDRIVE_JOBS:
          serviceImpl.redriveJobs((dev.jobsvc.v1.RedriveJobsRequest) request,
              (io.grpc.stub.StreamObserver<dev.jobsvc.v1.RedriveJobsResponse>) responseObserver);
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
          getGetJobMethod(),
          io.grpc.stub.ServerCalls.asyncUnaryCall(
            new MethodHandlers<
              dev.jobsvc.v1.GetJobRequest,
              dev.jobsvc.v1.GetJobResponse>(
                service, METHODID_GET_JOB)))
        .addMethod(
          getListJobsMethod(),
          io.grpc.stub.ServerCalls.asyncUnaryCall(
            new MethodHandlers<
              dev.jobsvc.v1.ListJobsRequest,
              dev.jobsvc.v1.ListJobsResponse>(
                service, METHODID_LIST_JOBS)))
        .addMethod(
          getCancelJobMethod(),
          io.grpc.stub.ServerCalls.asyncUnaryCall(
            new MethodHandlers<
              dev.jobsvc.v1.CancelJobRequest,
              dev.jobsvc.v1.CancelJobResponse>(
                service, METHODID_CANCEL_JOB)))
        .addMethod(
          getListHandlersMethod(),
          io.grpc.stub.ServerCalls.asyncUnaryCall(
            new MethodHandlers<
              dev.jobsvc.v1.ListHandlersRequest,
              dev.jobsvc.v1.ListHandlersResponse>(
                service, METHODID_LIST_HANDLERS)))
        .addMethod(
          getRedriveJobMethod(),
          io.grpc.stub.ServerCalls.asyncUnaryCall(
            new MethodHandlers<
              dev.jobsvc.v1.RedriveJobRequest,
              dev.jobsvc.v1.RedriveJobResponse>(
                service, METHODID_REDRIVE_JOB)))
        .addMethod(
          getRedriveJobsMethod(),
          io.grpc.stub.ServerCalls.asyncUnaryCall(
            new MethodHandlers<
              dev.jobsvc.v1.RedriveJobsRequest,
              dev.jobsvc.v1.RedriveJobsResponse>(
                service, METHODID_REDRIVE_JOBS)))
        .build();
  }

  private static abstract class JobServiceBaseDescriptorSupplier
      implements io.grpc.protobuf.ProtoFileDescriptorSupplier, io.grpc.protobuf.ProtoServiceDescriptorSupplier {
    JobServiceBaseDescriptorSupplier() {}

    @java.lang.Override
    public com.google.protobuf.Descriptors.FileDescriptor getFileDescriptor() {
      return dev.jobsvc.v1.JobServiceOuterClass.getDescriptor();
    }

    @java.lang.Override
    public com.google.protobuf.Descriptors.ServiceDescriptor getServiceDescriptor() {
      return getFileDescriptor().findServiceByName("JobService");
    }
  }

  private static final class JobServiceFileDescriptorSupplier
      extends JobServiceBaseDescriptorSupplier {
    JobServiceFileDescriptorSupplier() {}
  }

  private static final class JobServiceMethodDescriptorSupplier
      extends JobServiceBaseDescriptorSupplier
      implements io.grpc.protobuf.ProtoMethodDescriptorSupplier {
    private final java.lang.String methodName;

    JobServiceMethodDescriptorSupplier(java.lang.String methodName) {
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
      synchronized (JobServiceGrpc.class) {
        result = serviceDescriptor;
        if (result == null) {
          serviceDescriptor = result = io.grpc.ServiceDescriptor.newBuilder(SERVICE_NAME)
              .setSchemaDescriptor(new JobServiceFileDescriptorSupplier())
              .addMethod(getGetJobMethod())
              .addMethod(getListJobsMethod())
              .addMethod(getCancelJobMethod())
              .addMethod(getListHandlersMethod())
              .addMethod(getRedriveJobMethod())
              .addMethod(getRedriveJobsMethod())
              .build();
        }
      }
    }
    return result;
  }
}
