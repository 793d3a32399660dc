package dev.runwire.v1;

import static io.grpc.MethodDescriptor.generateFullMethodName;

/**
 * <pre>
 * RunService starts runs, streams their events, and feeds them what they wait
 * for. Runs go on when the client that started them disconnects.
 * Errors: INVALID_ARGUMENT (with google.rpc.BadRequest), NOT_FOUND (unknown
 * agent, run or thread), FAILED_PRECONDITION (the run does not wait for
 * that), ABORTED (thread busy), OUT_OF_RANGE (SEQUENCE_OUT_OF_RANGE:
 * after_sequence past the end of an ended run), UNAVAILABLE (runtime down or
 * server draining). Every error carries a google.rpc.ErrorInfo with domain
 * "runwire.dev"; its reason is a value name of ErrorReason.
 * </pre>
 */
@io.grpc.stub.annotations.GrpcGenerated
public final class RunServiceGrpc {

  private RunServiceGrpc() {}

  public static final java.lang.String SERVICE_NAME = "runwire.v1.RunService";

  // Static method descriptors that strictly reflect the proto.
  private static volatile io.grpc.MethodDescriptor<dev.runwire.v1.CreateRunRequest,
      dev.runwire.v1.CreateRunResponse> getCreateRunMethod;

  @io.grpc.stub.annotations.RpcMethod(
      fullMethodName = SERVICE_NAME + '/' + "CreateRun",
      requestType = dev.runwire.v1.CreateRunRequest.class,
      responseType = dev.runwire.v1.CreateRunResponse.class,
      methodType = io.grpc.MethodDescriptor.MethodType.UNARY)
  public static io.grpc.MethodDescriptor<dev.runwire.v1.CreateRunRequest,
      dev.runwire.v1.CreateRunResponse> getCreateRunMethod() {
    io.grpc.MethodDescriptor<dev.runwire.v1.CreateRunRequest, dev.runwire.v1.CreateRunResponse> getCreateRunMethod;
    if ((getCreateRunMethod = RunServiceGrpc.getCreateRunMethod) == null) {
      synchronized (RunServiceGrpc.class) {
        if ((getCreateRunMethod = RunServiceGrpc.getCreateRunMethod) == null) {
          RunServiceGrpc.getCreateRunMethod = getCreateRunMethod =
              io.grpc.MethodDescriptor.<dev.runwire.v1.CreateRunRequest, dev.runwire.v1.CreateRunResponse>newBuilder()
              .setType(io.grpc.MethodDescriptor.MethodType.UNARY)
              .setFullMethodName(generateFullMethodName(SERVICE_NAME, "CreateRun"))
              .setSampledToLocalTracing(true)
              .setRequestMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.runwire.v1.CreateRunRequest.getDefaultInstance()))
              .setResponseMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.runwire.v1.CreateRunResponse.getDefaultInstance()))
              .setSchemaDescriptor(new RunServiceMethodDescriptorSupplier("CreateRun"))
              .build();
        }
      }
    }
    return getCreateRunMethod;
  }

  private static volatile io.grpc.MethodDescriptor<dev.runwire.v1.StreamRunRequest,
      dev.runwire.v1.StreamRunResponse> getStreamRunMethod;

  @io.grpc.stub.annotations.RpcMethod(
      fullMethodName = SERVICE_NAME + '/' + "StreamRun",
      requestType = dev.runwire.v1.StreamRunRequest.class,
      responseType = dev.runwire.v1.StreamRunResponse.class,
      methodType = io.grpc.MethodDescriptor.MethodType.SERVER_STREAMING)
  public static io.grpc.MethodDescriptor<dev.runwire.v1.StreamRunRequest,
      dev.runwire.v1.StreamRunResponse> getStreamRunMethod() {
    io.grpc.MethodDescriptor<dev.runwire.v1.StreamRunRequest, dev.runwire.v1.StreamRunResponse> getStreamRunMethod;
    if ((getStreamRunMethod = RunServiceGrpc.getStreamRunMethod) == null) {
      synchronized (RunServiceGrpc.class) {
        if ((getStreamRunMethod = RunServiceGrpc.getStreamRunMethod) == null) {
          RunServiceGrpc.getStreamRunMethod = getStreamRunMethod =
              io.grpc.MethodDescriptor.<dev.runwire.v1.StreamRunRequest, dev.runwire.v1.StreamRunResponse>newBuilder()
              .setType(io.grpc.MethodDescriptor.MethodType.SERVER_STREAMING)
              .setFullMethodName(generateFullMethodName(SERVICE_NAME, "StreamRun"))
              .setSampledToLocalTracing(true)
              .setRequestMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.runwire.v1.StreamRunRequest.getDefaultInstance()))
              .setResponseMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.runwire.v1.StreamRunResponse.getDefaultInstance()))
              .setSchemaDescriptor(new RunServiceMethodDescriptorSupplier("StreamRun"))
              .build();
        }
      }
    }
    return getStreamRunMethod;
  }

  private static volatile io.grpc.MethodDescriptor<dev.runwire.v1.WaitRunRequest,
      dev.runwire.v1.WaitRunResponse> getWaitRunMethod;

  @io.grpc.stub.annotations.RpcMethod(
      fullMethodName = SERVICE_NAME + '/' + "WaitRun",
      requestType = dev.runwire.v1.WaitRunRequest.class,
      responseType = dev.runwire.v1.WaitRunResponse.class,
      methodType = io.grpc.MethodDescriptor.MethodType.UNARY)
  public static io.grpc.MethodDescriptor<dev.runwire.v1.WaitRunRequest,
      dev.runwire.v1.WaitRunResponse> getWaitRunMethod() {
    io.grpc.MethodDescriptor<dev.runwire.v1.WaitRunRequest, dev.runwire.v1.WaitRunResponse> getWaitRunMethod;
    if ((getWaitRunMethod = RunServiceGrpc.getWaitRunMethod) == null) {
      synchronized (RunServiceGrpc.class) {
        if ((getWaitRunMethod = RunServiceGrpc.getWaitRunMethod) == null) {
          RunServiceGrpc.getWaitRunMethod = getWaitRunMethod =
              io.grpc.MethodDescriptor.<dev.runwire.v1.WaitRunRequest, dev.runwire.v1.WaitRunResponse>newBuilder()
              .setType(io.grpc.MethodDescriptor.MethodType.UNARY)
              .setFullMethodName(generateFullMethodName(SERVICE_NAME, "WaitRun"))
              .setSampledToLocalTracing(true)
              .setRequestMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.runwire.v1.WaitRunRequest.getDefaultInstance()))
              .setResponseMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.runwire.v1.WaitRunResponse.getDefaultInstance()))
              .setSchemaDescriptor(new RunServiceMethodDescriptorSupplier("WaitRun"))
              .build();
        }
      }
    }
    return getWaitRunMethod;
  }

  private static volatile io.grpc.MethodDescriptor<dev.runwire.v1.GetRunRequest,
      dev.runwire.v1.GetRunResponse> getGetRunMethod;

  @io.grpc.stub.annotations.RpcMethod(
      fullMethodName = SERVICE_NAME + '/' + "GetRun",
      requestType = dev.runwire.v1.GetRunRequest.class,
      responseType = dev.runwire.v1.GetRunResponse.class,
      methodType = io.grpc.MethodDescriptor.MethodType.UNARY)
  public static io.grpc.MethodDescriptor<dev.runwire.v1.GetRunRequest,
      dev.runwire.v1.GetRunResponse> getGetRunMethod() {
    io.grpc.MethodDescriptor<dev.runwire.v1.GetRunRequest, dev.runwire.v1.GetRunResponse> getGetRunMethod;
    if ((getGetRunMethod = RunServiceGrpc.getGetRunMethod) == null) {
      synchronized (RunServiceGrpc.class) {
        if ((getGetRunMethod = RunServiceGrpc.getGetRunMethod) == null) {
          RunServiceGrpc.getGetRunMethod = getGetRunMethod =
              io.grpc.MethodDescriptor.<dev.runwire.v1.GetRunRequest, dev.runwire.v1.GetRunResponse>newBuilder()
              .setType(io.grpc.MethodDescriptor.MethodType.UNARY)
              .setFullMethodName(generateFullMethodName(SERVICE_NAME, "GetRun"))
              .setSampledToLocalTracing(true)
              .setRequestMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.runwire.v1.GetRunRequest.getDefaultInstance()))
              .setResponseMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.runwire.v1.GetRunResponse.getDefaultInstance()))
              .setSchemaDescriptor(new RunServiceMethodDescriptorSupplier("GetRun"))
              .build();
        }
      }
    }
    return getGetRunMethod;
  }

  private static volatile io.grpc.MethodDescriptor<dev.runwire.v1.ListRunsRequest,
      dev.runwire.v1.ListRunsResponse> getListRunsMethod;

  @io.grpc.stub.annotations.RpcMethod(
      fullMethodName = SERVICE_NAME + '/' + "ListRuns",
      requestType = dev.runwire.v1.ListRunsRequest.class,
      responseType = dev.runwire.v1.ListRunsResponse.class,
      methodType = io.grpc.MethodDescriptor.MethodType.UNARY)
  public static io.grpc.MethodDescriptor<dev.runwire.v1.ListRunsRequest,
      dev.runwire.v1.ListRunsResponse> getListRunsMethod() {
    io.grpc.MethodDescriptor<dev.runwire.v1.ListRunsRequest, dev.runwire.v1.ListRunsResponse> getListRunsMethod;
    if ((getListRunsMethod = RunServiceGrpc.getListRunsMethod) == null) {
      synchronized (RunServiceGrpc.class) {
        if ((getListRunsMethod = RunServiceGrpc.getListRunsMethod) == null) {
          RunServiceGrpc.getListRunsMethod = getListRunsMethod =
              io.grpc.MethodDescriptor.<dev.runwire.v1.ListRunsRequest, dev.runwire.v1.ListRunsResponse>newBuilder()
              .setType(io.grpc.MethodDescriptor.MethodType.UNARY)
              .setFullMethodName(generateFullMethodName(SERVICE_NAME, "ListRuns"))
              .setSampledToLocalTracing(true)
              .setRequestMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.runwire.v1.ListRunsRequest.getDefaultInstance()))
              .setResponseMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.runwire.v1.ListRunsResponse.getDefaultInstance()))
              .setSchemaDescriptor(new RunServiceMethodDescriptorSupplier("ListRuns"))
              .build();
        }
      }
    }
    return getListRunsMethod;
  }

  private static volatile io.grpc.MethodDescriptor<dev.runwire.v1.CancelRunRequest,
      dev.runwire.v1.CancelRunResponse> getCancelRunMethod;

  @io.grpc.stub.annotations.RpcMethod(
      fullMethodName = SERVICE_NAME + '/' + "CancelRun",
      requestType = dev.runwire.v1.CancelRunRequest.class,
      responseType = dev.runwire.v1.CancelRunResponse.class,
      methodType = io.grpc.MethodDescriptor.MethodType.UNARY)
  public static io.grpc.MethodDescriptor<dev.runwire.v1.CancelRunRequest,
      dev.runwire.v1.CancelRunResponse> getCancelRunMethod() {
    io.grpc.MethodDescriptor<dev.runwire.v1.CancelRunRequest, dev.runwire.v1.CancelRunResponse> getCancelRunMethod;
    if ((getCancelRunMethod = RunServiceGrpc.getCancelRunMethod) == null) {
      synchronized (RunServiceGrpc.class) {
        if ((getCancelRunMethod = RunServiceGrpc.getCancelRunMethod) == null) {
          RunServiceGrpc.getCancelRunMethod = getCancelRunMethod =
              io.grpc.MethodDescriptor.<dev.runwire.v1.CancelRunRequest, dev.runwire.v1.CancelRunResponse>newBuilder()
              .setType(io.grpc.MethodDescriptor.MethodType.UNARY)
              .setFullMethodName(generateFullMethodName(SERVICE_NAME, "CancelRun"))
              .setSampledToLocalTracing(true)
              .setRequestMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.runwire.v1.CancelRunRequest.getDefaultInstance()))
              .setResponseMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.runwire.v1.CancelRunResponse.getDefaultInstance()))
              .setSchemaDescriptor(new RunServiceMethodDescriptorSupplier("CancelRun"))
              .build();
        }
      }
    }
    return getCancelRunMethod;
  }

  private static volatile io.grpc.MethodDescriptor<dev.runwire.v1.PauseRunRequest,
      dev.runwire.v1.PauseRunResponse> getPauseRunMethod;

  @io.grpc.stub.annotations.RpcMethod(
      fullMethodName = SERVICE_NAME + '/' + "PauseRun",
      requestType = dev.runwire.v1.PauseRunRequest.class,
      responseType = dev.runwire.v1.PauseRunResponse.class,
      methodType = io.grpc.MethodDescriptor.MethodType.UNARY)
  public static io.grpc.MethodDescriptor<dev.runwire.v1.PauseRunRequest,
      dev.runwire.v1.PauseRunResponse> getPauseRunMethod() {
    io.grpc.MethodDescriptor<dev.runwire.v1.PauseRunRequest, dev.runwire.v1.PauseRunResponse> getPauseRunMethod;
    if ((getPauseRunMethod = RunServiceGrpc.getPauseRunMethod) == null) {
      synchronized (RunServiceGrpc.class) {
        if ((getPauseRunMethod = RunServiceGrpc.getPauseRunMethod) == null) {
          RunServiceGrpc.getPauseRunMethod = getPauseRunMethod =
              io.grpc.MethodDescriptor.<dev.runwire.v1.PauseRunRequest, dev.runwire.v1.PauseRunResponse>newBuilder()
              .setType(io.grpc.MethodDescriptor.MethodType.UNARY)
              .setFullMethodName(generateFullMethodName(SERVICE_NAME, "PauseRun"))
              .setSampledToLocalTracing(true)
              .setRequestMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.runwire.v1.PauseRunRequest.getDefaultInstance()))
              .setResponseMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.runwire.v1.PauseRunResponse.getDefaultInstance()))
              .setSchemaDescriptor(new RunServiceMethodDescriptorSupplier("PauseRun"))
              .build();
        }
      }
    }
    return getPauseRunMethod;
  }

  private static volatile io.grpc.MethodDescriptor<dev.runwire.v1.ResumeRunRequest,
      dev.runwire.v1.ResumeRunResponse> getResumeRunMethod;

  @io.grpc.stub.annotations.RpcMethod(
      fullMethodName = SERVICE_NAME + '/' + "ResumeRun",
      requestType = dev.runwire.v1.ResumeRunRequest.class,
      responseType = dev.runwire.v1.ResumeRunResponse.class,
      methodType = io.grpc.MethodDescriptor.MethodType.UNARY)
  public static io.grpc.MethodDescriptor<dev.runwire.v1.ResumeRunRequest,
      dev.runwire.v1.ResumeRunResponse> getResumeRunMethod() {
    io.grpc.MethodDescriptor<dev.runwire.v1.ResumeRunRequest, dev.runwire.v1.ResumeRunResponse> getResumeRunMethod;
    if ((getResumeRunMethod = RunServiceGrpc.getResumeRunMethod) == null) {
      synchronized (RunServiceGrpc.class) {
        if ((getResumeRunMethod = RunServiceGrpc.getResumeRunMethod) == null) {
          RunServiceGrpc.getResumeRunMethod = getResumeRunMethod =
              io.grpc.MethodDescriptor.<dev.runwire.v1.ResumeRunRequest, dev.runwire.v1.ResumeRunResponse>newBuilder()
              .setType(io.grpc.MethodDescriptor.MethodType.UNARY)
              .setFullMethodName(generateFullMethodName(SERVICE_NAME, "ResumeRun"))
              .setSampledToLocalTracing(true)
              .setRequestMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.runwire.v1.ResumeRunRequest.getDefaultInstance()))
              .setResponseMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.runwire.v1.ResumeRunResponse.getDefaultInstance()))
              .setSchemaDescriptor(new RunServiceMethodDescriptorSupplier("ResumeRun"))
              .build();
        }
      }
    }
    return getResumeRunMethod;
  }

  private static volatile io.grpc.MethodDescriptor<dev.runwire.v1.StreamRunEventsRequest,
      dev.runwire.v1.StreamRunEventsResponse> getStreamRunEventsMethod;

  @io.grpc.stub.annotations.RpcMethod(
      fullMethodName = SERVICE_NAME + '/' + "StreamRunEvents",
      requestType = dev.runwire.v1.StreamRunEventsRequest.class,
      responseType = dev.runwire.v1.StreamRunEventsResponse.class,
      methodType = io.grpc.MethodDescriptor.MethodType.SERVER_STREAMING)
  public static io.grpc.MethodDescriptor<dev.runwire.v1.StreamRunEventsRequest,
      dev.runwire.v1.StreamRunEventsResponse> getStreamRunEventsMethod() {
    io.grpc.MethodDescriptor<dev.runwire.v1.StreamRunEventsRequest, dev.runwire.v1.StreamRunEventsResponse> getStreamRunEventsMethod;
    if ((getStreamRunEventsMethod = RunServiceGrpc.getStreamRunEventsMethod) == null) {
      synchronized (RunServiceGrpc.class) {
        if ((getStreamRunEventsMethod = RunServiceGrpc.getStreamRunEventsMethod) == null) {
          RunServiceGrpc.getStreamRunEventsMethod = getStreamRunEventsMethod =
              io.grpc.MethodDescriptor.<dev.runwire.v1.StreamRunEventsRequest, dev.runwire.v1.StreamRunEventsResponse>newBuilder()
              .setType(io.grpc.MethodDescriptor.MethodType.SERVER_STREAMING)
              .setFullMethodName(generateFullMethodName(SERVICE_NAME, "StreamRunEvents"))
              .setSampledToLocalTracing(true)
              .setRequestMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.runwire.v1.StreamRunEventsRequest.getDefaultInstance()))
              .setResponseMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.runwire.v1.StreamRunEventsResponse.getDefaultInstance()))
              .setSchemaDescriptor(new RunServiceMethodDescriptorSupplier("StreamRunEvents"))
              .build();
        }
      }
    }
    return getStreamRunEventsMethod;
  }

  private static volatile io.grpc.MethodDescriptor<dev.runwire.v1.ListRunEventsRequest,
      dev.runwire.v1.ListRunEventsResponse> getListRunEventsMethod;

  @io.grpc.stub.annotations.RpcMethod(
      fullMethodName = SERVICE_NAME + '/' + "ListRunEvents",
      requestType = dev.runwire.v1.ListRunEventsRequest.class,
      responseType = dev.runwire.v1.ListRunEventsResponse.class,
      methodType = io.grpc.MethodDescriptor.MethodType.UNARY)
  public static io.grpc.MethodDescriptor<dev.runwire.v1.ListRunEventsRequest,
      dev.runwire.v1.ListRunEventsResponse> getListRunEventsMethod() {
    io.grpc.MethodDescriptor<dev.runwire.v1.ListRunEventsRequest, dev.runwire.v1.ListRunEventsResponse> getListRunEventsMethod;
    if ((getListRunEventsMethod = RunServiceGrpc.getListRunEventsMethod) == null) {
      synchronized (RunServiceGrpc.class) {
        if ((getListRunEventsMethod = RunServiceGrpc.getListRunEventsMethod) == null) {
          RunServiceGrpc.getListRunEventsMethod = getListRunEventsMethod =
              io.grpc.MethodDescriptor.<dev.runwire.v1.ListRunEventsRequest, dev.runwire.v1.ListRunEventsResponse>newBuilder()
              .setType(io.grpc.MethodDescriptor.MethodType.UNARY)
              .setFullMethodName(generateFullMethodName(SERVICE_NAME, "ListRunEvents"))
              .setSampledToLocalTracing(true)
              .setRequestMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.runwire.v1.ListRunEventsRequest.getDefaultInstance()))
              .setResponseMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.runwire.v1.ListRunEventsResponse.getDefaultInstance()))
              .setSchemaDescriptor(new RunServiceMethodDescriptorSupplier("ListRunEvents"))
              .build();
        }
      }
    }
    return getListRunEventsMethod;
  }

  private static volatile io.grpc.MethodDescriptor<dev.runwire.v1.SubmitToolOutputsRequest,
      dev.runwire.v1.SubmitToolOutputsResponse> getSubmitToolOutputsMethod;

  @io.grpc.stub.annotations.RpcMethod(
      fullMethodName = SERVICE_NAME + '/' + "SubmitToolOutputs",
      requestType = dev.runwire.v1.SubmitToolOutputsRequest.class,
      responseType = dev.runwire.v1.SubmitToolOutputsResponse.class,
      methodType = io.grpc.MethodDescriptor.MethodType.UNARY)
  public static io.grpc.MethodDescriptor<dev.runwire.v1.SubmitToolOutputsRequest,
      dev.runwire.v1.SubmitToolOutputsResponse> getSubmitToolOutputsMethod() {
    io.grpc.MethodDescriptor<dev.runwire.v1.SubmitToolOutputsRequest, dev.runwire.v1.SubmitToolOutputsResponse> getSubmitToolOutputsMethod;
    if ((getSubmitToolOutputsMethod = RunServiceGrpc.getSubmitToolOutputsMethod) == null) {
      synchronized (RunServiceGrpc.class) {
        if ((getSubmitToolOutputsMethod = RunServiceGrpc.getSubmitToolOutputsMethod) == null) {
          RunServiceGrpc.getSubmitToolOutputsMethod = getSubmitToolOutputsMethod =
              io.grpc.MethodDescriptor.<dev.runwire.v1.SubmitToolOutputsRequest, dev.runwire.v1.SubmitToolOutputsResponse>newBuilder()
              .setType(io.grpc.MethodDescriptor.MethodType.UNARY)
              .setFullMethodName(generateFullMethodName(SERVICE_NAME, "SubmitToolOutputs"))
              .setSampledToLocalTracing(true)
              .setRequestMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.runwire.v1.SubmitToolOutputsRequest.getDefaultInstance()))
              .setResponseMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.runwire.v1.SubmitToolOutputsResponse.getDefaultInstance()))
              .setSchemaDescriptor(new RunServiceMethodDescriptorSupplier("SubmitToolOutputs"))
              .build();
        }
      }
    }
    return getSubmitToolOutputsMethod;
  }

  private static volatile io.grpc.MethodDescriptor<dev.runwire.v1.WatchRunsRequest,
      dev.runwire.v1.WatchRunsResponse> getWatchRunsMethod;

  @io.grpc.stub.annotations.RpcMethod(
      fullMethodName = SERVICE_NAME + '/' + "WatchRuns",
      requestType = dev.runwire.v1.WatchRunsRequest.class,
      responseType = dev.runwire.v1.WatchRunsResponse.class,
      methodType = io.grpc.MethodDescriptor.MethodType.SERVER_STREAMING)
  public static io.grpc.MethodDescriptor<dev.runwire.v1.WatchRunsRequest,
      dev.runwire.v1.WatchRunsResponse> getWatchRunsMethod() {
    io.grpc.MethodDescriptor<dev.runwire.v1.WatchRunsRequest, dev.runwire.v1.WatchRunsResponse> getWatchRunsMethod;
    if ((getWatchRunsMethod = RunServiceGrpc.getWatchRunsMethod) == null) {
      synchronized (RunServiceGrpc.class) {
        if ((getWatchRunsMethod = RunServiceGrpc.getWatchRunsMethod) == null) {
          RunServiceGrpc.getWatchRunsMethod = getWatchRunsMethod =
              io.grpc.MethodDescriptor.<dev.runwire.v1.WatchRunsRequest, dev.runwire.v1.WatchRunsResponse>newBuilder()
              .setType(io.grpc.MethodDescriptor.MethodType.SERVER_STREAMING)
              .setFullMethodName(generateFullMethodName(SERVICE_NAME, "WatchRuns"))
              .setSampledToLocalTracing(true)
              .setRequestMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.runwire.v1.WatchRunsRequest.getDefaultInstance()))
              .setResponseMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.runwire.v1.WatchRunsResponse.getDefaultInstance()))
              .setSchemaDescriptor(new RunServiceMethodDescriptorSupplier("WatchRuns"))
              .build();
        }
      }
    }
    return getWatchRunsMethod;
  }

  /**
   * Creates a new async stub that supports all call types for the service
   */
  public static RunServiceStub newStub(io.grpc.Channel channel) {
    io.grpc.stub.AbstractStub.StubFactory<RunServiceStub> factory =
      new io.grpc.stub.AbstractStub.StubFactory<RunServiceStub>() {
        @java.lang.Override
        public RunServiceStub newStub(io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
          return new RunServiceStub(channel, callOptions);
        }
      };
    return RunServiceStub.newStub(factory, channel);
  }

  /**
   * Creates a new blocking-style stub that supports all types of calls on the service
   */
  public static RunServiceBlockingV2Stub newBlockingV2Stub(
      io.grpc.Channel channel) {
    io.grpc.stub.AbstractStub.StubFactory<RunServiceBlockingV2Stub> factory =
      new io.grpc.stub.AbstractStub.StubFactory<RunServiceBlockingV2Stub>() {
        @java.lang.Override
        public RunServiceBlockingV2Stub newStub(io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
          return new RunServiceBlockingV2Stub(channel, callOptions);
        }
      };
    return RunServiceBlockingV2Stub.newStub(factory, channel);
  }

  /**
   * Creates a new blocking-style stub that supports unary and streaming output calls on the service
   */
  public static RunServiceBlockingStub newBlockingStub(
      io.grpc.Channel channel) {
    io.grpc.stub.AbstractStub.StubFactory<RunServiceBlockingStub> factory =
      new io.grpc.stub.AbstractStub.StubFactory<RunServiceBlockingStub>() {
        @java.lang.Override
        public RunServiceBlockingStub newStub(io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
          return new RunServiceBlockingStub(channel, callOptions);
        }
      };
    return RunServiceBlockingStub.newStub(factory, channel);
  }

  /**
   * Creates a new ListenableFuture-style stub that supports unary calls on the service
   */
  public static RunServiceFutureStub newFutureStub(
      io.grpc.Channel channel) {
    io.grpc.stub.AbstractStub.StubFactory<RunServiceFutureStub> factory =
      new io.grpc.stub.AbstractStub.StubFactory<RunServiceFutureStub>() {
        @java.lang.Override
        public RunServiceFutureStub newStub(io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
          return new RunServiceFutureStub(channel, callOptions);
        }
      };
    return RunServiceFutureStub.newStub(factory, channel);
  }

  /**
   * <pre>
   * RunService starts runs, streams their events, and feeds them what they wait
   * for. Runs go on when the client that started them disconnects.
   * Errors: INVALID_ARGUMENT (with google.rpc.BadRequest), NOT_FOUND (unknown
   * agent, run or thread), FAILED_PRECONDITION (the run does not wait for
   * that), ABORTED (thread busy), OUT_OF_RANGE (SEQUENCE_OUT_OF_RANGE:
   * after_sequence past the end of an ended run), UNAVAILABLE (runtime down or
   * server draining). Every error carries a google.rpc.ErrorInfo with domain
   * "runwire.dev"; its reason is a value name of ErrorReason.
   * </pre>
   */
  public interface AsyncService {

    /**
     * <pre>
     * Starts a run and returns it at once; the run goes on in the background.
     * </pre>
     */
    default void createRun(dev.runwire.v1.CreateRunRequest request,
        io.grpc.stub.StreamObserver<dev.runwire.v1.CreateRunResponse> responseObserver) {
      io.grpc.stub.ServerCalls.asyncUnimplementedUnaryCall(getCreateRunMethod(), responseObserver);
    }

    /**
     * <pre>
     * Starts a run and streams its events from sequence 1 until the terminal
     * event. The run goes on if the client disconnects; resume with
     * StreamRunEvents.
     * </pre>
     */
    default void streamRun(dev.runwire.v1.StreamRunRequest request,
        io.grpc.stub.StreamObserver<dev.runwire.v1.StreamRunResponse> responseObserver) {
      io.grpc.stub.ServerCalls.asyncUnimplementedUnaryCall(getStreamRunMethod(), responseObserver);
    }

    /**
     * <pre>
     * Starts a run and blocks until it ends, requires action, is paused, or
     * the timeout passes; returns the run as it is then.
     * </pre>
     */
    default void waitRun(dev.runwire.v1.WaitRunRequest request,
        io.grpc.stub.StreamObserver<dev.runwire.v1.WaitRunResponse> responseObserver) {
      io.grpc.stub.ServerCalls.asyncUnimplementedUnaryCall(getWaitRunMethod(), responseObserver);
    }

    /**
     * <pre>
     * Returns one run.
     * </pre>
     */
    default void getRun(dev.runwire.v1.GetRunRequest request,
        io.grpc.stub.StreamObserver<dev.runwire.v1.GetRunResponse> responseObserver) {
      io.grpc.stub.ServerCalls.asyncUnimplementedUnaryCall(getGetRunMethod(), responseObserver);
    }

    /**
     * <pre>
     * Lists runs, newest first, one page at a time.
     * </pre>
     */
    default void listRuns(dev.runwire.v1.ListRunsRequest request,
        io.grpc.stub.StreamObserver<dev.runwire.v1.ListRunsResponse> responseObserver) {
      io.grpc.stub.ServerCalls.asyncUnimplementedUnaryCall(getListRunsMethod(), responseObserver);
    }

    /**
     * <pre>
     * Cancels a run: it stops, pending approvals are cancelled, and it ends
     * CANCELLED. Cancelling an ended run returns it unchanged.
     * </pre>
     */
    default void cancelRun(dev.runwire.v1.CancelRunRequest request,
        io.grpc.stub.StreamObserver<dev.runwire.v1.CancelRunResponse> responseObserver) {
      io.grpc.stub.ServerCalls.asyncUnimplementedUnaryCall(getCancelRunMethod(), responseObserver);
    }

    /**
     * <pre>
     * Asks a run to pause at its next safe point: before its next model call,
     * or before the tool calls of the model reply in flight (calls already
     * running finish first). The run then logs state_changed PAUSED and waits
     * for ResumeRun. Returns the run as it is when the request is recorded
     * (usually still RUNNING). Pausing a paused or ended run returns it
     * unchanged. On Temporal a paused run stays paused across worker restarts.
     * </pre>
     */
    default void pauseRun(dev.runwire.v1.PauseRunRequest request,
        io.grpc.stub.StreamObserver<dev.runwire.v1.PauseRunResponse> responseObserver) {
      io.grpc.stub.ServerCalls.asyncUnimplementedUnaryCall(getPauseRunMethod(), responseObserver);
    }

    /**
     * <pre>
     * Continues a PAUSED run (state_changed RUNNING), or withdraws a pause
     * request the run has not reached yet. Resuming a run that is neither
     * paused nor asked to pause, or has ended, returns it unchanged.
     * </pre>
     */
    default void resumeRun(dev.runwire.v1.ResumeRunRequest request,
        io.grpc.stub.StreamObserver<dev.runwire.v1.ResumeRunResponse> responseObserver) {
      io.grpc.stub.ServerCalls.asyncUnimplementedUnaryCall(getResumeRunMethod(), responseObserver);
    }

    /**
     * <pre>
     * Streams a run's events with sequence &gt; after_sequence: the logged ones
     * first, then live ones, with nothing lost or doubled; ends with OK right
     * after the terminal event. Works on ended runs while their log is kept.
     * </pre>
     */
    default void streamRunEvents(dev.runwire.v1.StreamRunEventsRequest request,
        io.grpc.stub.StreamObserver<dev.runwire.v1.StreamRunEventsResponse> responseObserver) {
      io.grpc.stub.ServerCalls.asyncUnimplementedUnaryCall(getStreamRunEventsMethod(), responseObserver);
    }

    /**
     * <pre>
     * Returns a run's logged events, one page at a time.
     * </pre>
     */
    default void listRunEvents(dev.runwire.v1.ListRunEventsRequest request,
        io.grpc.stub.StreamObserver<dev.runwire.v1.ListRunEventsResponse> responseObserver) {
      io.grpc.stub.ServerCalls.asyncUnimplementedUnaryCall(getListRunEventsMethod(), responseObserver);
    }

    /**
     * <pre>
     * Answers client-executed tool calls of a run that REQUIRES_ACTION.
     * </pre>
     */
    default void submitToolOutputs(dev.runwire.v1.SubmitToolOutputsRequest request,
        io.grpc.stub.StreamObserver<dev.runwire.v1.SubmitToolOutputsResponse> responseObserver) {
      io.grpc.stub.ServerCalls.asyncUnimplementedUnaryCall(getSubmitToolOutputsMethod(), responseObserver);
    }

    /**
     * <pre>
     * Streams the caller's runs that match a filter: first those that exist
     * (EXISTING, then SYNCED), then every change (CREATED, UPDATED, ENDED) as
     * it happens, across replicas. Resume after a disconnect with the cursor of
     * the last message seen: nothing is missed or sent twice. OUT_OF_RANGE
     * (CURSOR_EXPIRED) when the cursor is older than the changes kept: watch
     * again without one.
     * </pre>
     */
    default void watchRuns(dev.runwire.v1.WatchRunsRequest request,
        io.grpc.stub.StreamObserver<dev.runwire.v1.WatchRunsResponse> responseObserver) {
      io.grpc.stub.ServerCalls.asyncUnimplementedUnaryCall(getWatchRunsMethod(), responseObserver);
    }
  }

  /**
   * Base class for the server implementation of the service RunService.
   * <pre>
   * RunService starts runs, streams their events, and feeds them what they wait
   * for. Runs go on when the client that started them disconnects.
   * Errors: INVALID_ARGUMENT (with google.rpc.BadRequest), NOT_FOUND (unknown
   * agent, run or thread), FAILED_PRECONDITION (the run does not wait for
   * that), ABORTED (thread busy), OUT_OF_RANGE (SEQUENCE_OUT_OF_RANGE:
   * after_sequence past the end of an ended run), UNAVAILABLE (runtime down or
   * server draining). Every error carries a google.rpc.ErrorInfo with domain
   * "runwire.dev"; its reason is a value name of ErrorReason.
   * </pre>
   */
  public static abstract class RunServiceImplBase
      implements io.grpc.BindableService, AsyncService {

    @java.lang.Override public final io.grpc.ServerServiceDefinition bindService() {
      return RunServiceGrpc.bindService(this);
    }
  }

  /**
   * A stub to allow clients to do asynchronous rpc calls to service RunService.
   * <pre>
   * RunService starts runs, streams their events, and feeds them what they wait
   * for. Runs go on when the client that started them disconnects.
   * Errors: INVALID_ARGUMENT (with google.rpc.BadRequest), NOT_FOUND (unknown
   * agent, run or thread), FAILED_PRECONDITION (the run does not wait for
   * that), ABORTED (thread busy), OUT_OF_RANGE (SEQUENCE_OUT_OF_RANGE:
   * after_sequence past the end of an ended run), UNAVAILABLE (runtime down or
   * server draining). Every error carries a google.rpc.ErrorInfo with domain
   * "runwire.dev"; its reason is a value name of ErrorReason.
   * </pre>
   */
  public static final class RunServiceStub
      extends io.grpc.stub.AbstractAsyncStub<RunServiceStub> {
    private RunServiceStub(
        io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
      super(channel, callOptions);
    }

    @java.lang.Override
    protected RunServiceStub build(
        io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
      return new RunServiceStub(channel, callOptions);
    }

    /**
     * <pre>
     * Starts a run and returns it at once; the run goes on in the background.
     * </pre>
     */
    public void createRun(dev.runwire.v1.CreateRunRequest request,
        io.grpc.stub.StreamObserver<dev.runwire.v1.CreateRunResponse> responseObserver) {
      io.grpc.stub.ClientCalls.asyncUnaryCall(
          getChannel().newCall(getCreateRunMethod(), getCallOptions()), request, responseObserver);
    }

    /**
     * <pre>
     * Starts a run and streams its events from sequence 1 until the terminal
     * event. The run goes on if the client disconnects; resume with
     * StreamRunEvents.
     * </pre>
     */
    public void streamRun(dev.runwire.v1.StreamRunRequest request,
        io.grpc.stub.StreamObserver<dev.runwire.v1.StreamRunResponse> responseObserver) {
      io.grpc.stub.ClientCalls.asyncServerStreamingCall(
          getChannel().newCall(getStreamRunMethod(), getCallOptions()), request, responseObserver);
    }

    /**
     * <pre>
     * Starts a run and blocks until it ends, requires action, is paused, or
     * the timeout passes; returns the run as it is then.
     * </pre>
     */
    public void waitRun(dev.runwire.v1.WaitRunRequest request,
        io.grpc.stub.StreamObserver<dev.runwire.v1.WaitRunResponse> responseObserver) {
      io.grpc.stub.ClientCalls.asyncUnaryCall(
          getChannel().newCall(getWaitRunMethod(), getCallOptions()), request, responseObserver);
    }

    /**
     * <pre>
     * Returns one run.
     * </pre>
     */
    public void getRun(dev.runwire.v1.GetRunRequest request,
        io.grpc.stub.StreamObserver<dev.runwire.v1.GetRunResponse> responseObserver) {
      io.grpc.stub.ClientCalls.asyncUnaryCall(
          getChannel().newCall(getGetRunMethod(), getCallOptions()), request, responseObserver);
    }

    /**
     * <pre>
     * Lists runs, newest first, one page at a time.
     * </pre>
     */
    public void listRuns(dev.runwire.v1.ListRunsRequest request,
        io.grpc.stub.StreamObserver<dev.runwire.v1.ListRunsResponse> responseObserver) {
      io.grpc.stub.ClientCalls.asyncUnaryCall(
          getChannel().newCall(getListRunsMethod(), getCallOptions()), request, responseObserver);
    }

    /**
     * <pre>
     * Cancels a run: it stops, pending approvals are cancelled, and it ends
     * CANCELLED. Cancelling an ended run returns it unchanged.
     * </pre>
     */
    public void cancelRun(dev.runwire.v1.CancelRunRequest request,
        io.grpc.stub.StreamObserver<dev.runwire.v1.CancelRunResponse> responseObserver) {
      io.grpc.stub.ClientCalls.asyncUnaryCall(
          getChannel().newCall(getCancelRunMethod(), getCallOptions()), request, responseObserver);
    }

    /**
     * <pre>
     * Asks a run to pause at its next safe point: before its next model call,
     * or before the tool calls of the model reply in flight (calls already
     * running finish first). The run then logs state_changed PAUSED and waits
     * for ResumeRun. Returns the run as it is when the request is recorded
     * (usually still RUNNING). Pausing a paused or ended run returns it
     * unchanged. On Temporal a paused run stays paused across worker restarts.
     * </pre>
     */
    public void pauseRun(dev.runwire.v1.PauseRunRequest request,
        io.grpc.stub.StreamObserver<dev.runwire.v1.PauseRunResponse> responseObserver) {
      io.grpc.stub.ClientCalls.asyncUnaryCall(
          getChannel().newCall(getPauseRunMethod(), getCallOptions()), request, responseObserver);
    }

    /**
     * <pre>
     * Continues a PAUSED run (state_changed RUNNING), or withdraws a pause
     * request the run has not reached yet. Resuming a run that is neither
     * paused nor asked to pause, or has ended, returns it unchanged.
     * </pre>
     */
    public void resumeRun(dev.runwire.v1.ResumeRunRequest request,
        io.grpc.stub.StreamObserver<dev.runwire.v1.ResumeRunResponse> responseObserver) {
      io.grpc.stub.ClientCalls.asyncUnaryCall(
          getChannel().newCall(getResumeRunMethod(), getCallOptions()), request, responseObserver);
    }

    /**
     * <pre>
     * Streams a run's events with sequence &gt; after_sequence: the logged ones
     * first, then live ones, with nothing lost or doubled; ends with OK right
     * after the terminal event. Works on ended runs while their log is kept.
     * </pre>
     */
    public void streamRunEvents(dev.runwire.v1.StreamRunEventsRequest request,
        io.grpc.stub.StreamObserver<dev.runwire.v1.StreamRunEventsResponse> responseObserver) {
      io.grpc.stub.ClientCalls.asyncServerStreamingCall(
          getChannel().newCall(getStreamRunEventsMethod(), getCallOptions()), request, responseObserver);
    }

    /**
     * <pre>
     * Returns a run's logged events, one page at a time.
     * </pre>
     */
    public void listRunEvents(dev.runwire.v1.ListRunEventsRequest request,
        io.grpc.stub.StreamObserver<dev.runwire.v1.ListRunEventsResponse> responseObserver) {
      io.grpc.stub.ClientCalls.asyncUnaryCall(
          getChannel().newCall(getListRunEventsMethod(), getCallOptions()), request, responseObserver);
    }

    /**
     * <pre>
     * Answers client-executed tool calls of a run that REQUIRES_ACTION.
     * </pre>
     */
    public void submitToolOutputs(dev.runwire.v1.SubmitToolOutputsRequest request,
        io.grpc.stub.StreamObserver<dev.runwire.v1.SubmitToolOutputsResponse> responseObserver) {
      io.grpc.stub.ClientCalls.asyncUnaryCall(
          getChannel().newCall(getSubmitToolOutputsMethod(), getCallOptions()), request, responseObserver);
    }

    /**
     * <pre>
     * Streams the caller's runs that match a filter: first those that exist
     * (EXISTING, then SYNCED), then every change (CREATED, UPDATED, ENDED) as
     * it happens, across replicas. Resume after a disconnect with the cursor of
     * the last message seen: nothing is missed or sent twice. OUT_OF_RANGE
     * (CURSOR_EXPIRED) when the cursor is older than the changes kept: watch
     * again without one.
     * </pre>
     */
    public void watchRuns(dev.runwire.v1.WatchRunsRequest request,
        io.grpc.stub.StreamObserver<dev.runwire.v1.WatchRunsResponse> responseObserver) {
      io.grpc.stub.ClientCalls.asyncServerStreamingCall(
          getChannel().newCall(getWatchRunsMethod(), getCallOptions()), request, responseObserver);
    }
  }

  /**
   * A stub to allow clients to do synchronous rpc calls to service RunService.
   * <pre>
   * RunService starts runs, streams their events, and feeds them what they wait
   * for. Runs go on when the client that started them disconnects.
   * Errors: INVALID_ARGUMENT (with google.rpc.BadRequest), NOT_FOUND (unknown
   * agent, run or thread), FAILED_PRECONDITION (the run does not wait for
   * that), ABORTED (thread busy), OUT_OF_RANGE (SEQUENCE_OUT_OF_RANGE:
   * after_sequence past the end of an ended run), UNAVAILABLE (runtime down or
   * server draining). Every error carries a google.rpc.ErrorInfo with domain
   * "runwire.dev"; its reason is a value name of ErrorReason.
   * </pre>
   */
  public static final class RunServiceBlockingV2Stub
      extends io.grpc.stub.AbstractBlockingStub<RunServiceBlockingV2Stub> {
    private RunServiceBlockingV2Stub(
        io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
      super(channel, callOptions);
    }

    @java.lang.Override
    protected RunServiceBlockingV2Stub build(
        io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
      return new RunServiceBlockingV2Stub(channel, callOptions);
    }

    /**
     * <pre>
     * Starts a run and returns it at once; the run goes on in the background.
     * </pre>
     */
    public dev.runwire.v1.CreateRunResponse createRun(dev.runwire.v1.CreateRunRequest request) throws io.grpc.StatusException {
      return io.grpc.stub.ClientCalls.blockingV2UnaryCall(
          getChannel(), getCreateRunMethod(), getCallOptions(), request);
    }

    /**
     * <pre>
     * Starts a run and streams its events from sequence 1 until the terminal
     * event. The run goes on if the client disconnects; resume with
     * StreamRunEvents.
     * </pre>
     */
    @io.grpc.ExperimentalApi("https://github.com/grpc/grpc-java/issues/10918")
    public io.grpc.stub.BlockingClientCall<?, dev.runwire.v1.StreamRunResponse>
        streamRun(dev.runwire.v1.StreamRunRequest request) {
      return io.grpc.stub.ClientCalls.blockingV2ServerStreamingCall(
          getChannel(), getStreamRunMethod(), getCallOptions(), request);
    }

    /**
     * <pre>
     * Starts a run and blocks until it ends, requires action, is paused, or
     * the timeout passes; returns the run as it is then.
     * </pre>
     */
    public dev.runwire.v1.WaitRunResponse waitRun(dev.runwire.v1.WaitRunRequest request) throws io.grpc.StatusException {
      return io.grpc.stub.ClientCalls.blockingV2UnaryCall(
          getChannel(), getWaitRunMethod(), getCallOptions(), request);
    }

    /**
     * <pre>
     * Returns one run.
     * </pre>
     */
    public dev.runwire.v1.GetRunResponse getRun(dev.runwire.v1.GetRunRequest request) throws io.grpc.StatusException {
      return io.grpc.stub.ClientCalls.blockingV2UnaryCall(
          getChannel(), getGetRunMethod(), getCallOptions(), request);
    }

    /**
     * <pre>
     * Lists runs, newest first, one page at a time.
     * </pre>
     */
    public dev.runwire.v1.ListRunsResponse listRuns(dev.runwire.v1.ListRunsRequest request) throws io.grpc.StatusException {
      return io.grpc.stub.ClientCalls.blockingV2UnaryCall(
          getChannel(), getListRunsMethod(), getCallOptions(), request);
    }

    /**
     * <pre>
     * Cancels a run: it stops, pending approvals are cancelled, and it ends
     * CANCELLED. Cancelling an ended run returns it unchanged.
     * </pre>
     */
    public dev.runwire.v1.CancelRunResponse cancelRun(dev.runwire.v1.CancelRunRequest request) throws io.grpc.StatusException {
      return io.grpc.stub.ClientCalls.blockingV2UnaryCall(
          getChannel(), getCancelRunMethod(), getCallOptions(), request);
    }

    /**
     * <pre>
     * Asks a run to pause at its next safe point: before its next model call,
     * or before the tool calls of the model reply in flight (calls already
     * running finish first). The run then logs state_changed PAUSED and waits
     * for ResumeRun. Returns the run as it is when the request is recorded
     * (usually still RUNNING). Pausing a paused or ended run returns it
     * unchanged. On Temporal a paused run stays paused across worker restarts.
     * </pre>
     */
    public dev.runwire.v1.PauseRunResponse pauseRun(dev.runwire.v1.PauseRunRequest request) throws io.grpc.StatusException {
      return io.grpc.stub.ClientCalls.blockingV2UnaryCall(
          getChannel(), getPauseRunMethod(), getCallOptions(), request);
    }

    /**
     * <pre>
     * Continues a PAUSED run (state_changed RUNNING), or withdraws a pause
     * request the run has not reached yet. Resuming a run that is neither
     * paused nor asked to pause, or has ended, returns it unchanged.
     * </pre>
     */
    public dev.runwire.v1.ResumeRunResponse resumeRun(dev.runwire.v1.ResumeRunRequest request) throws io.grpc.StatusException {
      return io.grpc.stub.ClientCalls.blockingV2UnaryCall(
          getChannel(), getResumeRunMethod(), getCallOptions(), request);
    }

    /**
     * <pre>
     * Streams a run's events with sequence &gt; after_sequence: the logged ones
     * first, then live ones, with nothing lost or doubled; ends with OK right
     * after the terminal event. Works on ended runs while their log is kept.
     * </pre>
     */
    @io.grpc.ExperimentalApi("https://github.com/grpc/grpc-java/issues/10918")
    public io.grpc.stub.BlockingClientCall<?, dev.runwire.v1.StreamRunEventsResponse>
        streamRunEvents(dev.runwire.v1.StreamRunEventsRequest request) {
      return io.grpc.stub.ClientCalls.blockingV2ServerStreamingCall(
          getChannel(), getStreamRunEventsMethod(), getCallOptions(), request);
    }

    /**
     * <pre>
     * Returns a run's logged events, one page at a time.
     * </pre>
     */
    public dev.runwire.v1.ListRunEventsResponse listRunEvents(dev.runwire.v1.ListRunEventsRequest request) throws io.grpc.StatusException {
      return io.grpc.stub.ClientCalls.blockingV2UnaryCall(
          getChannel(), getListRunEventsMethod(), getCallOptions(), request);
    }

    /**
     * <pre>
     * Answers client-executed tool calls of a run that REQUIRES_ACTION.
     * </pre>
     */
    public dev.runwire.v1.SubmitToolOutputsResponse submitToolOutputs(dev.runwire.v1.SubmitToolOutputsRequest request) throws io.grpc.StatusException {
      return io.grpc.stub.ClientCalls.blockingV2UnaryCall(
          getChannel(), getSubmitToolOutputsMethod(), getCallOptions(), request);
    }

    /**
     * <pre>
     * Streams the caller's runs that match a filter: first those that exist
     * (EXISTING, then SYNCED), then every change (CREATED, UPDATED, ENDED) as
     * it happens, across replicas. Resume after a disconnect with the cursor of
     * the last message seen: nothing is missed or sent twice. OUT_OF_RANGE
     * (CURSOR_EXPIRED) when the cursor is older than the changes kept: watch
     * again without one.
     * </pre>
     */
    @io.grpc.ExperimentalApi("https://github.com/grpc/grpc-java/issues/10918")
    public io.grpc.stub.BlockingClientCall<?, dev.runwire.v1.WatchRunsResponse>
        watchRuns(dev.runwire.v1.WatchRunsRequest request) {
      return io.grpc.stub.ClientCalls.blockingV2ServerStreamingCall(
          getChannel(), getWatchRunsMethod(), getCallOptions(), request);
    }
  }

  /**
   * A stub to allow clients to do limited synchronous rpc calls to service RunService.
   * <pre>
   * RunService starts runs, streams their events, and feeds them what they wait
   * for. Runs go on when the client that started them disconnects.
   * Errors: INVALID_ARGUMENT (with google.rpc.BadRequest), NOT_FOUND (unknown
   * agent, run or thread), FAILED_PRECONDITION (the run does not wait for
   * that), ABORTED (thread busy), OUT_OF_RANGE (SEQUENCE_OUT_OF_RANGE:
   * after_sequence past the end of an ended run), UNAVAILABLE (runtime down or
   * server draining). Every error carries a google.rpc.ErrorInfo with domain
   * "runwire.dev"; its reason is a value name of ErrorReason.
   * </pre>
   */
  public static final class RunServiceBlockingStub
      extends io.grpc.stub.AbstractBlockingStub<RunServiceBlockingStub> {
    private RunServiceBlockingStub(
        io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
      super(channel, callOptions);
    }

    @java.lang.Override
    protected RunServiceBlockingStub build(
        io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
      return new RunServiceBlockingStub(channel, callOptions);
    }

    /**
     * <pre>
     * Starts a run and returns it at once; the run goes on in the background.
     * </pre>
     */
    public dev.runwire.v1.CreateRunResponse createRun(dev.runwire.v1.CreateRunRequest request) {
      return io.grpc.stub.ClientCalls.blockingUnaryCall(
          getChannel(), getCreateRunMethod(), getCallOptions(), request);
    }

    /**
     * <pre>
     * Starts a run and streams its events from sequence 1 until the terminal
     * event. The run goes on if the client disconnects; resume with
     * StreamRunEvents.
     * </pre>
     */
    public java.util.Iterator<dev.runwire.v1.StreamRunResponse> streamRun(
        dev.runwire.v1.StreamRunRequest request) {
      return io.grpc.stub.ClientCalls.blockingServerStreamingCall(
          getChannel(), getStreamRunMethod(), getCallOptions(), request);
    }

    /**
     * <pre>
     * Starts a run and blocks until it ends, requires action, is paused, or
     * the timeout passes; returns the run as it is then.
     * </pre>
     */
    public dev.runwire.v1.WaitRunResponse waitRun(dev.runwire.v1.WaitRunRequest request) {
      return io.grpc.stub.ClientCalls.blockingUnaryCall(
          getChannel(), getWaitRunMethod(), getCallOptions(), request);
    }

    /**
     * <pre>
     * Returns one run.
     * </pre>
     */
    public dev.runwire.v1.GetRunResponse getRun(dev.runwire.v1.GetRunRequest request) {
      return io.grpc.stub.ClientCalls.blockingUnaryCall(
          getChannel(), getGetRunMethod(), getCallOptions(), request);
    }

    /**
     * <pre>
     * Lists runs, newest first, one page at a time.
     * </pre>
     */
    public dev.runwire.v1.ListRunsResponse listRuns(dev.runwire.v1.ListRunsRequest request) {
      return io.grpc.stub.ClientCalls.blockingUnaryCall(
          getChannel(), getListRunsMethod(), getCallOptions(), request);
    }

    /**
     * <pre>
     * Cancels a run: it stops, pending approvals are cancelled, and it ends
     * CANCELLED. Cancelling an ended run returns it unchanged.
     * </pre>
     */
    public dev.runwire.v1.CancelRunResponse cancelRun(dev.runwire.v1.CancelRunRequest request) {
      return io.grpc.stub.ClientCalls.blockingUnaryCall(
          getChannel(), getCancelRunMethod(), getCallOptions(), request);
    }

    /**
     * <pre>
     * Asks a run to pause at its next safe point: before its next model call,
     * or before the tool calls of the model reply in flight (calls already
     * running finish first). The run then logs state_changed PAUSED and waits
     * for ResumeRun. Returns the run as it is when the request is recorded
     * (usually still RUNNING). Pausing a paused or ended run returns it
     * unchanged. On Temporal a paused run stays paused across worker restarts.
     * </pre>
     */
    public dev.runwire.v1.PauseRunResponse pauseRun(dev.runwire.v1.PauseRunRequest request) {
      return io.grpc.stub.ClientCalls.blockingUnaryCall(
          getChannel(), getPauseRunMethod(), getCallOptions(), request);
    }

    /**
     * <pre>
     * Continues a PAUSED run (state_changed RUNNING), or withdraws a pause
     * request the run has not reached yet. Resuming a run that is neither
     * paused nor asked to pause, or has ended, returns it unchanged.
     * </pre>
     */
    public dev.runwire.v1.ResumeRunResponse resumeRun(dev.runwire.v1.ResumeRunRequest request) {
      return io.grpc.stub.ClientCalls.blockingUnaryCall(
          getChannel(), getResumeRunMethod(), getCallOptions(), request);
    }

    /**
     * <pre>
     * Streams a run's events with sequence &gt; after_sequence: the logged ones
     * first, then live ones, with nothing lost or doubled; ends with OK right
     * after the terminal event. Works on ended runs while their log is kept.
     * </pre>
     */
    public java.util.Iterator<dev.runwire.v1.StreamRunEventsResponse> streamRunEvents(
        dev.runwire.v1.StreamRunEventsRequest request) {
      return io.grpc.stub.ClientCalls.blockingServerStreamingCall(
          getChannel(), getStreamRunEventsMethod(), getCallOptions(), request);
    }

    /**
     * <pre>
     * Returns a run's logged events, one page at a time.
     * </pre>
     */
    public dev.runwire.v1.ListRunEventsResponse listRunEvents(dev.runwire.v1.ListRunEventsRequest request) {
      return io.grpc.stub.ClientCalls.blockingUnaryCall(
          getChannel(), getListRunEventsMethod(), getCallOptions(), request);
    }

    /**
     * <pre>
     * Answers client-executed tool calls of a run that REQUIRES_ACTION.
     * </pre>
     */
    public dev.runwire.v1.SubmitToolOutputsResponse submitToolOutputs(dev.runwire.v1.SubmitToolOutputsRequest request) {
      return io.grpc.stub.ClientCalls.blockingUnaryCall(
          getChannel(), getSubmitToolOutputsMethod(), getCallOptions(), request);
    }

    /**
     * <pre>
     * Streams the caller's runs that match a filter: first those that exist
     * (EXISTING, then SYNCED), then every change (CREATED, UPDATED, ENDED) as
     * it happens, across replicas. Resume after a disconnect with the cursor of
     * the last message seen: nothing is missed or sent twice. OUT_OF_RANGE
     * (CURSOR_EXPIRED) when the cursor is older than the changes kept: watch
     * again without one.
     * </pre>
     */
    public java.util.Iterator<dev.runwire.v1.WatchRunsResponse> watchRuns(
        dev.runwire.v1.WatchRunsRequest request) {
      return io.grpc.stub.ClientCalls.blockingServerStreamingCall(
          getChannel(), getWatchRunsMethod(), getCallOptions(), request);
    }
  }

  /**
   * A stub to allow clients to do ListenableFuture-style rpc calls to service RunService.
   * <pre>
   * RunService starts runs, streams their events, and feeds them what they wait
   * for. Runs go on when the client that started them disconnects.
   * Errors: INVALID_ARGUMENT (with google.rpc.BadRequest), NOT_FOUND (unknown
   * agent, run or thread), FAILED_PRECONDITION (the run does not wait for
   * that), ABORTED (thread busy), OUT_OF_RANGE (SEQUENCE_OUT_OF_RANGE:
   * after_sequence past the end of an ended run), UNAVAILABLE (runtime down or
   * server draining). Every error carries a google.rpc.ErrorInfo with domain
   * "runwire.dev"; its reason is a value name of ErrorReason.
   * </pre>
   */
  public static final class RunServiceFutureStub
      extends io.grpc.stub.AbstractFutureStub<RunServiceFutureStub> {
    private RunServiceFutureStub(
        io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
      super(channel, callOptions);
    }

    @java.lang.Override
    protected RunServiceFutureStub build(
        io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
      return new RunServiceFutureStub(channel, callOptions);
    }

    /**
     * <pre>
     * Starts a run and returns it at once; the run goes on in the background.
     * </pre>
     */
    public com.google.common.util.concurrent.ListenableFuture<dev.runwire.v1.CreateRunResponse> createRun(
        dev.runwire.v1.CreateRunRequest request) {
      return io.grpc.stub.ClientCalls.futureUnaryCall(
          getChannel().newCall(getCreateRunMethod(), getCallOptions()), request);
    }

    /**
     * <pre>
     * Starts a run and blocks until it ends, requires action, is paused, or
     * the timeout passes; returns the run as it is then.
     * </pre>
     */
    public com.google.common.util.concurrent.ListenableFuture<dev.runwire.v1.WaitRunResponse> waitRun(
        dev.runwire.v1.WaitRunRequest request) {
      return io.grpc.stub.ClientCalls.futureUnaryCall(
          getChannel().newCall(getWaitRunMethod(), getCallOptions()), request);
    }

    /**
     * <pre>
     * Returns one run.
     * </pre>
     */
    public com.google.common.util.concurrent.ListenableFuture<dev.runwire.v1.GetRunResponse> getRun(
        dev.runwire.v1.GetRunRequest request) {
      return io.grpc.stub.ClientCalls.futureUnaryCall(
          getChannel().newCall(getGetRunMethod(), getCallOptions()), request);
    }

    /**
     * <pre>
     * Lists runs, newest first, one page at a time.
     * </pre>
     */
    public com.google.common.util.concurrent.ListenableFuture<dev.runwire.v1.ListRunsResponse> listRuns(
        dev.runwire.v1.ListRunsRequest request) {
      return io.grpc.stub.ClientCalls.futureUnaryCall(
          getChannel().newCall(getListRunsMethod(), getCallOptions()), request);
    }

    /**
     * <pre>
     * Cancels a run: it stops, pending approvals are cancelled, and it ends
     * CANCELLED. Cancelling an ended run returns it unchanged.
     * </pre>
     */
    public com.google.common.util.concurrent.ListenableFuture<dev.runwire.v1.CancelRunResponse> cancelRun(
        dev.runwire.v1.CancelRunRequest request) {
      return io.grpc.stub.ClientCalls.futureUnaryCall(
          getChannel().newCall(getCancelRunMethod(), getCallOptions()), request);
    }

    /**
     * <pre>
     * Asks a run to pause at its next safe point: before its next model call,
     * or before the tool calls of the model reply in flight (calls already
     * running finish first). The run then logs state_changed PAUSED and waits
     * for ResumeRun. Returns the run as it is when the request is recorded
     * (usually still RUNNING). Pausing a paused or ended run returns it
     * unchanged. On Temporal a paused run stays paused across worker restarts.
     * </pre>
     */
    public com.google.common.util.concurrent.ListenableFuture<dev.runwire.v1.PauseRunResponse> pauseRun(
        dev.runwire.v1.PauseRunRequest request) {
      return io.grpc.stub.ClientCalls.futureUnaryCall(
          getChannel().newCall(getPauseRunMethod(), getCallOptions()), request);
    }

    /**
     * <pre>
     * Continues a PAUSED run (state_changed RUNNING), or withdraws a pause
     * request the run has not reached yet. Resuming a run that is neither
     * paused nor asked to pause, or has ended, returns it unchanged.
     * </pre>
     */
    public com.google.common.util.concurrent.ListenableFuture<dev.runwire.v1.ResumeRunResponse> resumeRun(
        dev.runwire.v1.ResumeRunRequest request) {
      return io.grpc.stub.ClientCalls.futureUnaryCall(
          getChannel().newCall(getResumeRunMethod(), getCallOptions()), request);
    }

    /**
     * <pre>
     * Returns a run's logged events, one page at a time.
     * </pre>
     */
    public com.google.common.util.concurrent.ListenableFuture<dev.runwire.v1.ListRunEventsResponse> listRunEvents(
        dev.runwire.v1.ListRunEventsRequest request) {
      return io.grpc.stub.ClientCalls.futureUnaryCall(
          getChannel().newCall(getListRunEventsMethod(), getCallOptions()), request);
    }

    /**
     * <pre>
     * Answers client-executed tool calls of a run that REQUIRES_ACTION.
     * </pre>
     */
    public com.google.common.util.concurrent.ListenableFuture<dev.runwire.v1.SubmitToolOutputsResponse> submitToolOutputs(
        dev.runwire.v1.SubmitToolOutputsRequest request) {
      return io.grpc.stub.ClientCalls.futureUnaryCall(
          getChannel().newCall(getSubmitToolOutputsMethod(), getCallOptions()), request);
    }
  }

  private static final int METHODID_CREATE_RUN = 0;
  private static final int METHODID_STREAM_RUN = 1;
  private static final int METHODID_WAIT_RUN = 2;
  private static final int METHODID_GET_RUN = 3;
  private static final int METHODID_LIST_RUNS = 4;
  private static final int METHODID_CANCEL_RUN = 5;
  private static final int METHODID_PAUSE_RUN = 6;
  private static final int METHODID_RESUME_RUN = 7;
  private static final int METHODID_STREAM_RUN_EVENTS = 8;
  private static final int METHODID_LIST_RUN_EVENTS = 9;
  private static final int METHODID_SUBMIT_TOOL_OUTPUTS = 10;
  private static final int METHODID_WATCH_RUNS = 11;

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
        case METHODID_CREATE_RUN:
          serviceImpl.createRun((dev.runwire.v1.CreateRunRequest) request,
              (io.grpc.stub.StreamObserver<dev.runwire.v1.CreateRunResponse>) responseObserver);
          break;
        case METHODID_STREAM_RUN:
          serviceImpl.streamRun((dev.runwire.v1.StreamRunRequest) request,
              (io.grpc.stub.StreamObserver<dev.runwire.v1.StreamRunResponse>) responseObserver);
          break;
        case METHODID_WAIT_RUN:
          serviceImpl.waitRun((dev.runwire.v1.WaitRunRequest) request,
              (io.grpc.stub.StreamObserver<dev.runwire.v1.WaitRunResponse>) responseObserver);
          break;
        case METHODID_GET_RUN:
          serviceImpl.getRun((dev.runwire.v1.GetRunRequest) request,
              (io.grpc.stub.StreamObserver<dev.runwire.v1.GetRunResponse>) responseObserver);
          break;
        case METHODID_LIST_RUNS:
          serviceImpl.listRuns((dev.runwire.v1.ListRunsRequest) request,
              (io.grpc.stub.StreamObserver<dev.runwire.v1.ListRunsResponse>) responseObserver);
          break;
        case METHODID_CANCEL_RUN:
          serviceImpl.cancelRun((dev.runwire.v1.CancelRunRequest) request,
              (io.grpc.stub.StreamObserver<dev.runwire.v1.CancelRunResponse>) responseObserver);
          break;
        case METHODID_PAUSE_RUN:
          serviceImpl.pauseRun((dev.runwire.v1.PauseRunRequest) request,
              (io.grpc.stub.StreamObserver<dev.runwire.v1.PauseRunResponse>) responseObserver);
          break;
        case METHODID_RESUME_RUN:
          serviceImpl.resumeRun((dev.runwire.v1.ResumeRunRequest) request,
              (io.grpc.stub.StreamObserver<dev.runwire.v1.ResumeRunResponse>) responseObserver);
          break;
        case METHODID_STREAM_RUN_EVENTS:
          serviceImpl.streamRunEvents((dev.runwire.v1.StreamRunEventsRequest) request,
              (io.grpc.stub.StreamObserver<dev.runwire.v1.StreamRunEventsResponse>) responseObserver);
          break;
        case METHODID_LIST_RUN_EVENTS:
          serviceImpl.listRunEvents((dev.runwire.v1.ListRunEventsRequest) request,
              (io.grpc.stub.StreamObserver<dev.runwire.v1.ListRunEventsResponse>) responseObserver);
          break;
        case METHODID_SUBMIT_TOOL_OUTPUTS:
          serviceImpl.submitToolOutputs((dev.runwire.v1.SubmitToolOutputsRequest) request,
              (io.grpc.stub.StreamObserver<dev.runwire.v1.SubmitToolOutputsResponse>) responseObserver);
          break;
        case METHODID_WATCH_RUNS:
          serviceImpl.watchRuns((dev.runwire.v1.WatchRunsRequest) request,
              (io.grpc.stub.StreamObserver<dev.runwire.v1.WatchRunsResponse>) responseObserver);
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
          getCreateRunMethod(),
          io.grpc.stub.ServerCalls.asyncUnaryCall(
            new MethodHandlers<
              dev.runwire.v1.CreateRunRequest,
              dev.runwire.v1.CreateRunResponse>(
                service, METHODID_CREATE_RUN)))
        .addMethod(
          getStreamRunMethod(),
          io.grpc.stub.ServerCalls.asyncServerStreamingCall(
            new MethodHandlers<
              dev.runwire.v1.StreamRunRequest,
              dev.runwire.v1.StreamRunResponse>(
                service, METHODID_STREAM_RUN)))
        .addMethod(
          getWaitRunMethod(),
          io.grpc.stub.ServerCalls.asyncUnaryCall(
            new MethodHandlers<
              dev.runwire.v1.WaitRunRequest,
              dev.runwire.v1.WaitRunResponse>(
                service, METHODID_WAIT_RUN)))
        .addMethod(
          getGetRunMethod(),
          io.grpc.stub.ServerCalls.asyncUnaryCall(
            new MethodHandlers<
              dev.runwire.v1.GetRunRequest,
              dev.runwire.v1.GetRunResponse>(
                service, METHODID_GET_RUN)))
        .addMethod(
          getListRunsMethod(),
          io.grpc.stub.ServerCalls.asyncUnaryCall(
            new MethodHandlers<
              dev.runwire.v1.ListRunsRequest,
              dev.runwire.v1.ListRunsResponse>(
                service, METHODID_LIST_RUNS)))
        .addMethod(
          getCancelRunMethod(),
          io.grpc.stub.ServerCalls.asyncUnaryCall(
            new MethodHandlers<
              dev.runwire.v1.CancelRunRequest,
              dev.runwire.v1.CancelRunResponse>(
                service, METHODID_CANCEL_RUN)))
        .addMethod(
          getPauseRunMethod(),
          io.grpc.stub.ServerCalls.asyncUnaryCall(
            new MethodHandlers<
              dev.runwire.v1.PauseRunRequest,
              dev.runwire.v1.PauseRunResponse>(
                service, METHODID_PAUSE_RUN)))
        .addMethod(
          getResumeRunMethod(),
          io.grpc.stub.ServerCalls.asyncUnaryCall(
            new MethodHandlers<
              dev.runwire.v1.ResumeRunRequest,
              dev.runwire.v1.ResumeRunResponse>(
                service, METHODID_RESUME_RUN)))
        .addMethod(
          getStreamRunEventsMethod(),
          io.grpc.stub.ServerCalls.asyncServerStreamingCall(
            new MethodHandlers<
              dev.runwire.v1.StreamRunEventsRequest,
              dev.runwire.v1.StreamRunEventsResponse>(
                service, METHODID_STREAM_RUN_EVENTS)))
        .addMethod(
          getListRunEventsMethod(),
          io.grpc.stub.ServerCalls.asyncUnaryCall(
            new MethodHandlers<
              dev.runwire.v1.ListRunEventsRequest,
              dev.runwire.v1.ListRunEventsResponse>(
                service, METHODID_LIST_RUN_EVENTS)))
        .addMethod(
          getSubmitToolOutputsMethod(),
          io.grpc.stub.ServerCalls.asyncUnaryCall(
            new MethodHandlers<
              dev.runwire.v1.SubmitToolOutputsRequest,
              dev.runwire.v1.SubmitToolOutputsResponse>(
                service, METHODID_SUBMIT_TOOL_OUTPUTS)))
        .addMethod(
          getWatchRunsMethod(),
          io.grpc.stub.ServerCalls.asyncServerStreamingCall(
            new MethodHandlers<
              dev.runwire.v1.WatchRunsRequest,
              dev.runwire.v1.WatchRunsResponse>(
                service, METHODID_WATCH_RUNS)))
        .build();
  }

  private static abstract class RunServiceBaseDescriptorSupplier
      implements io.grpc.protobuf.ProtoFileDescriptorSupplier, io.grpc.protobuf.ProtoServiceDescriptorSupplier {
    RunServiceBaseDescriptorSupplier() {}

    @java.lang.Override
    public com.google.protobuf.Descriptors.FileDescriptor getFileDescriptor() {
      return dev.runwire.v1.RunServiceOuterClass.getDescriptor();
    }

    @java.lang.Override
    public com.google.protobuf.Descriptors.ServiceDescriptor getServiceDescriptor() {
      return getFileDescriptor().findServiceByName("RunService");
    }
  }

  private static final class RunServiceFileDescriptorSupplier
      extends RunServiceBaseDescriptorSupplier {
    RunServiceFileDescriptorSupplier() {}
  }

  private static final class RunServiceMethodDescriptorSupplier
      extends RunServiceBaseDescriptorSupplier
      implements io.grpc.protobuf.ProtoMethodDescriptorSupplier {
    private final java.lang.String methodName;

    RunServiceMethodDescriptorSupplier(java.lang.String methodName) {
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
      synchronized (RunServiceGrpc.class) {
        result = serviceDescriptor;
        if (result == null) {
          serviceDescriptor = result = io.grpc.ServiceDescriptor.newBuilder(SERVICE_NAME)
              .setSchemaDescriptor(new RunServiceFileDescriptorSupplier())
              .addMethod(getCreateRunMethod())
              .addMethod(getStreamRunMethod())
              .addMethod(getWaitRunMethod())
              .addMethod(getGetRunMethod())
              .addMethod(getListRunsMethod())
              .addMethod(getCancelRunMethod())
              .addMethod(getPauseRunMethod())
              .addMethod(getResumeRunMethod())
              .addMethod(getStreamRunEventsMethod())
              .addMethod(getListRunEventsMethod())
              .addMethod(getSubmitToolOutputsMethod())
              .addMethod(getWatchRunsMethod())
              .build();
        }
      }
    }
    return result;
  }
}
