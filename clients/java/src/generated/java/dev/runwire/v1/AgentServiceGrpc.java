package dev.runwire.v1;

import static io.grpc.MethodDescriptor.generateFullMethodName;

/**
 * <pre>
 * AgentService manages agent definitions: the instructions, model, tools,
 * approval policy, limits and runtime that runs are started from.
 * Errors: INVALID_ARGUMENT (with google.rpc.BadRequest field violations) for
 * malformed requests, NOT_FOUND for unknown agent ids, ALREADY_EXISTS when an
 * id is taken, ABORTED when an etag does not match. Every error carries a
 * google.rpc.ErrorInfo with domain "runwire.dev".
 * </pre>
 */
@io.grpc.stub.annotations.GrpcGenerated
public final class AgentServiceGrpc {

  private AgentServiceGrpc() {}

  public static final java.lang.String SERVICE_NAME = "runwire.v1.AgentService";

  // Static method descriptors that strictly reflect the proto.
  private static volatile io.grpc.MethodDescriptor<dev.runwire.v1.CreateAgentRequest,
      dev.runwire.v1.CreateAgentResponse> getCreateAgentMethod;

  @io.grpc.stub.annotations.RpcMethod(
      fullMethodName = SERVICE_NAME + '/' + "CreateAgent",
      requestType = dev.runwire.v1.CreateAgentRequest.class,
      responseType = dev.runwire.v1.CreateAgentResponse.class,
      methodType = io.grpc.MethodDescriptor.MethodType.UNARY)
  public static io.grpc.MethodDescriptor<dev.runwire.v1.CreateAgentRequest,
      dev.runwire.v1.CreateAgentResponse> getCreateAgentMethod() {
    io.grpc.MethodDescriptor<dev.runwire.v1.CreateAgentRequest, dev.runwire.v1.CreateAgentResponse> getCreateAgentMethod;
    if ((getCreateAgentMethod = AgentServiceGrpc.getCreateAgentMethod) == null) {
      synchronized (AgentServiceGrpc.class) {
        if ((getCreateAgentMethod = AgentServiceGrpc.getCreateAgentMethod) == null) {
          AgentServiceGrpc.getCreateAgentMethod = getCreateAgentMethod =
              io.grpc.MethodDescriptor.<dev.runwire.v1.CreateAgentRequest, dev.runwire.v1.CreateAgentResponse>newBuilder()
              .setType(io.grpc.MethodDescriptor.MethodType.UNARY)
              .setFullMethodName(generateFullMethodName(SERVICE_NAME, "CreateAgent"))
              .setSampledToLocalTracing(true)
              .setRequestMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.runwire.v1.CreateAgentRequest.getDefaultInstance()))
              .setResponseMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.runwire.v1.CreateAgentResponse.getDefaultInstance()))
              .setSchemaDescriptor(new AgentServiceMethodDescriptorSupplier("CreateAgent"))
              .build();
        }
      }
    }
    return getCreateAgentMethod;
  }

  private static volatile io.grpc.MethodDescriptor<dev.runwire.v1.GetAgentRequest,
      dev.runwire.v1.GetAgentResponse> getGetAgentMethod;

  @io.grpc.stub.annotations.RpcMethod(
      fullMethodName = SERVICE_NAME + '/' + "GetAgent",
      requestType = dev.runwire.v1.GetAgentRequest.class,
      responseType = dev.runwire.v1.GetAgentResponse.class,
      methodType = io.grpc.MethodDescriptor.MethodType.UNARY)
  public static io.grpc.MethodDescriptor<dev.runwire.v1.GetAgentRequest,
      dev.runwire.v1.GetAgentResponse> getGetAgentMethod() {
    io.grpc.MethodDescriptor<dev.runwire.v1.GetAgentRequest, dev.runwire.v1.GetAgentResponse> getGetAgentMethod;
    if ((getGetAgentMethod = AgentServiceGrpc.getGetAgentMethod) == null) {
      synchronized (AgentServiceGrpc.class) {
        if ((getGetAgentMethod = AgentServiceGrpc.getGetAgentMethod) == null) {
          AgentServiceGrpc.getGetAgentMethod = getGetAgentMethod =
              io.grpc.MethodDescriptor.<dev.runwire.v1.GetAgentRequest, dev.runwire.v1.GetAgentResponse>newBuilder()
              .setType(io.grpc.MethodDescriptor.MethodType.UNARY)
              .setFullMethodName(generateFullMethodName(SERVICE_NAME, "GetAgent"))
              .setSampledToLocalTracing(true)
              .setRequestMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.runwire.v1.GetAgentRequest.getDefaultInstance()))
              .setResponseMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.runwire.v1.GetAgentResponse.getDefaultInstance()))
              .setSchemaDescriptor(new AgentServiceMethodDescriptorSupplier("GetAgent"))
              .build();
        }
      }
    }
    return getGetAgentMethod;
  }

  private static volatile io.grpc.MethodDescriptor<dev.runwire.v1.ListAgentsRequest,
      dev.runwire.v1.ListAgentsResponse> getListAgentsMethod;

  @io.grpc.stub.annotations.RpcMethod(
      fullMethodName = SERVICE_NAME + '/' + "ListAgents",
      requestType = dev.runwire.v1.ListAgentsRequest.class,
      responseType = dev.runwire.v1.ListAgentsResponse.class,
      methodType = io.grpc.MethodDescriptor.MethodType.UNARY)
  public static io.grpc.MethodDescriptor<dev.runwire.v1.ListAgentsRequest,
      dev.runwire.v1.ListAgentsResponse> getListAgentsMethod() {
    io.grpc.MethodDescriptor<dev.runwire.v1.ListAgentsRequest, dev.runwire.v1.ListAgentsResponse> getListAgentsMethod;
    if ((getListAgentsMethod = AgentServiceGrpc.getListAgentsMethod) == null) {
      synchronized (AgentServiceGrpc.class) {
        if ((getListAgentsMethod = AgentServiceGrpc.getListAgentsMethod) == null) {
          AgentServiceGrpc.getListAgentsMethod = getListAgentsMethod =
              io.grpc.MethodDescriptor.<dev.runwire.v1.ListAgentsRequest, dev.runwire.v1.ListAgentsResponse>newBuilder()
              .setType(io.grpc.MethodDescriptor.MethodType.UNARY)
              .setFullMethodName(generateFullMethodName(SERVICE_NAME, "ListAgents"))
              .setSampledToLocalTracing(true)
              .setRequestMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.runwire.v1.ListAgentsRequest.getDefaultInstance()))
              .setResponseMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.runwire.v1.ListAgentsResponse.getDefaultInstance()))
              .setSchemaDescriptor(new AgentServiceMethodDescriptorSupplier("ListAgents"))
              .build();
        }
      }
    }
    return getListAgentsMethod;
  }

  private static volatile io.grpc.MethodDescriptor<dev.runwire.v1.UpdateAgentRequest,
      dev.runwire.v1.UpdateAgentResponse> getUpdateAgentMethod;

  @io.grpc.stub.annotations.RpcMethod(
      fullMethodName = SERVICE_NAME + '/' + "UpdateAgent",
      requestType = dev.runwire.v1.UpdateAgentRequest.class,
      responseType = dev.runwire.v1.UpdateAgentResponse.class,
      methodType = io.grpc.MethodDescriptor.MethodType.UNARY)
  public static io.grpc.MethodDescriptor<dev.runwire.v1.UpdateAgentRequest,
      dev.runwire.v1.UpdateAgentResponse> getUpdateAgentMethod() {
    io.grpc.MethodDescriptor<dev.runwire.v1.UpdateAgentRequest, dev.runwire.v1.UpdateAgentResponse> getUpdateAgentMethod;
    if ((getUpdateAgentMethod = AgentServiceGrpc.getUpdateAgentMethod) == null) {
      synchronized (AgentServiceGrpc.class) {
        if ((getUpdateAgentMethod = AgentServiceGrpc.getUpdateAgentMethod) == null) {
          AgentServiceGrpc.getUpdateAgentMethod = getUpdateAgentMethod =
              io.grpc.MethodDescriptor.<dev.runwire.v1.UpdateAgentRequest, dev.runwire.v1.UpdateAgentResponse>newBuilder()
              .setType(io.grpc.MethodDescriptor.MethodType.UNARY)
              .setFullMethodName(generateFullMethodName(SERVICE_NAME, "UpdateAgent"))
              .setSampledToLocalTracing(true)
              .setRequestMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.runwire.v1.UpdateAgentRequest.getDefaultInstance()))
              .setResponseMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.runwire.v1.UpdateAgentResponse.getDefaultInstance()))
              .setSchemaDescriptor(new AgentServiceMethodDescriptorSupplier("UpdateAgent"))
              .build();
        }
      }
    }
    return getUpdateAgentMethod;
  }

  private static volatile io.grpc.MethodDescriptor<dev.runwire.v1.DeleteAgentRequest,
      dev.runwire.v1.DeleteAgentResponse> getDeleteAgentMethod;

  @io.grpc.stub.annotations.RpcMethod(
      fullMethodName = SERVICE_NAME + '/' + "DeleteAgent",
      requestType = dev.runwire.v1.DeleteAgentRequest.class,
      responseType = dev.runwire.v1.DeleteAgentResponse.class,
      methodType = io.grpc.MethodDescriptor.MethodType.UNARY)
  public static io.grpc.MethodDescriptor<dev.runwire.v1.DeleteAgentRequest,
      dev.runwire.v1.DeleteAgentResponse> getDeleteAgentMethod() {
    io.grpc.MethodDescriptor<dev.runwire.v1.DeleteAgentRequest, dev.runwire.v1.DeleteAgentResponse> getDeleteAgentMethod;
    if ((getDeleteAgentMethod = AgentServiceGrpc.getDeleteAgentMethod) == null) {
      synchronized (AgentServiceGrpc.class) {
        if ((getDeleteAgentMethod = AgentServiceGrpc.getDeleteAgentMethod) == null) {
          AgentServiceGrpc.getDeleteAgentMethod = getDeleteAgentMethod =
              io.grpc.MethodDescriptor.<dev.runwire.v1.DeleteAgentRequest, dev.runwire.v1.DeleteAgentResponse>newBuilder()
              .setType(io.grpc.MethodDescriptor.MethodType.UNARY)
              .setFullMethodName(generateFullMethodName(SERVICE_NAME, "DeleteAgent"))
              .setSampledToLocalTracing(true)
              .setRequestMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.runwire.v1.DeleteAgentRequest.getDefaultInstance()))
              .setResponseMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.runwire.v1.DeleteAgentResponse.getDefaultInstance()))
              .setSchemaDescriptor(new AgentServiceMethodDescriptorSupplier("DeleteAgent"))
              .build();
        }
      }
    }
    return getDeleteAgentMethod;
  }

  private static volatile io.grpc.MethodDescriptor<dev.runwire.v1.ListAgentToolsRequest,
      dev.runwire.v1.ListAgentToolsResponse> getListAgentToolsMethod;

  @io.grpc.stub.annotations.RpcMethod(
      fullMethodName = SERVICE_NAME + '/' + "ListAgentTools",
      requestType = dev.runwire.v1.ListAgentToolsRequest.class,
      responseType = dev.runwire.v1.ListAgentToolsResponse.class,
      methodType = io.grpc.MethodDescriptor.MethodType.UNARY)
  public static io.grpc.MethodDescriptor<dev.runwire.v1.ListAgentToolsRequest,
      dev.runwire.v1.ListAgentToolsResponse> getListAgentToolsMethod() {
    io.grpc.MethodDescriptor<dev.runwire.v1.ListAgentToolsRequest, dev.runwire.v1.ListAgentToolsResponse> getListAgentToolsMethod;
    if ((getListAgentToolsMethod = AgentServiceGrpc.getListAgentToolsMethod) == null) {
      synchronized (AgentServiceGrpc.class) {
        if ((getListAgentToolsMethod = AgentServiceGrpc.getListAgentToolsMethod) == null) {
          AgentServiceGrpc.getListAgentToolsMethod = getListAgentToolsMethod =
              io.grpc.MethodDescriptor.<dev.runwire.v1.ListAgentToolsRequest, dev.runwire.v1.ListAgentToolsResponse>newBuilder()
              .setType(io.grpc.MethodDescriptor.MethodType.UNARY)
              .setFullMethodName(generateFullMethodName(SERVICE_NAME, "ListAgentTools"))
              .setSampledToLocalTracing(true)
              .setRequestMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.runwire.v1.ListAgentToolsRequest.getDefaultInstance()))
              .setResponseMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.runwire.v1.ListAgentToolsResponse.getDefaultInstance()))
              .setSchemaDescriptor(new AgentServiceMethodDescriptorSupplier("ListAgentTools"))
              .build();
        }
      }
    }
    return getListAgentToolsMethod;
  }

  /**
   * Creates a new async stub that supports all call types for the service
   */
  public static AgentServiceStub newStub(io.grpc.Channel channel) {
    io.grpc.stub.AbstractStub.StubFactory<AgentServiceStub> factory =
      new io.grpc.stub.AbstractStub.StubFactory<AgentServiceStub>() {
        @java.lang.Override
        public AgentServiceStub newStub(io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
          return new AgentServiceStub(channel, callOptions);
        }
      };
    return AgentServiceStub.newStub(factory, channel);
  }

  /**
   * Creates a new blocking-style stub that supports all types of calls on the service
   */
  public static AgentServiceBlockingV2Stub newBlockingV2Stub(
      io.grpc.Channel channel) {
    io.grpc.stub.AbstractStub.StubFactory<AgentServiceBlockingV2Stub> factory =
      new io.grpc.stub.AbstractStub.StubFactory<AgentServiceBlockingV2Stub>() {
        @java.lang.Override
        public AgentServiceBlockingV2Stub newStub(io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
          return new AgentServiceBlockingV2Stub(channel, callOptions);
        }
      };
    return AgentServiceBlockingV2Stub.newStub(factory, channel);
  }

  /**
   * Creates a new blocking-style stub that supports unary and streaming output calls on the service
   */
  public static AgentServiceBlockingStub newBlockingStub(
      io.grpc.Channel channel) {
    io.grpc.stub.AbstractStub.StubFactory<AgentServiceBlockingStub> factory =
      new io.grpc.stub.AbstractStub.StubFactory<AgentServiceBlockingStub>() {
        @java.lang.Override
        public AgentServiceBlockingStub newStub(io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
          return new AgentServiceBlockingStub(channel, callOptions);
        }
      };
    return AgentServiceBlockingStub.newStub(factory, channel);
  }

  /**
   * Creates a new ListenableFuture-style stub that supports unary calls on the service
   */
  public static AgentServiceFutureStub newFutureStub(
      io.grpc.Channel channel) {
    io.grpc.stub.AbstractStub.StubFactory<AgentServiceFutureStub> factory =
      new io.grpc.stub.AbstractStub.StubFactory<AgentServiceFutureStub>() {
        @java.lang.Override
        public AgentServiceFutureStub newStub(io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
          return new AgentServiceFutureStub(channel, callOptions);
        }
      };
    return AgentServiceFutureStub.newStub(factory, channel);
  }

  /**
   * <pre>
   * AgentService manages agent definitions: the instructions, model, tools,
   * approval policy, limits and runtime that runs are started from.
   * Errors: INVALID_ARGUMENT (with google.rpc.BadRequest field violations) for
   * malformed requests, NOT_FOUND for unknown agent ids, ALREADY_EXISTS when an
   * id is taken, ABORTED when an etag does not match. Every error carries a
   * google.rpc.ErrorInfo with domain "runwire.dev".
   * </pre>
   */
  public interface AsyncService {

    /**
     * <pre>
     * Creates an agent under a caller-chosen id.
     * </pre>
     */
    default void createAgent(dev.runwire.v1.CreateAgentRequest request,
        io.grpc.stub.StreamObserver<dev.runwire.v1.CreateAgentResponse> responseObserver) {
      io.grpc.stub.ServerCalls.asyncUnimplementedUnaryCall(getCreateAgentMethod(), responseObserver);
    }

    /**
     * <pre>
     * Returns one agent.
     * </pre>
     */
    default void getAgent(dev.runwire.v1.GetAgentRequest request,
        io.grpc.stub.StreamObserver<dev.runwire.v1.GetAgentResponse> responseObserver) {
      io.grpc.stub.ServerCalls.asyncUnimplementedUnaryCall(getGetAgentMethod(), responseObserver);
    }

    /**
     * <pre>
     * Lists agents ordered by id, one page at a time.
     * </pre>
     */
    default void listAgents(dev.runwire.v1.ListAgentsRequest request,
        io.grpc.stub.StreamObserver<dev.runwire.v1.ListAgentsResponse> responseObserver) {
      io.grpc.stub.ServerCalls.asyncUnimplementedUnaryCall(getListAgentsMethod(), responseObserver);
    }

    /**
     * <pre>
     * Updates the fields of an agent named by the update mask. Runs already
     * started keep the definition they snapshotted at start.
     * </pre>
     */
    default void updateAgent(dev.runwire.v1.UpdateAgentRequest request,
        io.grpc.stub.StreamObserver<dev.runwire.v1.UpdateAgentResponse> responseObserver) {
      io.grpc.stub.ServerCalls.asyncUnimplementedUnaryCall(getUpdateAgentMethod(), responseObserver);
    }

    /**
     * <pre>
     * Deletes an agent. Runs already started are not affected.
     * </pre>
     */
    default void deleteAgent(dev.runwire.v1.DeleteAgentRequest request,
        io.grpc.stub.StreamObserver<dev.runwire.v1.DeleteAgentResponse> responseObserver) {
      io.grpc.stub.ServerCalls.asyncUnimplementedUnaryCall(getDeleteAgentMethod(), responseObserver);
    }

    /**
     * <pre>
     * Lists the tools a run of the agent is offered, as the model sees them:
     * server tools (built-in and registered Python), the tools of its MCP
     * toolsets and its sub-agents, each with its JSON Schema and whether a
     * call needs an approval under the agent's policy. NOT_FOUND if unknown.
     * </pre>
     */
    default void listAgentTools(dev.runwire.v1.ListAgentToolsRequest request,
        io.grpc.stub.StreamObserver<dev.runwire.v1.ListAgentToolsResponse> responseObserver) {
      io.grpc.stub.ServerCalls.asyncUnimplementedUnaryCall(getListAgentToolsMethod(), responseObserver);
    }
  }

  /**
   * Base class for the server implementation of the service AgentService.
   * <pre>
   * AgentService manages agent definitions: the instructions, model, tools,
   * approval policy, limits and runtime that runs are started from.
   * Errors: INVALID_ARGUMENT (with google.rpc.BadRequest field violations) for
   * malformed requests, NOT_FOUND for unknown agent ids, ALREADY_EXISTS when an
   * id is taken, ABORTED when an etag does not match. Every error carries a
   * google.rpc.ErrorInfo with domain "runwire.dev".
   * </pre>
   */
  public static abstract class AgentServiceImplBase
      implements io.grpc.BindableService, AsyncService {

    @java.lang.Override public final io.grpc.ServerServiceDefinition bindService() {
      return AgentServiceGrpc.bindService(this);
    }
  }

  /**
   * A stub to allow clients to do asynchronous rpc calls to service AgentService.
   * <pre>
   * AgentService manages agent definitions: the instructions, model, tools,
   * approval policy, limits and runtime that runs are started from.
   * Errors: INVALID_ARGUMENT (with google.rpc.BadRequest field violations) for
   * malformed requests, NOT_FOUND for unknown agent ids, ALREADY_EXISTS when an
   * id is taken, ABORTED when an etag does not match. Every error carries a
   * google.rpc.ErrorInfo with domain "runwire.dev".
   * </pre>
   */
  public static final class AgentServiceStub
      extends io.grpc.stub.AbstractAsyncStub<AgentServiceStub> {
    private AgentServiceStub(
        io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
      super(channel, callOptions);
    }

    @java.lang.Override
    protected AgentServiceStub build(
        io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
      return new AgentServiceStub(channel, callOptions);
    }

    /**
     * <pre>
     * Creates an agent under a caller-chosen id.
     * </pre>
     */
    public void createAgent(dev.runwire.v1.CreateAgentRequest request,
        io.grpc.stub.StreamObserver<dev.runwire.v1.CreateAgentResponse> responseObserver) {
      io.grpc.stub.ClientCalls.asyncUnaryCall(
          getChannel().newCall(getCreateAgentMethod(), getCallOptions()), request, responseObserver);
    }

    /**
     * <pre>
     * Returns one agent.
     * </pre>
     */
    public void getAgent(dev.runwire.v1.GetAgentRequest request,
        io.grpc.stub.StreamObserver<dev.runwire.v1.GetAgentResponse> responseObserver) {
      io.grpc.stub.ClientCalls.asyncUnaryCall(
          getChannel().newCall(getGetAgentMethod(), getCallOptions()), request, responseObserver);
    }

    /**
     * <pre>
     * Lists agents ordered by id, one page at a time.
     * </pre>
     */
    public void listAgents(dev.runwire.v1.ListAgentsRequest request,
        io.grpc.stub.StreamObserver<dev.runwire.v1.ListAgentsResponse> responseObserver) {
      io.grpc.stub.ClientCalls.asyncUnaryCall(
          getChannel().newCall(getListAgentsMethod(), getCallOptions()), request, responseObserver);
    }

    /**
     * <pre>
     * Updates the fields of an agent named by the update mask. Runs already
     * started keep the definition they snapshotted at start.
     * </pre>
     */
    public void updateAgent(dev.runwire.v1.UpdateAgentRequest request,
        io.grpc.stub.StreamObserver<dev.runwire.v1.UpdateAgentResponse> responseObserver) {
      io.grpc.stub.ClientCalls.asyncUnaryCall(
          getChannel().newCall(getUpdateAgentMethod(), getCallOptions()), request, responseObserver);
    }

    /**
     * <pre>
     * Deletes an agent. Runs already started are not affected.
     * </pre>
     */
    public void deleteAgent(dev.runwire.v1.DeleteAgentRequest request,
        io.grpc.stub.StreamObserver<dev.runwire.v1.DeleteAgentResponse> responseObserver) {
      io.grpc.stub.ClientCalls.asyncUnaryCall(
          getChannel().newCall(getDeleteAgentMethod(), getCallOptions()), request, responseObserver);
    }

    /**
     * <pre>
     * Lists the tools a run of the agent is offered, as the model sees them:
     * server tools (built-in and registered Python), the tools of its MCP
     * toolsets and its sub-agents, each with its JSON Schema and whether a
     * call needs an approval under the agent's policy. NOT_FOUND if unknown.
     * </pre>
     */
    public void listAgentTools(dev.runwire.v1.ListAgentToolsRequest request,
        io.grpc.stub.StreamObserver<dev.runwire.v1.ListAgentToolsResponse> responseObserver) {
      io.grpc.stub.ClientCalls.asyncUnaryCall(
          getChannel().newCall(getListAgentToolsMethod(), getCallOptions()), request, responseObserver);
    }
  }

  /**
   * A stub to allow clients to do synchronous rpc calls to service AgentService.
   * <pre>
   * AgentService manages agent definitions: the instructions, model, tools,
   * approval policy, limits and runtime that runs are started from.
   * Errors: INVALID_ARGUMENT (with google.rpc.BadRequest field violations) for
   * malformed requests, NOT_FOUND for unknown agent ids, ALREADY_EXISTS when an
   * id is taken, ABORTED when an etag does not match. Every error carries a
   * google.rpc.ErrorInfo with domain "runwire.dev".
   * </pre>
   */
  public static final class AgentServiceBlockingV2Stub
      extends io.grpc.stub.AbstractBlockingStub<AgentServiceBlockingV2Stub> {
    private AgentServiceBlockingV2Stub(
        io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
      super(channel, callOptions);
    }

    @java.lang.Override
    protected AgentServiceBlockingV2Stub build(
        io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
      return new AgentServiceBlockingV2Stub(channel, callOptions);
    }

    /**
     * <pre>
     * Creates an agent under a caller-chosen id.
     * </pre>
     */
    public dev.runwire.v1.CreateAgentResponse createAgent(dev.runwire.v1.CreateAgentRequest request) throws io.grpc.StatusException {
      return io.grpc.stub.ClientCalls.blockingV2UnaryCall(
          getChannel(), getCreateAgentMethod(), getCallOptions(), request);
    }

    /**
     * <pre>
     * Returns one agent.
     * </pre>
     */
    public dev.runwire.v1.GetAgentResponse getAgent(dev.runwire.v1.GetAgentRequest request) throws io.grpc.StatusException {
      return io.grpc.stub.ClientCalls.blockingV2UnaryCall(
          getChannel(), getGetAgentMethod(), getCallOptions(), request);
    }

    /**
     * <pre>
     * Lists agents ordered by id, one page at a time.
     * </pre>
     */
    public dev.runwire.v1.ListAgentsResponse listAgents(dev.runwire.v1.ListAgentsRequest request) throws io.grpc.StatusException {
      return io.grpc.stub.ClientCalls.blockingV2UnaryCall(
          getChannel(), getListAgentsMethod(), getCallOptions(), request);
    }

    /**
     * <pre>
     * Updates the fields of an agent named by the update mask. Runs already
     * started keep the definition they snapshotted at start.
     * </pre>
     */
    public dev.runwire.v1.UpdateAgentResponse updateAgent(dev.runwire.v1.UpdateAgentRequest request) throws io.grpc.StatusException {
      return io.grpc.stub.ClientCalls.blockingV2UnaryCall(
          getChannel(), getUpdateAgentMethod(), getCallOptions(), request);
    }

    /**
     * <pre>
     * Deletes an agent. Runs already started are not affected.
     * </pre>
     */
    public dev.runwire.v1.DeleteAgentResponse deleteAgent(dev.runwire.v1.DeleteAgentRequest request) throws io.grpc.StatusException {
      return io.grpc.stub.ClientCalls.blockingV2UnaryCall(
          getChannel(), getDeleteAgentMethod(), getCallOptions(), request);
    }

    /**
     * <pre>
     * Lists the tools a run of the agent is offered, as the model sees them:
     * server tools (built-in and registered Python), the tools of its MCP
     * toolsets and its sub-agents, each with its JSON Schema and whether a
     * call needs an approval under the agent's policy. NOT_FOUND if unknown.
     * </pre>
     */
    public dev.runwire.v1.ListAgentToolsResponse listAgentTools(dev.runwire.v1.ListAgentToolsRequest request) throws io.grpc.StatusException {
      return io.grpc.stub.ClientCalls.blockingV2UnaryCall(
          getChannel(), getListAgentToolsMethod(), getCallOptions(), request);
    }
  }

  /**
   * A stub to allow clients to do limited synchronous rpc calls to service AgentService.
   * <pre>
   * AgentService manages agent definitions: the instructions, model, tools,
   * approval policy, limits and runtime that runs are started from.
   * Errors: INVALID_ARGUMENT (with google.rpc.BadRequest field violations) for
   * malformed requests, NOT_FOUND for unknown agent ids, ALREADY_EXISTS when an
   * id is taken, ABORTED when an etag does not match. Every error carries a
   * google.rpc.ErrorInfo with domain "runwire.dev".
   * </pre>
   */
  public static final class AgentServiceBlockingStub
      extends io.grpc.stub.AbstractBlockingStub<AgentServiceBlockingStub> {
    private AgentServiceBlockingStub(
        io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
      super(channel, callOptions);
    }

    @java.lang.Override
    protected AgentServiceBlockingStub build(
        io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
      return new AgentServiceBlockingStub(channel, callOptions);
    }

    /**
     * <pre>
     * Creates an agent under a caller-chosen id.
     * </pre>
     */
    public dev.runwire.v1.CreateAgentResponse createAgent(dev.runwire.v1.CreateAgentRequest request) {
      return io.grpc.stub.ClientCalls.blockingUnaryCall(
          getChannel(), getCreateAgentMethod(), getCallOptions(), request);
    }

    /**
     * <pre>
     * Returns one agent.
     * </pre>
     */
    public dev.runwire.v1.GetAgentResponse getAgent(dev.runwire.v1.GetAgentRequest request) {
      return io.grpc.stub.ClientCalls.blockingUnaryCall(
          getChannel(), getGetAgentMethod(), getCallOptions(), request);
    }

    /**
     * <pre>
     * Lists agents ordered by id, one page at a time.
     * </pre>
     */
    public dev.runwire.v1.ListAgentsResponse listAgents(dev.runwire.v1.ListAgentsRequest request) {
      return io.grpc.stub.ClientCalls.blockingUnaryCall(
          getChannel(), getListAgentsMethod(), getCallOptions(), request);
    }

    /**
     * <pre>
     * Updates the fields of an agent named by the update mask. Runs already
     * started keep the definition they snapshotted at start.
     * </pre>
     */
    public dev.runwire.v1.UpdateAgentResponse updateAgent(dev.runwire.v1.UpdateAgentRequest request) {
      return io.grpc.stub.ClientCalls.blockingUnaryCall(
          getChannel(), getUpdateAgentMethod(), getCallOptions(), request);
    }

    /**
     * <pre>
     * Deletes an agent. Runs already started are not affected.
     * </pre>
     */
    public dev.runwire.v1.DeleteAgentResponse deleteAgent(dev.runwire.v1.DeleteAgentRequest request) {
      return io.grpc.stub.ClientCalls.blockingUnaryCall(
          getChannel(), getDeleteAgentMethod(), getCallOptions(), request);
    }

    /**
     * <pre>
     * Lists the tools a run of the agent is offered, as the model sees them:
     * server tools (built-in and registered Python), the tools of its MCP
     * toolsets and its sub-agents, each with its JSON Schema and whether a
     * call needs an approval under the agent's policy. NOT_FOUND if unknown.
     * </pre>
     */
    public dev.runwire.v1.ListAgentToolsResponse listAgentTools(dev.runwire.v1.ListAgentToolsRequest request) {
      return io.grpc.stub.ClientCalls.blockingUnaryCall(
          getChannel(), getListAgentToolsMethod(), getCallOptions(), request);
    }
  }

  /**
   * A stub to allow clients to do ListenableFuture-style rpc calls to service AgentService.
   * <pre>
   * AgentService manages agent definitions: the instructions, model, tools,
   * approval policy, limits and runtime that runs are started from.
   * Errors: INVALID_ARGUMENT (with google.rpc.BadRequest field violations) for
   * malformed requests, NOT_FOUND for unknown agent ids, ALREADY_EXISTS when an
   * id is taken, ABORTED when an etag does not match. Every error carries a
   * google.rpc.ErrorInfo with domain "runwire.dev".
   * </pre>
   */
  public static final class AgentServiceFutureStub
      extends io.grpc.stub.AbstractFutureStub<AgentServiceFutureStub> {
    private AgentServiceFutureStub(
        io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
      super(channel, callOptions);
    }

    @java.lang.Override
    protected AgentServiceFutureStub build(
        io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
      return new AgentServiceFutureStub(channel, callOptions);
    }

    /**
     * <pre>
     * Creates an agent under a caller-chosen id.
     * </pre>
     */
    public com.google.common.util.concurrent.ListenableFuture<dev.runwire.v1.CreateAgentResponse> createAgent(
        dev.runwire.v1.CreateAgentRequest request) {
      return io.grpc.stub.ClientCalls.futureUnaryCall(
          getChannel().newCall(getCreateAgentMethod(), getCallOptions()), request);
    }

    /**
     * <pre>
     * Returns one agent.
     * </pre>
     */
    public com.google.common.util.concurrent.ListenableFuture<dev.runwire.v1.GetAgentResponse> getAgent(
        dev.runwire.v1.GetAgentRequest request) {
      return io.grpc.stub.ClientCalls.futureUnaryCall(
          getChannel().newCall(getGetAgentMethod(), getCallOptions()), request);
    }

    /**
     * <pre>
     * Lists agents ordered by id, one page at a time.
     * </pre>
     */
    public com.google.common.util.concurrent.ListenableFuture<dev.runwire.v1.ListAgentsResponse> listAgents(
        dev.runwire.v1.ListAgentsRequest request) {
      return io.grpc.stub.ClientCalls.futureUnaryCall(
          getChannel().newCall(getListAgentsMethod(), getCallOptions()), request);
    }

    /**
     * <pre>
     * Updates the fields of an agent named by the update mask. Runs already
     * started keep the definition they snapshotted at start.
     * </pre>
     */
    public com.google.common.util.concurrent.ListenableFuture<dev.runwire.v1.UpdateAgentResponse> updateAgent(
        dev.runwire.v1.UpdateAgentRequest request) {
      return io.grpc.stub.ClientCalls.futureUnaryCall(
          getChannel().newCall(getUpdateAgentMethod(), getCallOptions()), request);
    }

    /**
     * <pre>
     * Deletes an agent. Runs already started are not affected.
     * </pre>
     */
    public com.google.common.util.concurrent.ListenableFuture<dev.runwire.v1.DeleteAgentResponse> deleteAgent(
        dev.runwire.v1.DeleteAgentRequest request) {
      return io.grpc.stub.ClientCalls.futureUnaryCall(
          getChannel().newCall(getDeleteAgentMethod(), getCallOptions()), request);
    }

    /**
     * <pre>
     * Lists the tools a run of the agent is offered, as the model sees them:
     * server tools (built-in and registered Python), the tools of its MCP
     * toolsets and its sub-agents, each with its JSON Schema and whether a
     * call needs an approval under the agent's policy. NOT_FOUND if unknown.
     * </pre>
     */
    public com.google.common.util.concurrent.ListenableFuture<dev.runwire.v1.ListAgentToolsResponse> listAgentTools(
        dev.runwire.v1.ListAgentToolsRequest request) {
      return io.grpc.stub.ClientCalls.futureUnaryCall(
          getChannel().newCall(getListAgentToolsMethod(), getCallOptions()), request);
    }
  }

  private static final int METHODID_CREATE_AGENT = 0;
  private static final int METHODID_GET_AGENT = 1;
  private static final int METHODID_LIST_AGENTS = 2;
  private static final int METHODID_UPDATE_AGENT = 3;
  private static final int METHODID_DELETE_AGENT = 4;
  private static final int METHODID_LIST_AGENT_TOOLS = 5;

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
        case METHODID_CREATE_AGENT:
          serviceImpl.createAgent((dev.runwire.v1.CreateAgentRequest) request,
              (io.grpc.stub.StreamObserver<dev.runwire.v1.CreateAgentResponse>) responseObserver);
          break;
        case METHODID_GET_AGENT:
          serviceImpl.getAgent((dev.runwire.v1.GetAgentRequest) request,
              (io.grpc.stub.StreamObserver<dev.runwire.v1.GetAgentResponse>) responseObserver);
          break;
        case METHODID_LIST_AGENTS:
          serviceImpl.listAgents((dev.runwire.v1.ListAgentsRequest) request,
              (io.grpc.stub.StreamObserver<dev.runwire.v1.ListAgentsResponse>) responseObserver);
          break;
        case METHODID_UPDATE_AGENT:
          serviceImpl.updateAgent((dev.runwire.v1.UpdateAgentRequest) request,
              (io.grpc.stub.StreamObserver<dev.runwire.v1.UpdateAgentResponse>) responseObserver);
          break;
        case METHODID_DELETE_AGENT:
          serviceImpl.deleteAgent((dev.runwire.v1.DeleteAgentRequest) request,
              (io.grpc.stub.StreamObserver<dev.runwire.v1.DeleteAgentResponse>) responseObserver);
          break;
        case METHODID_LIST_AGENT_TOOLS:
          serviceImpl.listAgentTools((dev.runwire.v1.ListAgentToolsRequest) request,
              (io.grpc.stub.StreamObserver<dev.runwire.v1.ListAgentToolsResponse>) responseObserver);
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
          getCreateAgentMethod(),
          io.grpc.stub.ServerCalls.asyncUnaryCall(
            new MethodHandlers<
              dev.runwire.v1.CreateAgentRequest,
              dev.runwire.v1.CreateAgentResponse>(
                service, METHODID_CREATE_AGENT)))
        .addMethod(
          getGetAgentMethod(),
          io.grpc.stub.ServerCalls.asyncUnaryCall(
            new MethodHandlers<
              dev.runwire.v1.GetAgentRequest,
              dev.runwire.v1.GetAgentResponse>(
                service, METHODID_GET_AGENT)))
        .addMethod(
          getListAgentsMethod(),
          io.grpc.stub.ServerCalls.asyncUnaryCall(
            new MethodHandlers<
              dev.runwire.v1.ListAgentsRequest,
              dev.runwire.v1.ListAgentsResponse>(
                service, METHODID_LIST_AGENTS)))
        .addMethod(
          getUpdateAgentMethod(),
          io.grpc.stub.ServerCalls.asyncUnaryCall(
            new MethodHandlers<
              dev.runwire.v1.UpdateAgentRequest,
              dev.runwire.v1.UpdateAgentResponse>(
                service, METHODID_UPDATE_AGENT)))
        .addMethod(
          getDeleteAgentMethod(),
          io.grpc.stub.ServerCalls.asyncUnaryCall(
            new MethodHandlers<
              dev.runwire.v1.DeleteAgentRequest,
              dev.runwire.v1.DeleteAgentResponse>(
                service, METHODID_DELETE_AGENT)))
        .addMethod(
          getListAgentToolsMethod(),
          io.grpc.stub.ServerCalls.asyncUnaryCall(
            new MethodHandlers<
              dev.runwire.v1.ListAgentToolsRequest,
              dev.runwire.v1.ListAgentToolsResponse>(
                service, METHODID_LIST_AGENT_TOOLS)))
        .build();
  }

  private static abstract class AgentServiceBaseDescriptorSupplier
      implements io.grpc.protobuf.ProtoFileDescriptorSupplier, io.grpc.protobuf.ProtoServiceDescriptorSupplier {
    AgentServiceBaseDescriptorSupplier() {}

    @java.lang.Override
    public com.google.protobuf.Descriptors.FileDescriptor getFileDescriptor() {
      return dev.runwire.v1.AgentOuterClass.getDescriptor();
    }

    @java.lang.Override
    public com.google.protobuf.Descriptors.ServiceDescriptor getServiceDescriptor() {
      return getFileDescriptor().findServiceByName("AgentService");
    }
  }

  private static final class AgentServiceFileDescriptorSupplier
      extends AgentServiceBaseDescriptorSupplier {
    AgentServiceFileDescriptorSupplier() {}
  }

  private static final class AgentServiceMethodDescriptorSupplier
      extends AgentServiceBaseDescriptorSupplier
      implements io.grpc.protobuf.ProtoMethodDescriptorSupplier {
    private final java.lang.String methodName;

    AgentServiceMethodDescriptorSupplier(java.lang.String methodName) {
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
      synchronized (AgentServiceGrpc.class) {
        result = serviceDescriptor;
        if (result == null) {
          serviceDescriptor = result = io.grpc.ServiceDescriptor.newBuilder(SERVICE_NAME)
              .setSchemaDescriptor(new AgentServiceFileDescriptorSupplier())
              .addMethod(getCreateAgentMethod())
              .addMethod(getGetAgentMethod())
              .addMethod(getListAgentsMethod())
              .addMethod(getUpdateAgentMethod())
              .addMethod(getDeleteAgentMethod())
              .addMethod(getListAgentToolsMethod())
              .build();
        }
      }
    }
    return result;
  }
}
