package dev.jobsvc.v1;

import static io.grpc.MethodDescriptor.generateFullMethodName;

/**
 * <pre>
 * Workflows: jobs chained into a directed acyclic graph of named steps, where the
 * results of some steps become (part of) the inputs of others. Each step is a job as
 * Submit makes it, run by the same executors and remote workers; a step waits (state
 * WAITING) until every step it depends on has finished, and PostgreSQL decides that in
 * the transaction that finishes the last of them.
 * </pre>
 */
@io.grpc.stub.annotations.GrpcGenerated
public final class WorkflowServiceGrpc {

  private WorkflowServiceGrpc() {}

  public static final java.lang.String SERVICE_NAME = "jobsvc.v1.WorkflowService";

  // Static method descriptors that strictly reflect the proto.
  private static volatile io.grpc.MethodDescriptor<dev.jobsvc.v1.SubmitWorkflowRequest,
      dev.jobsvc.v1.SubmitWorkflowResponse> getSubmitWorkflowMethod;

  @io.grpc.stub.annotations.RpcMethod(
      fullMethodName = SERVICE_NAME + '/' + "SubmitWorkflow",
      requestType = dev.jobsvc.v1.SubmitWorkflowRequest.class,
      responseType = dev.jobsvc.v1.SubmitWorkflowResponse.class,
      methodType = io.grpc.MethodDescriptor.MethodType.UNARY)
  public static io.grpc.MethodDescriptor<dev.jobsvc.v1.SubmitWorkflowRequest,
      dev.jobsvc.v1.SubmitWorkflowResponse> getSubmitWorkflowMethod() {
    io.grpc.MethodDescriptor<dev.jobsvc.v1.SubmitWorkflowRequest, dev.jobsvc.v1.SubmitWorkflowResponse> getSubmitWorkflowMethod;
    if ((getSubmitWorkflowMethod = WorkflowServiceGrpc.getSubmitWorkflowMethod) == null) {
      synchronized (WorkflowServiceGrpc.class) {
        if ((getSubmitWorkflowMethod = WorkflowServiceGrpc.getSubmitWorkflowMethod) == null) {
          WorkflowServiceGrpc.getSubmitWorkflowMethod = getSubmitWorkflowMethod =
              io.grpc.MethodDescriptor.<dev.jobsvc.v1.SubmitWorkflowRequest, dev.jobsvc.v1.SubmitWorkflowResponse>newBuilder()
              .setType(io.grpc.MethodDescriptor.MethodType.UNARY)
              .setFullMethodName(generateFullMethodName(SERVICE_NAME, "SubmitWorkflow"))
              .setSampledToLocalTracing(true)
              .setRequestMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.jobsvc.v1.SubmitWorkflowRequest.getDefaultInstance()))
              .setResponseMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.jobsvc.v1.SubmitWorkflowResponse.getDefaultInstance()))
              .setSchemaDescriptor(new WorkflowServiceMethodDescriptorSupplier("SubmitWorkflow"))
              .build();
        }
      }
    }
    return getSubmitWorkflowMethod;
  }

  private static volatile io.grpc.MethodDescriptor<dev.jobsvc.v1.CallWorkflowRequest,
      dev.jobsvc.v1.CallWorkflowResponse> getCallWorkflowMethod;

  @io.grpc.stub.annotations.RpcMethod(
      fullMethodName = SERVICE_NAME + '/' + "CallWorkflow",
      requestType = dev.jobsvc.v1.CallWorkflowRequest.class,
      responseType = dev.jobsvc.v1.CallWorkflowResponse.class,
      methodType = io.grpc.MethodDescriptor.MethodType.UNARY)
  public static io.grpc.MethodDescriptor<dev.jobsvc.v1.CallWorkflowRequest,
      dev.jobsvc.v1.CallWorkflowResponse> getCallWorkflowMethod() {
    io.grpc.MethodDescriptor<dev.jobsvc.v1.CallWorkflowRequest, dev.jobsvc.v1.CallWorkflowResponse> getCallWorkflowMethod;
    if ((getCallWorkflowMethod = WorkflowServiceGrpc.getCallWorkflowMethod) == null) {
      synchronized (WorkflowServiceGrpc.class) {
        if ((getCallWorkflowMethod = WorkflowServiceGrpc.getCallWorkflowMethod) == null) {
          WorkflowServiceGrpc.getCallWorkflowMethod = getCallWorkflowMethod =
              io.grpc.MethodDescriptor.<dev.jobsvc.v1.CallWorkflowRequest, dev.jobsvc.v1.CallWorkflowResponse>newBuilder()
              .setType(io.grpc.MethodDescriptor.MethodType.UNARY)
              .setFullMethodName(generateFullMethodName(SERVICE_NAME, "CallWorkflow"))
              .setSampledToLocalTracing(true)
              .setRequestMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.jobsvc.v1.CallWorkflowRequest.getDefaultInstance()))
              .setResponseMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.jobsvc.v1.CallWorkflowResponse.getDefaultInstance()))
              .setSchemaDescriptor(new WorkflowServiceMethodDescriptorSupplier("CallWorkflow"))
              .build();
        }
      }
    }
    return getCallWorkflowMethod;
  }

  private static volatile io.grpc.MethodDescriptor<dev.jobsvc.v1.GetWorkflowRequest,
      dev.jobsvc.v1.GetWorkflowResponse> getGetWorkflowMethod;

  @io.grpc.stub.annotations.RpcMethod(
      fullMethodName = SERVICE_NAME + '/' + "GetWorkflow",
      requestType = dev.jobsvc.v1.GetWorkflowRequest.class,
      responseType = dev.jobsvc.v1.GetWorkflowResponse.class,
      methodType = io.grpc.MethodDescriptor.MethodType.UNARY)
  public static io.grpc.MethodDescriptor<dev.jobsvc.v1.GetWorkflowRequest,
      dev.jobsvc.v1.GetWorkflowResponse> getGetWorkflowMethod() {
    io.grpc.MethodDescriptor<dev.jobsvc.v1.GetWorkflowRequest, dev.jobsvc.v1.GetWorkflowResponse> getGetWorkflowMethod;
    if ((getGetWorkflowMethod = WorkflowServiceGrpc.getGetWorkflowMethod) == null) {
      synchronized (WorkflowServiceGrpc.class) {
        if ((getGetWorkflowMethod = WorkflowServiceGrpc.getGetWorkflowMethod) == null) {
          WorkflowServiceGrpc.getGetWorkflowMethod = getGetWorkflowMethod =
              io.grpc.MethodDescriptor.<dev.jobsvc.v1.GetWorkflowRequest, dev.jobsvc.v1.GetWorkflowResponse>newBuilder()
              .setType(io.grpc.MethodDescriptor.MethodType.UNARY)
              .setFullMethodName(generateFullMethodName(SERVICE_NAME, "GetWorkflow"))
              .setSampledToLocalTracing(true)
              .setRequestMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.jobsvc.v1.GetWorkflowRequest.getDefaultInstance()))
              .setResponseMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.jobsvc.v1.GetWorkflowResponse.getDefaultInstance()))
              .setSchemaDescriptor(new WorkflowServiceMethodDescriptorSupplier("GetWorkflow"))
              .build();
        }
      }
    }
    return getGetWorkflowMethod;
  }

  private static volatile io.grpc.MethodDescriptor<dev.jobsvc.v1.ListWorkflowsRequest,
      dev.jobsvc.v1.ListWorkflowsResponse> getListWorkflowsMethod;

  @io.grpc.stub.annotations.RpcMethod(
      fullMethodName = SERVICE_NAME + '/' + "ListWorkflows",
      requestType = dev.jobsvc.v1.ListWorkflowsRequest.class,
      responseType = dev.jobsvc.v1.ListWorkflowsResponse.class,
      methodType = io.grpc.MethodDescriptor.MethodType.UNARY)
  public static io.grpc.MethodDescriptor<dev.jobsvc.v1.ListWorkflowsRequest,
      dev.jobsvc.v1.ListWorkflowsResponse> getListWorkflowsMethod() {
    io.grpc.MethodDescriptor<dev.jobsvc.v1.ListWorkflowsRequest, dev.jobsvc.v1.ListWorkflowsResponse> getListWorkflowsMethod;
    if ((getListWorkflowsMethod = WorkflowServiceGrpc.getListWorkflowsMethod) == null) {
      synchronized (WorkflowServiceGrpc.class) {
        if ((getListWorkflowsMethod = WorkflowServiceGrpc.getListWorkflowsMethod) == null) {
          WorkflowServiceGrpc.getListWorkflowsMethod = getListWorkflowsMethod =
              io.grpc.MethodDescriptor.<dev.jobsvc.v1.ListWorkflowsRequest, dev.jobsvc.v1.ListWorkflowsResponse>newBuilder()
              .setType(io.grpc.MethodDescriptor.MethodType.UNARY)
              .setFullMethodName(generateFullMethodName(SERVICE_NAME, "ListWorkflows"))
              .setSampledToLocalTracing(true)
              .setRequestMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.jobsvc.v1.ListWorkflowsRequest.getDefaultInstance()))
              .setResponseMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.jobsvc.v1.ListWorkflowsResponse.getDefaultInstance()))
              .setSchemaDescriptor(new WorkflowServiceMethodDescriptorSupplier("ListWorkflows"))
              .build();
        }
      }
    }
    return getListWorkflowsMethod;
  }

  private static volatile io.grpc.MethodDescriptor<dev.jobsvc.v1.CancelWorkflowRequest,
      dev.jobsvc.v1.CancelWorkflowResponse> getCancelWorkflowMethod;

  @io.grpc.stub.annotations.RpcMethod(
      fullMethodName = SERVICE_NAME + '/' + "CancelWorkflow",
      requestType = dev.jobsvc.v1.CancelWorkflowRequest.class,
      responseType = dev.jobsvc.v1.CancelWorkflowResponse.class,
      methodType = io.grpc.MethodDescriptor.MethodType.UNARY)
  public static io.grpc.MethodDescriptor<dev.jobsvc.v1.CancelWorkflowRequest,
      dev.jobsvc.v1.CancelWorkflowResponse> getCancelWorkflowMethod() {
    io.grpc.MethodDescriptor<dev.jobsvc.v1.CancelWorkflowRequest, dev.jobsvc.v1.CancelWorkflowResponse> getCancelWorkflowMethod;
    if ((getCancelWorkflowMethod = WorkflowServiceGrpc.getCancelWorkflowMethod) == null) {
      synchronized (WorkflowServiceGrpc.class) {
        if ((getCancelWorkflowMethod = WorkflowServiceGrpc.getCancelWorkflowMethod) == null) {
          WorkflowServiceGrpc.getCancelWorkflowMethod = getCancelWorkflowMethod =
              io.grpc.MethodDescriptor.<dev.jobsvc.v1.CancelWorkflowRequest, dev.jobsvc.v1.CancelWorkflowResponse>newBuilder()
              .setType(io.grpc.MethodDescriptor.MethodType.UNARY)
              .setFullMethodName(generateFullMethodName(SERVICE_NAME, "CancelWorkflow"))
              .setSampledToLocalTracing(true)
              .setRequestMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.jobsvc.v1.CancelWorkflowRequest.getDefaultInstance()))
              .setResponseMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.jobsvc.v1.CancelWorkflowResponse.getDefaultInstance()))
              .setSchemaDescriptor(new WorkflowServiceMethodDescriptorSupplier("CancelWorkflow"))
              .build();
        }
      }
    }
    return getCancelWorkflowMethod;
  }

  private static volatile io.grpc.MethodDescriptor<dev.jobsvc.v1.StreamWorkflowRequest,
      dev.jobsvc.v1.StreamWorkflowResponse> getStreamWorkflowMethod;

  @io.grpc.stub.annotations.RpcMethod(
      fullMethodName = SERVICE_NAME + '/' + "StreamWorkflow",
      requestType = dev.jobsvc.v1.StreamWorkflowRequest.class,
      responseType = dev.jobsvc.v1.StreamWorkflowResponse.class,
      methodType = io.grpc.MethodDescriptor.MethodType.SERVER_STREAMING)
  public static io.grpc.MethodDescriptor<dev.jobsvc.v1.StreamWorkflowRequest,
      dev.jobsvc.v1.StreamWorkflowResponse> getStreamWorkflowMethod() {
    io.grpc.MethodDescriptor<dev.jobsvc.v1.StreamWorkflowRequest, dev.jobsvc.v1.StreamWorkflowResponse> getStreamWorkflowMethod;
    if ((getStreamWorkflowMethod = WorkflowServiceGrpc.getStreamWorkflowMethod) == null) {
      synchronized (WorkflowServiceGrpc.class) {
        if ((getStreamWorkflowMethod = WorkflowServiceGrpc.getStreamWorkflowMethod) == null) {
          WorkflowServiceGrpc.getStreamWorkflowMethod = getStreamWorkflowMethod =
              io.grpc.MethodDescriptor.<dev.jobsvc.v1.StreamWorkflowRequest, dev.jobsvc.v1.StreamWorkflowResponse>newBuilder()
              .setType(io.grpc.MethodDescriptor.MethodType.SERVER_STREAMING)
              .setFullMethodName(generateFullMethodName(SERVICE_NAME, "StreamWorkflow"))
              .setSampledToLocalTracing(true)
              .setRequestMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.jobsvc.v1.StreamWorkflowRequest.getDefaultInstance()))
              .setResponseMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.jobsvc.v1.StreamWorkflowResponse.getDefaultInstance()))
              .setSchemaDescriptor(new WorkflowServiceMethodDescriptorSupplier("StreamWorkflow"))
              .build();
        }
      }
    }
    return getStreamWorkflowMethod;
  }

  private static volatile io.grpc.MethodDescriptor<dev.jobsvc.v1.RedriveWorkflowStepRequest,
      dev.jobsvc.v1.RedriveWorkflowStepResponse> getRedriveWorkflowStepMethod;

  @io.grpc.stub.annotations.RpcMethod(
      fullMethodName = SERVICE_NAME + '/' + "RedriveWorkflowStep",
      requestType = dev.jobsvc.v1.RedriveWorkflowStepRequest.class,
      responseType = dev.jobsvc.v1.RedriveWorkflowStepResponse.class,
      methodType = io.grpc.MethodDescriptor.MethodType.UNARY)
  public static io.grpc.MethodDescriptor<dev.jobsvc.v1.RedriveWorkflowStepRequest,
      dev.jobsvc.v1.RedriveWorkflowStepResponse> getRedriveWorkflowStepMethod() {
    io.grpc.MethodDescriptor<dev.jobsvc.v1.RedriveWorkflowStepRequest, dev.jobsvc.v1.RedriveWorkflowStepResponse> getRedriveWorkflowStepMethod;
    if ((getRedriveWorkflowStepMethod = WorkflowServiceGrpc.getRedriveWorkflowStepMethod) == null) {
      synchronized (WorkflowServiceGrpc.class) {
        if ((getRedriveWorkflowStepMethod = WorkflowServiceGrpc.getRedriveWorkflowStepMethod) == null) {
          WorkflowServiceGrpc.getRedriveWorkflowStepMethod = getRedriveWorkflowStepMethod =
              io.grpc.MethodDescriptor.<dev.jobsvc.v1.RedriveWorkflowStepRequest, dev.jobsvc.v1.RedriveWorkflowStepResponse>newBuilder()
              .setType(io.grpc.MethodDescriptor.MethodType.UNARY)
              .setFullMethodName(generateFullMethodName(SERVICE_NAME, "RedriveWorkflowStep"))
              .setSampledToLocalTracing(true)
              .setRequestMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.jobsvc.v1.RedriveWorkflowStepRequest.getDefaultInstance()))
              .setResponseMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.jobsvc.v1.RedriveWorkflowStepResponse.getDefaultInstance()))
              .setSchemaDescriptor(new WorkflowServiceMethodDescriptorSupplier("RedriveWorkflowStep"))
              .build();
        }
      }
    }
    return getRedriveWorkflowStepMethod;
  }

  /**
   * Creates a new async stub that supports all call types for the service
   */
  public static WorkflowServiceStub newStub(io.grpc.Channel channel) {
    io.grpc.stub.AbstractStub.StubFactory<WorkflowServiceStub> factory =
      new io.grpc.stub.AbstractStub.StubFactory<WorkflowServiceStub>() {
        @java.lang.Override
        public WorkflowServiceStub newStub(io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
          return new WorkflowServiceStub(channel, callOptions);
        }
      };
    return WorkflowServiceStub.newStub(factory, channel);
  }

  /**
   * Creates a new blocking-style stub that supports all types of calls on the service
   */
  public static WorkflowServiceBlockingV2Stub newBlockingV2Stub(
      io.grpc.Channel channel) {
    io.grpc.stub.AbstractStub.StubFactory<WorkflowServiceBlockingV2Stub> factory =
      new io.grpc.stub.AbstractStub.StubFactory<WorkflowServiceBlockingV2Stub>() {
        @java.lang.Override
        public WorkflowServiceBlockingV2Stub newStub(io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
          return new WorkflowServiceBlockingV2Stub(channel, callOptions);
        }
      };
    return WorkflowServiceBlockingV2Stub.newStub(factory, channel);
  }

  /**
   * Creates a new blocking-style stub that supports unary and streaming output calls on the service
   */
  public static WorkflowServiceBlockingStub newBlockingStub(
      io.grpc.Channel channel) {
    io.grpc.stub.AbstractStub.StubFactory<WorkflowServiceBlockingStub> factory =
      new io.grpc.stub.AbstractStub.StubFactory<WorkflowServiceBlockingStub>() {
        @java.lang.Override
        public WorkflowServiceBlockingStub newStub(io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
          return new WorkflowServiceBlockingStub(channel, callOptions);
        }
      };
    return WorkflowServiceBlockingStub.newStub(factory, channel);
  }

  /**
   * Creates a new ListenableFuture-style stub that supports unary calls on the service
   */
  public static WorkflowServiceFutureStub newFutureStub(
      io.grpc.Channel channel) {
    io.grpc.stub.AbstractStub.StubFactory<WorkflowServiceFutureStub> factory =
      new io.grpc.stub.AbstractStub.StubFactory<WorkflowServiceFutureStub>() {
        @java.lang.Override
        public WorkflowServiceFutureStub newStub(io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
          return new WorkflowServiceFutureStub(channel, callOptions);
        }
      };
    return WorkflowServiceFutureStub.newStub(factory, channel);
  }

  /**
   * <pre>
   * Workflows: jobs chained into a directed acyclic graph of named steps, where the
   * results of some steps become (part of) the inputs of others. Each step is a job as
   * Submit makes it, run by the same executors and remote workers; a step waits (state
   * WAITING) until every step it depends on has finished, and PostgreSQL decides that in
   * the transaction that finishes the last of them.
   * </pre>
   */
  public interface AsyncService {

    /**
     * <pre>
     * Validate and store a whole workflow in one transaction: all steps or none.
     * INVALID_ARGUMENT, naming the step and field, for a cycle, an unknown or duplicate
     * step name, a step depending on itself, more steps than the server's limit, or a
     * step whose handler or version does not exist. Steps without dependencies are due at once.
     * </pre>
     */
    default void submitWorkflow(dev.jobsvc.v1.SubmitWorkflowRequest request,
        io.grpc.stub.StreamObserver<dev.jobsvc.v1.SubmitWorkflowResponse> responseObserver) {
      io.grpc.stub.ServerCalls.asyncUnimplementedUnaryCall(getSubmitWorkflowMethod(), responseObserver);
    }

    /**
     * <pre>
     * Submit a workflow and wait, within the caller's deadline, until every step has
     * finished; the answer carries the results of its sink steps (those no step depends on).
     * A workflow that fails is an answer (state FAILED), not a failed RPC. When the deadline
     * passes the RPC ends with DEADLINE_EXCEEDED and the workflow carries on; its id is in
     * the response's initial metadata (`jobsvc-workflow-id`).
     * </pre>
     */
    default void callWorkflow(dev.jobsvc.v1.CallWorkflowRequest request,
        io.grpc.stub.StreamObserver<dev.jobsvc.v1.CallWorkflowResponse> responseObserver) {
      io.grpc.stub.ServerCalls.asyncUnimplementedUnaryCall(getCallWorkflowMethod(), responseObserver);
    }

    /**
     * <pre>
     * A workflow and the state of every step.
     * </pre>
     */
    default void getWorkflow(dev.jobsvc.v1.GetWorkflowRequest request,
        io.grpc.stub.StreamObserver<dev.jobsvc.v1.GetWorkflowResponse> responseObserver) {
      io.grpc.stub.ServerCalls.asyncUnimplementedUnaryCall(getGetWorkflowMethod(), responseObserver);
    }

    /**
     * <pre>
     * Newest first, without their steps (counts only).
     * </pre>
     */
    default void listWorkflows(dev.jobsvc.v1.ListWorkflowsRequest request,
        io.grpc.stub.StreamObserver<dev.jobsvc.v1.ListWorkflowsResponse> responseObserver) {
      io.grpc.stub.ServerCalls.asyncUnimplementedUnaryCall(getListWorkflowsMethod(), responseObserver);
    }

    /**
     * <pre>
     * Cancel every step that has not finished: waiting and queued ones at once, running
     * ones are asked to stop (on remote workers too). Cancelling a finished workflow
     * answers OK and changes nothing.
     * </pre>
     */
    default void cancelWorkflow(dev.jobsvc.v1.CancelWorkflowRequest request,
        io.grpc.stub.StreamObserver<dev.jobsvc.v1.CancelWorkflowResponse> responseObserver) {
      io.grpc.stub.ServerCalls.asyncUnimplementedUnaryCall(getCancelWorkflowMethod(), responseObserver);
    }

    /**
     * <pre>
     * Every step's events (each tagged with its step) in one ordered sequence, 1, 2, 3, ...
     * without gaps, the same for every reader on every replica; ends after the last event
     * of the workflow's last step, or at once when the workflow has finished and
     * after_sequence is its last. Resume after a dropped connection with the last sequence
     * seen: nothing is lost or sent twice. OUT_OF_RANGE when after_sequence is beyond the
     * workflow's last sequence.
     * </pre>
     */
    default void streamWorkflow(dev.jobsvc.v1.StreamWorkflowRequest request,
        io.grpc.stub.StreamObserver<dev.jobsvc.v1.StreamWorkflowResponse> responseObserver) {
      io.grpc.stub.ServerCalls.asyncUnimplementedUnaryCall(getStreamWorkflowMethod(), responseObserver);
    }

    /**
     * <pre>
     * Run a FAILED step again and let its workflow continue from there: the step's job (the
     * same job, with as many attempts again) is queued, and the dependants its failure
     * cancelled wait again for it, so the workflow is RUNNING until they finish. A dependant
     * that another failed or cancelled step also stopped waits for that one's redrive.
     * NOT_FOUND for no such workflow or step; FAILED_PRECONDITION when the step is not
     * FAILED, is optional (its dependants ran with its error), or the workflow was cancelled.
     * (RedriveJob on a step's job makes a new job outside the workflow.)
     * </pre>
     */
    default void redriveWorkflowStep(dev.jobsvc.v1.RedriveWorkflowStepRequest request,
        io.grpc.stub.StreamObserver<dev.jobsvc.v1.RedriveWorkflowStepResponse> responseObserver) {
      io.grpc.stub.ServerCalls.asyncUnimplementedUnaryCall(getRedriveWorkflowStepMethod(), responseObserver);
    }
  }

  /**
   * Base class for the server implementation of the service WorkflowService.
   * <pre>
   * Workflows: jobs chained into a directed acyclic graph of named steps, where the
   * results of some steps become (part of) the inputs of others. Each step is a job as
   * Submit makes it, run by the same executors and remote workers; a step waits (state
   * WAITING) until every step it depends on has finished, and PostgreSQL decides that in
   * the transaction that finishes the last of them.
   * </pre>
   */
  public static abstract class WorkflowServiceImplBase
      implements io.grpc.BindableService, AsyncService {

    @java.lang.Override public final io.grpc.ServerServiceDefinition bindService() {
      return WorkflowServiceGrpc.bindService(this);
    }
  }

  /**
   * A stub to allow clients to do asynchronous rpc calls to service WorkflowService.
   * <pre>
   * Workflows: jobs chained into a directed acyclic graph of named steps, where the
   * results of some steps become (part of) the inputs of others. Each step is a job as
   * Submit makes it, run by the same executors and remote workers; a step waits (state
   * WAITING) until every step it depends on has finished, and PostgreSQL decides that in
   * the transaction that finishes the last of them.
   * </pre>
   */
  public static final class WorkflowServiceStub
      extends io.grpc.stub.AbstractAsyncStub<WorkflowServiceStub> {
    private WorkflowServiceStub(
        io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
      super(channel, callOptions);
    }

    @java.lang.Override
    protected WorkflowServiceStub build(
        io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
      return new WorkflowServiceStub(channel, callOptions);
    }

    /**
     * <pre>
     * Validate and store a whole workflow in one transaction: all steps or none.
     * INVALID_ARGUMENT, naming the step and field, for a cycle, an unknown or duplicate
     * step name, a step depending on itself, more steps than the server's limit, or a
     * step whose handler or version does not exist. Steps without dependencies are due at once.
     * </pre>
     */
    public void submitWorkflow(dev.jobsvc.v1.SubmitWorkflowRequest request,
        io.grpc.stub.StreamObserver<dev.jobsvc.v1.SubmitWorkflowResponse> responseObserver) {
      io.grpc.stub.ClientCalls.asyncUnaryCall(
          getChannel().newCall(getSubmitWorkflowMethod(), getCallOptions()), request, responseObserver);
    }

    /**
     * <pre>
     * Submit a workflow and wait, within the caller's deadline, until every step has
     * finished; the answer carries the results of its sink steps (those no step depends on).
     * A workflow that fails is an answer (state FAILED), not a failed RPC. When the deadline
     * passes the RPC ends with DEADLINE_EXCEEDED and the workflow carries on; its id is in
     * the response's initial metadata (`jobsvc-workflow-id`).
     * </pre>
     */
    public void callWorkflow(dev.jobsvc.v1.CallWorkflowRequest request,
        io.grpc.stub.StreamObserver<dev.jobsvc.v1.CallWorkflowResponse> responseObserver) {
      io.grpc.stub.ClientCalls.asyncUnaryCall(
          getChannel().newCall(getCallWorkflowMethod(), getCallOptions()), request, responseObserver);
    }

    /**
     * <pre>
     * A workflow and the state of every step.
     * </pre>
     */
    public void getWorkflow(dev.jobsvc.v1.GetWorkflowRequest request,
        io.grpc.stub.StreamObserver<dev.jobsvc.v1.GetWorkflowResponse> responseObserver) {
      io.grpc.stub.ClientCalls.asyncUnaryCall(
          getChannel().newCall(getGetWorkflowMethod(), getCallOptions()), request, responseObserver);
    }

    /**
     * <pre>
     * Newest first, without their steps (counts only).
     * </pre>
     */
    public void listWorkflows(dev.jobsvc.v1.ListWorkflowsRequest request,
        io.grpc.stub.StreamObserver<dev.jobsvc.v1.ListWorkflowsResponse> responseObserver) {
      io.grpc.stub.ClientCalls.asyncUnaryCall(
          getChannel().newCall(getListWorkflowsMethod(), getCallOptions()), request, responseObserver);
    }

    /**
     * <pre>
     * Cancel every step that has not finished: waiting and queued ones at once, running
     * ones are asked to stop (on remote workers too). Cancelling a finished workflow
     * answers OK and changes nothing.
     * </pre>
     */
    public void cancelWorkflow(dev.jobsvc.v1.CancelWorkflowRequest request,
        io.grpc.stub.StreamObserver<dev.jobsvc.v1.CancelWorkflowResponse> responseObserver) {
      io.grpc.stub.ClientCalls.asyncUnaryCall(
          getChannel().newCall(getCancelWorkflowMethod(), getCallOptions()), request, responseObserver);
    }

    /**
     * <pre>
     * Every step's events (each tagged with its step) in one ordered sequence, 1, 2, 3, ...
     * without gaps, the same for every reader on every replica; ends after the last event
     * of the workflow's last step, or at once when the workflow has finished and
     * after_sequence is its last. Resume after a dropped connection with the last sequence
     * seen: nothing is lost or sent twice. OUT_OF_RANGE when after_sequence is beyond the
     * workflow's last sequence.
     * </pre>
     */
    public void streamWorkflow(dev.jobsvc.v1.StreamWorkflowRequest request,
        io.grpc.stub.StreamObserver<dev.jobsvc.v1.StreamWorkflowResponse> responseObserver) {
      io.grpc.stub.ClientCalls.asyncServerStreamingCall(
          getChannel().newCall(getStreamWorkflowMethod(), getCallOptions()), request, responseObserver);
    }

    /**
     * <pre>
     * Run a FAILED step again and let its workflow continue from there: the step's job (the
     * same job, with as many attempts again) is queued, and the dependants its failure
     * cancelled wait again for it, so the workflow is RUNNING until they finish. A dependant
     * that another failed or cancelled step also stopped waits for that one's redrive.
     * NOT_FOUND for no such workflow or step; FAILED_PRECONDITION when the step is not
     * FAILED, is optional (its dependants ran with its error), or the workflow was cancelled.
     * (RedriveJob on a step's job makes a new job outside the workflow.)
     * </pre>
     */
    public void redriveWorkflowStep(dev.jobsvc.v1.RedriveWorkflowStepRequest request,
        io.grpc.stub.StreamObserver<dev.jobsvc.v1.RedriveWorkflowStepResponse> responseObserver) {
      io.grpc.stub.ClientCalls.asyncUnaryCall(
          getChannel().newCall(getRedriveWorkflowStepMethod(), getCallOptions()), request, responseObserver);
    }
  }

  /**
   * A stub to allow clients to do synchronous rpc calls to service WorkflowService.
   * <pre>
   * Workflows: jobs chained into a directed acyclic graph of named steps, where the
   * results of some steps become (part of) the inputs of others. Each step is a job as
   * Submit makes it, run by the same executors and remote workers; a step waits (state
   * WAITING) until every step it depends on has finished, and PostgreSQL decides that in
   * the transaction that finishes the last of them.
   * </pre>
   */
  public static final class WorkflowServiceBlockingV2Stub
      extends io.grpc.stub.AbstractBlockingStub<WorkflowServiceBlockingV2Stub> {
    private WorkflowServiceBlockingV2Stub(
        io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
      super(channel, callOptions);
    }

    @java.lang.Override
    protected WorkflowServiceBlockingV2Stub build(
        io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
      return new WorkflowServiceBlockingV2Stub(channel, callOptions);
    }

    /**
     * <pre>
     * Validate and store a whole workflow in one transaction: all steps or none.
     * INVALID_ARGUMENT, naming the step and field, for a cycle, an unknown or duplicate
     * step name, a step depending on itself, more steps than the server's limit, or a
     * step whose handler or version does not exist. Steps without dependencies are due at once.
     * </pre>
     */
    public dev.jobsvc.v1.SubmitWorkflowResponse submitWorkflow(dev.jobsvc.v1.SubmitWorkflowRequest request) throws io.grpc.StatusException {
      return io.grpc.stub.ClientCalls.blockingV2UnaryCall(
          getChannel(), getSubmitWorkflowMethod(), getCallOptions(), request);
    }

    /**
     * <pre>
     * Submit a workflow and wait, within the caller's deadline, until every step has
     * finished; the answer carries the results of its sink steps (those no step depends on).
     * A workflow that fails is an answer (state FAILED), not a failed RPC. When the deadline
     * passes the RPC ends with DEADLINE_EXCEEDED and the workflow carries on; its id is in
     * the response's initial metadata (`jobsvc-workflow-id`).
     * </pre>
     */
    public dev.jobsvc.v1.CallWorkflowResponse callWorkflow(dev.jobsvc.v1.CallWorkflowRequest request) throws io.grpc.StatusException {
      return io.grpc.stub.ClientCalls.blockingV2UnaryCall(
          getChannel(), getCallWorkflowMethod(), getCallOptions(), request);
    }

    /**
     * <pre>
     * A workflow and the state of every step.
     * </pre>
     */
    public dev.jobsvc.v1.GetWorkflowResponse getWorkflow(dev.jobsvc.v1.GetWorkflowRequest request) throws io.grpc.StatusException {
      return io.grpc.stub.ClientCalls.blockingV2UnaryCall(
          getChannel(), getGetWorkflowMethod(), getCallOptions(), request);
    }

    /**
     * <pre>
     * Newest first, without their steps (counts only).
     * </pre>
     */
    public dev.jobsvc.v1.ListWorkflowsResponse listWorkflows(dev.jobsvc.v1.ListWorkflowsRequest request) throws io.grpc.StatusException {
      return io.grpc.stub.ClientCalls.blockingV2UnaryCall(
          getChannel(), getListWorkflowsMethod(), getCallOptions(), request);
    }

    /**
     * <pre>
     * Cancel every step that has not finished: waiting and queued ones at once, running
     * ones are asked to stop (on remote workers too). Cancelling a finished workflow
     * answers OK and changes nothing.
     * </pre>
     */
    public dev.jobsvc.v1.CancelWorkflowResponse cancelWorkflow(dev.jobsvc.v1.CancelWorkflowRequest request) throws io.grpc.StatusException {
      return io.grpc.stub.ClientCalls.blockingV2UnaryCall(
          getChannel(), getCancelWorkflowMethod(), getCallOptions(), request);
    }

    /**
     * <pre>
     * Every step's events (each tagged with its step) in one ordered sequence, 1, 2, 3, ...
     * without gaps, the same for every reader on every replica; ends after the last event
     * of the workflow's last step, or at once when the workflow has finished and
     * after_sequence is its last. Resume after a dropped connection with the last sequence
     * seen: nothing is lost or sent twice. OUT_OF_RANGE when after_sequence is beyond the
     * workflow's last sequence.
     * </pre>
     */
    @io.grpc.ExperimentalApi("https://github.com/grpc/grpc-java/issues/10918")
    public io.grpc.stub.BlockingClientCall<?, dev.jobsvc.v1.StreamWorkflowResponse>
        streamWorkflow(dev.jobsvc.v1.StreamWorkflowRequest request) {
      return io.grpc.stub.ClientCalls.blockingV2ServerStreamingCall(
          getChannel(), getStreamWorkflowMethod(), getCallOptions(), request);
    }

    /**
     * <pre>
     * Run a FAILED step again and let its workflow continue from there: the step's job (the
     * same job, with as many attempts again) is queued, and the dependants its failure
     * cancelled wait again for it, so the workflow is RUNNING until they finish. A dependant
     * that another failed or cancelled step also stopped waits for that one's redrive.
     * NOT_FOUND for no such workflow or step; FAILED_PRECONDITION when the step is not
     * FAILED, is optional (its dependants ran with its error), or the workflow was cancelled.
     * (RedriveJob on a step's job makes a new job outside the workflow.)
     * </pre>
     */
    public dev.jobsvc.v1.RedriveWorkflowStepResponse redriveWorkflowStep(dev.jobsvc.v1.RedriveWorkflowStepRequest request) throws io.grpc.StatusException {
      return io.grpc.stub.ClientCalls.blockingV2UnaryCall(
          getChannel(), getRedriveWorkflowStepMethod(), getCallOptions(), request);
    }
  }

  /**
   * A stub to allow clients to do limited synchronous rpc calls to service WorkflowService.
   * <pre>
   * Workflows: jobs chained into a directed acyclic graph of named steps, where the
   * results of some steps become (part of) the inputs of others. Each step is a job as
   * Submit makes it, run by the same executors and remote workers; a step waits (state
   * WAITING) until every step it depends on has finished, and PostgreSQL decides that in
   * the transaction that finishes the last of them.
   * </pre>
   */
  public static final class WorkflowServiceBlockingStub
      extends io.grpc.stub.AbstractBlockingStub<WorkflowServiceBlockingStub> {
    private WorkflowServiceBlockingStub(
        io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
      super(channel, callOptions);
    }

    @java.lang.Override
    protected WorkflowServiceBlockingStub build(
        io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
      return new WorkflowServiceBlockingStub(channel, callOptions);
    }

    /**
     * <pre>
     * Validate and store a whole workflow in one transaction: all steps or none.
     * INVALID_ARGUMENT, naming the step and field, for a cycle, an unknown or duplicate
     * step name, a step depending on itself, more steps than the server's limit, or a
     * step whose handler or version does not exist. Steps without dependencies are due at once.
     * </pre>
     */
    public dev.jobsvc.v1.SubmitWorkflowResponse submitWorkflow(dev.jobsvc.v1.SubmitWorkflowRequest request) {
      return io.grpc.stub.ClientCalls.blockingUnaryCall(
          getChannel(), getSubmitWorkflowMethod(), getCallOptions(), request);
    }

    /**
     * <pre>
     * Submit a workflow and wait, within the caller's deadline, until every step has
     * finished; the answer carries the results of its sink steps (those no step depends on).
     * A workflow that fails is an answer (state FAILED), not a failed RPC. When the deadline
     * passes the RPC ends with DEADLINE_EXCEEDED and the workflow carries on; its id is in
     * the response's initial metadata (`jobsvc-workflow-id`).
     * </pre>
     */
    public dev.jobsvc.v1.CallWorkflowResponse callWorkflow(dev.jobsvc.v1.CallWorkflowRequest request) {
      return io.grpc.stub.ClientCalls.blockingUnaryCall(
          getChannel(), getCallWorkflowMethod(), getCallOptions(), request);
    }

    /**
     * <pre>
     * A workflow and the state of every step.
     * </pre>
     */
    public dev.jobsvc.v1.GetWorkflowResponse getWorkflow(dev.jobsvc.v1.GetWorkflowRequest request) {
      return io.grpc.stub.ClientCalls.blockingUnaryCall(
          getChannel(), getGetWorkflowMethod(), getCallOptions(), request);
    }

    /**
     * <pre>
     * Newest first, without their steps (counts only).
     * </pre>
     */
    public dev.jobsvc.v1.ListWorkflowsResponse listWorkflows(dev.jobsvc.v1.ListWorkflowsRequest request) {
      return io.grpc.stub.ClientCalls.blockingUnaryCall(
          getChannel(), getListWorkflowsMethod(), getCallOptions(), request);
    }

    /**
     * <pre>
     * Cancel every step that has not finished: waiting and queued ones at once, running
     * ones are asked to stop (on remote workers too). Cancelling a finished workflow
     * answers OK and changes nothing.
     * </pre>
     */
    public dev.jobsvc.v1.CancelWorkflowResponse cancelWorkflow(dev.jobsvc.v1.CancelWorkflowRequest request) {
      return io.grpc.stub.ClientCalls.blockingUnaryCall(
          getChannel(), getCancelWorkflowMethod(), getCallOptions(), request);
    }

    /**
     * <pre>
     * Every step's events (each tagged with its step) in one ordered sequence, 1, 2, 3, ...
     * without gaps, the same for every reader on every replica; ends after the last event
     * of the workflow's last step, or at once when the workflow has finished and
     * after_sequence is its last. Resume after a dropped connection with the last sequence
     * seen: nothing is lost or sent twice. OUT_OF_RANGE when after_sequence is beyond the
     * workflow's last sequence.
     * </pre>
     */
    public java.util.Iterator<dev.jobsvc.v1.StreamWorkflowResponse> streamWorkflow(
        dev.jobsvc.v1.StreamWorkflowRequest request) {
      return io.grpc.stub.ClientCalls.blockingServerStreamingCall(
          getChannel(), getStreamWorkflowMethod(), getCallOptions(), request);
    }

    /**
     * <pre>
     * Run a FAILED step again and let its workflow continue from there: the step's job (the
     * same job, with as many attempts again) is queued, and the dependants its failure
     * cancelled wait again for it, so the workflow is RUNNING until they finish. A dependant
     * that another failed or cancelled step also stopped waits for that one's redrive.
     * NOT_FOUND for no such workflow or step; FAILED_PRECONDITION when the step is not
     * FAILED, is optional (its dependants ran with its error), or the workflow was cancelled.
     * (RedriveJob on a step's job makes a new job outside the workflow.)
     * </pre>
     */
    public dev.jobsvc.v1.RedriveWorkflowStepResponse redriveWorkflowStep(dev.jobsvc.v1.RedriveWorkflowStepRequest request) {
      return io.grpc.stub.ClientCalls.blockingUnaryCall(
          getChannel(), getRedriveWorkflowStepMethod(), getCallOptions(), request);
    }
  }

  /**
   * A stub to allow clients to do ListenableFuture-style rpc calls to service WorkflowService.
   * <pre>
   * Workflows: jobs chained into a directed acyclic graph of named steps, where the
   * results of some steps become (part of) the inputs of others. Each step is a job as
   * Submit makes it, run by the same executors and remote workers; a step waits (state
   * WAITING) until every step it depends on has finished, and PostgreSQL decides that in
   * the transaction that finishes the last of them.
   * </pre>
   */
  public static final class WorkflowServiceFutureStub
      extends io.grpc.stub.AbstractFutureStub<WorkflowServiceFutureStub> {
    private WorkflowServiceFutureStub(
        io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
      super(channel, callOptions);
    }

    @java.lang.Override
    protected WorkflowServiceFutureStub build(
        io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
      return new WorkflowServiceFutureStub(channel, callOptions);
    }

    /**
     * <pre>
     * Validate and store a whole workflow in one transaction: all steps or none.
     * INVALID_ARGUMENT, naming the step and field, for a cycle, an unknown or duplicate
     * step name, a step depending on itself, more steps than the server's limit, or a
     * step whose handler or version does not exist. Steps without dependencies are due at once.
     * </pre>
     */
    public com.google.common.util.concurrent.ListenableFuture<dev.jobsvc.v1.SubmitWorkflowResponse> submitWorkflow(
        dev.jobsvc.v1.SubmitWorkflowRequest request) {
      return io.grpc.stub.ClientCalls.futureUnaryCall(
          getChannel().newCall(getSubmitWorkflowMethod(), getCallOptions()), request);
    }

    /**
     * <pre>
     * Submit a workflow and wait, within the caller's deadline, until every step has
     * finished; the answer carries the results of its sink steps (those no step depends on).
     * A workflow that fails is an answer (state FAILED), not a failed RPC. When the deadline
     * passes the RPC ends with DEADLINE_EXCEEDED and the workflow carries on; its id is in
     * the response's initial metadata (`jobsvc-workflow-id`).
     * </pre>
     */
    public com.google.common.util.concurrent.ListenableFuture<dev.jobsvc.v1.CallWorkflowResponse> callWorkflow(
        dev.jobsvc.v1.CallWorkflowRequest request) {
      return io.grpc.stub.ClientCalls.futureUnaryCall(
          getChannel().newCall(getCallWorkflowMethod(), getCallOptions()), request);
    }

    /**
     * <pre>
     * A workflow and the state of every step.
     * </pre>
     */
    public com.google.common.util.concurrent.ListenableFuture<dev.jobsvc.v1.GetWorkflowResponse> getWorkflow(
        dev.jobsvc.v1.GetWorkflowRequest request) {
      return io.grpc.stub.ClientCalls.futureUnaryCall(
          getChannel().newCall(getGetWorkflowMethod(), getCallOptions()), request);
    }

    /**
     * <pre>
     * Newest first, without their steps (counts only).
     * </pre>
     */
    public com.google.common.util.concurrent.ListenableFuture<dev.jobsvc.v1.ListWorkflowsResponse> listWorkflows(
        dev.jobsvc.v1.ListWorkflowsRequest request) {
      return io.grpc.stub.ClientCalls.futureUnaryCall(
          getChannel().newCall(getListWorkflowsMethod(), getCallOptions()), request);
    }

    /**
     * <pre>
     * Cancel every step that has not finished: waiting and queued ones at once, running
     * ones are asked to stop (on remote workers too). Cancelling a finished workflow
     * answers OK and changes nothing.
     * </pre>
     */
    public com.google.common.util.concurrent.ListenableFuture<dev.jobsvc.v1.CancelWorkflowResponse> cancelWorkflow(
        dev.jobsvc.v1.CancelWorkflowRequest request) {
      return io.grpc.stub.ClientCalls.futureUnaryCall(
          getChannel().newCall(getCancelWorkflowMethod(), getCallOptions()), request);
    }

    /**
     * <pre>
     * Run a FAILED step again and let its workflow continue from there: the step's job (the
     * same job, with as many attempts again) is queued, and the dependants its failure
     * cancelled wait again for it, so the workflow is RUNNING until they finish. A dependant
     * that another failed or cancelled step also stopped waits for that one's redrive.
     * NOT_FOUND for no such workflow or step; FAILED_PRECONDITION when the step is not
     * FAILED, is optional (its dependants ran with its error), or the workflow was cancelled.
     * (RedriveJob on a step's job makes a new job outside the workflow.)
     * </pre>
     */
    public com.google.common.util.concurrent.ListenableFuture<dev.jobsvc.v1.RedriveWorkflowStepResponse> redriveWorkflowStep(
        dev.jobsvc.v1.RedriveWorkflowStepRequest request) {
      return io.grpc.stub.ClientCalls.futureUnaryCall(
          getChannel().newCall(getRedriveWorkflowStepMethod(), getCallOptions()), request);
    }
  }

  private static final int METHODID_SUBMIT_WORKFLOW = 0;
  private static final int METHODID_CALL_WORKFLOW = 1;
  private static final int METHODID_GET_WORKFLOW = 2;
  private static final int METHODID_LIST_WORKFLOWS = 3;
  private static final int METHODID_CANCEL_WORKFLOW = 4;
  private static final int METHODID_STREAM_WORKFLOW = 5;
  private static final int METHODID_REDRIVE_WORKFLOW_STEP = 6;

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
        case METHODID_SUBMIT_WORKFLOW:
          serviceImpl.submitWorkflow((dev.jobsvc.v1.SubmitWorkflowRequest) request,
              (io.grpc.stub.StreamObserver<dev.jobsvc.v1.SubmitWorkflowResponse>) responseObserver);
          break;
        case METHODID_CALL_WORKFLOW:
          serviceImpl.callWorkflow((dev.jobsvc.v1.CallWorkflowRequest) request,
              (io.grpc.stub.StreamObserver<dev.jobsvc.v1.CallWorkflowResponse>) responseObserver);
          break;
        case METHODID_GET_WORKFLOW:
          serviceImpl.getWorkflow((dev.jobsvc.v1.GetWorkflowRequest) request,
              (io.grpc.stub.StreamObserver<dev.jobsvc.v1.GetWorkflowResponse>) responseObserver);
          break;
        case METHODID_LIST_WORKFLOWS:
          serviceImpl.listWorkflows((dev.jobsvc.v1.ListWorkflowsRequest) request,
              (io.grpc.stub.StreamObserver<dev.jobsvc.v1.ListWorkflowsResponse>) responseObserver);
          break;
        case METHODID_CANCEL_WORKFLOW:
          serviceImpl.cancelWorkflow((dev.jobsvc.v1.CancelWorkflowRequest) request,
              (io.grpc.stub.StreamObserver<dev.jobsvc.v1.CancelWorkflowResponse>) responseObserver);
          break;
        case METHODID_STREAM_WORKFLOW:
          serviceImpl.streamWorkflow((dev.jobsvc.v1.StreamWorkflowRequest) request,
              (io.grpc.stub.StreamObserver<dev.jobsvc.v1.StreamWorkflowResponse>) responseObserver);
          break;
        case METHODID_REDRIVE_WORKFLOW_STEP:
          serviceImpl.redriveWorkflowStep((dev.jobsvc.v1.RedriveWorkflowStepRequest) request,
              (io.grpc.stub.StreamObserver<dev.jobsvc.v1.RedriveWorkflowStepResponse>) responseObserver);
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
          getSubmitWorkflowMethod(),
          io.grpc.stub.ServerCalls.asyncUnaryCall(
            new MethodHandlers<
              dev.jobsvc.v1.SubmitWorkflowRequest,
              dev.jobsvc.v1.SubmitWorkflowResponse>(
                service, METHODID_SUBMIT_WORKFLOW)))
        .addMethod(
          getCallWorkflowMethod(),
          io.grpc.stub.ServerCalls.asyncUnaryCall(
            new MethodHandlers<
              dev.jobsvc.v1.CallWorkflowRequest,
              dev.jobsvc.v1.CallWorkflowResponse>(
                service, METHODID_CALL_WORKFLOW)))
        .addMethod(
          getGetWorkflowMethod(),
          io.grpc.stub.ServerCalls.asyncUnaryCall(
            new MethodHandlers<
              dev.jobsvc.v1.GetWorkflowRequest,
              dev.jobsvc.v1.GetWorkflowResponse>(
                service, METHODID_GET_WORKFLOW)))
        .addMethod(
          getListWorkflowsMethod(),
          io.grpc.stub.ServerCalls.asyncUnaryCall(
            new MethodHandlers<
              dev.jobsvc.v1.ListWorkflowsRequest,
              dev.jobsvc.v1.ListWorkflowsResponse>(
                service, METHODID_LIST_WORKFLOWS)))
        .addMethod(
          getCancelWorkflowMethod(),
          io.grpc.stub.ServerCalls.asyncUnaryCall(
            new MethodHandlers<
              dev.jobsvc.v1.CancelWorkflowRequest,
              dev.jobsvc.v1.CancelWorkflowResponse>(
                service, METHODID_CANCEL_WORKFLOW)))
        .addMethod(
          getStreamWorkflowMethod(),
          io.grpc.stub.ServerCalls.asyncServerStreamingCall(
            new MethodHandlers<
              dev.jobsvc.v1.StreamWorkflowRequest,
              dev.jobsvc.v1.StreamWorkflowResponse>(
                service, METHODID_STREAM_WORKFLOW)))
        .addMethod(
          getRedriveWorkflowStepMethod(),
          io.grpc.stub.ServerCalls.asyncUnaryCall(
            new MethodHandlers<
              dev.jobsvc.v1.RedriveWorkflowStepRequest,
              dev.jobsvc.v1.RedriveWorkflowStepResponse>(
                service, METHODID_REDRIVE_WORKFLOW_STEP)))
        .build();
  }

  private static abstract class WorkflowServiceBaseDescriptorSupplier
      implements io.grpc.protobuf.ProtoFileDescriptorSupplier, io.grpc.protobuf.ProtoServiceDescriptorSupplier {
    WorkflowServiceBaseDescriptorSupplier() {}

    @java.lang.Override
    public com.google.protobuf.Descriptors.FileDescriptor getFileDescriptor() {
      return dev.jobsvc.v1.WorkflowServiceOuterClass.getDescriptor();
    }

    @java.lang.Override
    public com.google.protobuf.Descriptors.ServiceDescriptor getServiceDescriptor() {
      return getFileDescriptor().findServiceByName("WorkflowService");
    }
  }

  private static final class WorkflowServiceFileDescriptorSupplier
      extends WorkflowServiceBaseDescriptorSupplier {
    WorkflowServiceFileDescriptorSupplier() {}
  }

  private static final class WorkflowServiceMethodDescriptorSupplier
      extends WorkflowServiceBaseDescriptorSupplier
      implements io.grpc.protobuf.ProtoMethodDescriptorSupplier {
    private final java.lang.String methodName;

    WorkflowServiceMethodDescriptorSupplier(java.lang.String methodName) {
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
      synchronized (WorkflowServiceGrpc.class) {
        result = serviceDescriptor;
        if (result == null) {
          serviceDescriptor = result = io.grpc.ServiceDescriptor.newBuilder(SERVICE_NAME)
              .setSchemaDescriptor(new WorkflowServiceFileDescriptorSupplier())
              .addMethod(getSubmitWorkflowMethod())
              .addMethod(getCallWorkflowMethod())
              .addMethod(getGetWorkflowMethod())
              .addMethod(getListWorkflowsMethod())
              .addMethod(getCancelWorkflowMethod())
              .addMethod(getStreamWorkflowMethod())
              .addMethod(getRedriveWorkflowStepMethod())
              .build();
        }
      }
    }
    return result;
  }
}
