package dev.runwire.v1;

import static io.grpc.MethodDescriptor.generateFullMethodName;

/**
 * <pre>
 * ThreadService manages threads: conversations that runs read from and
 * append to, so a run sees what was said before.
 * </pre>
 */
@io.grpc.stub.annotations.GrpcGenerated
public final class ThreadServiceGrpc {

  private ThreadServiceGrpc() {}

  public static final java.lang.String SERVICE_NAME = "runwire.v1.ThreadService";

  // Static method descriptors that strictly reflect the proto.
  private static volatile io.grpc.MethodDescriptor<dev.runwire.v1.CreateThreadRequest,
      dev.runwire.v1.CreateThreadResponse> getCreateThreadMethod;

  @io.grpc.stub.annotations.RpcMethod(
      fullMethodName = SERVICE_NAME + '/' + "CreateThread",
      requestType = dev.runwire.v1.CreateThreadRequest.class,
      responseType = dev.runwire.v1.CreateThreadResponse.class,
      methodType = io.grpc.MethodDescriptor.MethodType.UNARY)
  public static io.grpc.MethodDescriptor<dev.runwire.v1.CreateThreadRequest,
      dev.runwire.v1.CreateThreadResponse> getCreateThreadMethod() {
    io.grpc.MethodDescriptor<dev.runwire.v1.CreateThreadRequest, dev.runwire.v1.CreateThreadResponse> getCreateThreadMethod;
    if ((getCreateThreadMethod = ThreadServiceGrpc.getCreateThreadMethod) == null) {
      synchronized (ThreadServiceGrpc.class) {
        if ((getCreateThreadMethod = ThreadServiceGrpc.getCreateThreadMethod) == null) {
          ThreadServiceGrpc.getCreateThreadMethod = getCreateThreadMethod =
              io.grpc.MethodDescriptor.<dev.runwire.v1.CreateThreadRequest, dev.runwire.v1.CreateThreadResponse>newBuilder()
              .setType(io.grpc.MethodDescriptor.MethodType.UNARY)
              .setFullMethodName(generateFullMethodName(SERVICE_NAME, "CreateThread"))
              .setSampledToLocalTracing(true)
              .setRequestMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.runwire.v1.CreateThreadRequest.getDefaultInstance()))
              .setResponseMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.runwire.v1.CreateThreadResponse.getDefaultInstance()))
              .setSchemaDescriptor(new ThreadServiceMethodDescriptorSupplier("CreateThread"))
              .build();
        }
      }
    }
    return getCreateThreadMethod;
  }

  private static volatile io.grpc.MethodDescriptor<dev.runwire.v1.GetThreadRequest,
      dev.runwire.v1.GetThreadResponse> getGetThreadMethod;

  @io.grpc.stub.annotations.RpcMethod(
      fullMethodName = SERVICE_NAME + '/' + "GetThread",
      requestType = dev.runwire.v1.GetThreadRequest.class,
      responseType = dev.runwire.v1.GetThreadResponse.class,
      methodType = io.grpc.MethodDescriptor.MethodType.UNARY)
  public static io.grpc.MethodDescriptor<dev.runwire.v1.GetThreadRequest,
      dev.runwire.v1.GetThreadResponse> getGetThreadMethod() {
    io.grpc.MethodDescriptor<dev.runwire.v1.GetThreadRequest, dev.runwire.v1.GetThreadResponse> getGetThreadMethod;
    if ((getGetThreadMethod = ThreadServiceGrpc.getGetThreadMethod) == null) {
      synchronized (ThreadServiceGrpc.class) {
        if ((getGetThreadMethod = ThreadServiceGrpc.getGetThreadMethod) == null) {
          ThreadServiceGrpc.getGetThreadMethod = getGetThreadMethod =
              io.grpc.MethodDescriptor.<dev.runwire.v1.GetThreadRequest, dev.runwire.v1.GetThreadResponse>newBuilder()
              .setType(io.grpc.MethodDescriptor.MethodType.UNARY)
              .setFullMethodName(generateFullMethodName(SERVICE_NAME, "GetThread"))
              .setSampledToLocalTracing(true)
              .setRequestMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.runwire.v1.GetThreadRequest.getDefaultInstance()))
              .setResponseMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.runwire.v1.GetThreadResponse.getDefaultInstance()))
              .setSchemaDescriptor(new ThreadServiceMethodDescriptorSupplier("GetThread"))
              .build();
        }
      }
    }
    return getGetThreadMethod;
  }

  private static volatile io.grpc.MethodDescriptor<dev.runwire.v1.ListThreadMessagesRequest,
      dev.runwire.v1.ListThreadMessagesResponse> getListThreadMessagesMethod;

  @io.grpc.stub.annotations.RpcMethod(
      fullMethodName = SERVICE_NAME + '/' + "ListThreadMessages",
      requestType = dev.runwire.v1.ListThreadMessagesRequest.class,
      responseType = dev.runwire.v1.ListThreadMessagesResponse.class,
      methodType = io.grpc.MethodDescriptor.MethodType.UNARY)
  public static io.grpc.MethodDescriptor<dev.runwire.v1.ListThreadMessagesRequest,
      dev.runwire.v1.ListThreadMessagesResponse> getListThreadMessagesMethod() {
    io.grpc.MethodDescriptor<dev.runwire.v1.ListThreadMessagesRequest, dev.runwire.v1.ListThreadMessagesResponse> getListThreadMessagesMethod;
    if ((getListThreadMessagesMethod = ThreadServiceGrpc.getListThreadMessagesMethod) == null) {
      synchronized (ThreadServiceGrpc.class) {
        if ((getListThreadMessagesMethod = ThreadServiceGrpc.getListThreadMessagesMethod) == null) {
          ThreadServiceGrpc.getListThreadMessagesMethod = getListThreadMessagesMethod =
              io.grpc.MethodDescriptor.<dev.runwire.v1.ListThreadMessagesRequest, dev.runwire.v1.ListThreadMessagesResponse>newBuilder()
              .setType(io.grpc.MethodDescriptor.MethodType.UNARY)
              .setFullMethodName(generateFullMethodName(SERVICE_NAME, "ListThreadMessages"))
              .setSampledToLocalTracing(true)
              .setRequestMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.runwire.v1.ListThreadMessagesRequest.getDefaultInstance()))
              .setResponseMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.runwire.v1.ListThreadMessagesResponse.getDefaultInstance()))
              .setSchemaDescriptor(new ThreadServiceMethodDescriptorSupplier("ListThreadMessages"))
              .build();
        }
      }
    }
    return getListThreadMessagesMethod;
  }

  private static volatile io.grpc.MethodDescriptor<dev.runwire.v1.DeleteThreadRequest,
      dev.runwire.v1.DeleteThreadResponse> getDeleteThreadMethod;

  @io.grpc.stub.annotations.RpcMethod(
      fullMethodName = SERVICE_NAME + '/' + "DeleteThread",
      requestType = dev.runwire.v1.DeleteThreadRequest.class,
      responseType = dev.runwire.v1.DeleteThreadResponse.class,
      methodType = io.grpc.MethodDescriptor.MethodType.UNARY)
  public static io.grpc.MethodDescriptor<dev.runwire.v1.DeleteThreadRequest,
      dev.runwire.v1.DeleteThreadResponse> getDeleteThreadMethod() {
    io.grpc.MethodDescriptor<dev.runwire.v1.DeleteThreadRequest, dev.runwire.v1.DeleteThreadResponse> getDeleteThreadMethod;
    if ((getDeleteThreadMethod = ThreadServiceGrpc.getDeleteThreadMethod) == null) {
      synchronized (ThreadServiceGrpc.class) {
        if ((getDeleteThreadMethod = ThreadServiceGrpc.getDeleteThreadMethod) == null) {
          ThreadServiceGrpc.getDeleteThreadMethod = getDeleteThreadMethod =
              io.grpc.MethodDescriptor.<dev.runwire.v1.DeleteThreadRequest, dev.runwire.v1.DeleteThreadResponse>newBuilder()
              .setType(io.grpc.MethodDescriptor.MethodType.UNARY)
              .setFullMethodName(generateFullMethodName(SERVICE_NAME, "DeleteThread"))
              .setSampledToLocalTracing(true)
              .setRequestMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.runwire.v1.DeleteThreadRequest.getDefaultInstance()))
              .setResponseMarshaller(io.grpc.protobuf.ProtoUtils.marshaller(
                  dev.runwire.v1.DeleteThreadResponse.getDefaultInstance()))
              .setSchemaDescriptor(new ThreadServiceMethodDescriptorSupplier("DeleteThread"))
              .build();
        }
      }
    }
    return getDeleteThreadMethod;
  }

  /**
   * Creates a new async stub that supports all call types for the service
   */
  public static ThreadServiceStub newStub(io.grpc.Channel channel) {
    io.grpc.stub.AbstractStub.StubFactory<ThreadServiceStub> factory =
      new io.grpc.stub.AbstractStub.StubFactory<ThreadServiceStub>() {
        @java.lang.Override
        public ThreadServiceStub newStub(io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
          return new ThreadServiceStub(channel, callOptions);
        }
      };
    return ThreadServiceStub.newStub(factory, channel);
  }

  /**
   * Creates a new blocking-style stub that supports all types of calls on the service
   */
  public static ThreadServiceBlockingV2Stub newBlockingV2Stub(
      io.grpc.Channel channel) {
    io.grpc.stub.AbstractStub.StubFactory<ThreadServiceBlockingV2Stub> factory =
      new io.grpc.stub.AbstractStub.StubFactory<ThreadServiceBlockingV2Stub>() {
        @java.lang.Override
        public ThreadServiceBlockingV2Stub newStub(io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
          return new ThreadServiceBlockingV2Stub(channel, callOptions);
        }
      };
    return ThreadServiceBlockingV2Stub.newStub(factory, channel);
  }

  /**
   * Creates a new blocking-style stub that supports unary and streaming output calls on the service
   */
  public static ThreadServiceBlockingStub newBlockingStub(
      io.grpc.Channel channel) {
    io.grpc.stub.AbstractStub.StubFactory<ThreadServiceBlockingStub> factory =
      new io.grpc.stub.AbstractStub.StubFactory<ThreadServiceBlockingStub>() {
        @java.lang.Override
        public ThreadServiceBlockingStub newStub(io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
          return new ThreadServiceBlockingStub(channel, callOptions);
        }
      };
    return ThreadServiceBlockingStub.newStub(factory, channel);
  }

  /**
   * Creates a new ListenableFuture-style stub that supports unary calls on the service
   */
  public static ThreadServiceFutureStub newFutureStub(
      io.grpc.Channel channel) {
    io.grpc.stub.AbstractStub.StubFactory<ThreadServiceFutureStub> factory =
      new io.grpc.stub.AbstractStub.StubFactory<ThreadServiceFutureStub>() {
        @java.lang.Override
        public ThreadServiceFutureStub newStub(io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
          return new ThreadServiceFutureStub(channel, callOptions);
        }
      };
    return ThreadServiceFutureStub.newStub(factory, channel);
  }

  /**
   * <pre>
   * ThreadService manages threads: conversations that runs read from and
   * append to, so a run sees what was said before.
   * </pre>
   */
  public interface AsyncService {

    /**
     * <pre>
     * Creates a thread, under a caller-chosen id or a generated one.
     * ALREADY_EXISTS if the id is taken.
     * </pre>
     */
    default void createThread(dev.runwire.v1.CreateThreadRequest request,
        io.grpc.stub.StreamObserver<dev.runwire.v1.CreateThreadResponse> responseObserver) {
      io.grpc.stub.ServerCalls.asyncUnimplementedUnaryCall(getCreateThreadMethod(), responseObserver);
    }

    /**
     * <pre>
     * Returns one thread. NOT_FOUND if unknown.
     * </pre>
     */
    default void getThread(dev.runwire.v1.GetThreadRequest request,
        io.grpc.stub.StreamObserver<dev.runwire.v1.GetThreadResponse> responseObserver) {
      io.grpc.stub.ServerCalls.asyncUnimplementedUnaryCall(getGetThreadMethod(), responseObserver);
    }

    /**
     * <pre>
     * Lists a thread's messages, oldest first, one page at a time.
     * </pre>
     */
    default void listThreadMessages(dev.runwire.v1.ListThreadMessagesRequest request,
        io.grpc.stub.StreamObserver<dev.runwire.v1.ListThreadMessagesResponse> responseObserver) {
      io.grpc.stub.ServerCalls.asyncUnimplementedUnaryCall(getListThreadMessagesMethod(), responseObserver);
    }

    /**
     * <pre>
     * Deletes a thread and its messages. FAILED_PRECONDITION while a run on it
     * has not ended.
     * </pre>
     */
    default void deleteThread(dev.runwire.v1.DeleteThreadRequest request,
        io.grpc.stub.StreamObserver<dev.runwire.v1.DeleteThreadResponse> responseObserver) {
      io.grpc.stub.ServerCalls.asyncUnimplementedUnaryCall(getDeleteThreadMethod(), responseObserver);
    }
  }

  /**
   * Base class for the server implementation of the service ThreadService.
   * <pre>
   * ThreadService manages threads: conversations that runs read from and
   * append to, so a run sees what was said before.
   * </pre>
   */
  public static abstract class ThreadServiceImplBase
      implements io.grpc.BindableService, AsyncService {

    @java.lang.Override public final io.grpc.ServerServiceDefinition bindService() {
      return ThreadServiceGrpc.bindService(this);
    }
  }

  /**
   * A stub to allow clients to do asynchronous rpc calls to service ThreadService.
   * <pre>
   * ThreadService manages threads: conversations that runs read from and
   * append to, so a run sees what was said before.
   * </pre>
   */
  public static final class ThreadServiceStub
      extends io.grpc.stub.AbstractAsyncStub<ThreadServiceStub> {
    private ThreadServiceStub(
        io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
      super(channel, callOptions);
    }

    @java.lang.Override
    protected ThreadServiceStub build(
        io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
      return new ThreadServiceStub(channel, callOptions);
    }

    /**
     * <pre>
     * Creates a thread, under a caller-chosen id or a generated one.
     * ALREADY_EXISTS if the id is taken.
     * </pre>
     */
    public void createThread(dev.runwire.v1.CreateThreadRequest request,
        io.grpc.stub.StreamObserver<dev.runwire.v1.CreateThreadResponse> responseObserver) {
      io.grpc.stub.ClientCalls.asyncUnaryCall(
          getChannel().newCall(getCreateThreadMethod(), getCallOptions()), request, responseObserver);
    }

    /**
     * <pre>
     * Returns one thread. NOT_FOUND if unknown.
     * </pre>
     */
    public void getThread(dev.runwire.v1.GetThreadRequest request,
        io.grpc.stub.StreamObserver<dev.runwire.v1.GetThreadResponse> responseObserver) {
      io.grpc.stub.ClientCalls.asyncUnaryCall(
          getChannel().newCall(getGetThreadMethod(), getCallOptions()), request, responseObserver);
    }

    /**
     * <pre>
     * Lists a thread's messages, oldest first, one page at a time.
     * </pre>
     */
    public void listThreadMessages(dev.runwire.v1.ListThreadMessagesRequest request,
        io.grpc.stub.StreamObserver<dev.runwire.v1.ListThreadMessagesResponse> responseObserver) {
      io.grpc.stub.ClientCalls.asyncUnaryCall(
          getChannel().newCall(getListThreadMessagesMethod(), getCallOptions()), request, responseObserver);
    }

    /**
     * <pre>
     * Deletes a thread and its messages. FAILED_PRECONDITION while a run on it
     * has not ended.
     * </pre>
     */
    public void deleteThread(dev.runwire.v1.DeleteThreadRequest request,
        io.grpc.stub.StreamObserver<dev.runwire.v1.DeleteThreadResponse> responseObserver) {
      io.grpc.stub.ClientCalls.asyncUnaryCall(
          getChannel().newCall(getDeleteThreadMethod(), getCallOptions()), request, responseObserver);
    }
  }

  /**
   * A stub to allow clients to do synchronous rpc calls to service ThreadService.
   * <pre>
   * ThreadService manages threads: conversations that runs read from and
   * append to, so a run sees what was said before.
   * </pre>
   */
  public static final class ThreadServiceBlockingV2Stub
      extends io.grpc.stub.AbstractBlockingStub<ThreadServiceBlockingV2Stub> {
    private ThreadServiceBlockingV2Stub(
        io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
      super(channel, callOptions);
    }

    @java.lang.Override
    protected ThreadServiceBlockingV2Stub build(
        io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
      return new ThreadServiceBlockingV2Stub(channel, callOptions);
    }

    /**
     * <pre>
     * Creates a thread, under a caller-chosen id or a generated one.
     * ALREADY_EXISTS if the id is taken.
     * </pre>
     */
    public dev.runwire.v1.CreateThreadResponse createThread(dev.runwire.v1.CreateThreadRequest request) throws io.grpc.StatusException {
      return io.grpc.stub.ClientCalls.blockingV2UnaryCall(
          getChannel(), getCreateThreadMethod(), getCallOptions(), request);
    }

    /**
     * <pre>
     * Returns one thread. NOT_FOUND if unknown.
     * </pre>
     */
    public dev.runwire.v1.GetThreadResponse getThread(dev.runwire.v1.GetThreadRequest request) throws io.grpc.StatusException {
      return io.grpc.stub.ClientCalls.blockingV2UnaryCall(
          getChannel(), getGetThreadMethod(), getCallOptions(), request);
    }

    /**
     * <pre>
     * Lists a thread's messages, oldest first, one page at a time.
     * </pre>
     */
    public dev.runwire.v1.ListThreadMessagesResponse listThreadMessages(dev.runwire.v1.ListThreadMessagesRequest request) throws io.grpc.StatusException {
      return io.grpc.stub.ClientCalls.blockingV2UnaryCall(
          getChannel(), getListThreadMessagesMethod(), getCallOptions(), request);
    }

    /**
     * <pre>
     * Deletes a thread and its messages. FAILED_PRECONDITION while a run on it
     * has not ended.
     * </pre>
     */
    public dev.runwire.v1.DeleteThreadResponse deleteThread(dev.runwire.v1.DeleteThreadRequest request) throws io.grpc.StatusException {
      return io.grpc.stub.ClientCalls.blockingV2UnaryCall(
          getChannel(), getDeleteThreadMethod(), getCallOptions(), request);
    }
  }

  /**
   * A stub to allow clients to do limited synchronous rpc calls to service ThreadService.
   * <pre>
   * ThreadService manages threads: conversations that runs read from and
   * append to, so a run sees what was said before.
   * </pre>
   */
  public static final class ThreadServiceBlockingStub
      extends io.grpc.stub.AbstractBlockingStub<ThreadServiceBlockingStub> {
    private ThreadServiceBlockingStub(
        io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
      super(channel, callOptions);
    }

    @java.lang.Override
    protected ThreadServiceBlockingStub build(
        io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
      return new ThreadServiceBlockingStub(channel, callOptions);
    }

    /**
     * <pre>
     * Creates a thread, under a caller-chosen id or a generated one.
     * ALREADY_EXISTS if the id is taken.
     * </pre>
     */
    public dev.runwire.v1.CreateThreadResponse createThread(dev.runwire.v1.CreateThreadRequest request) {
      return io.grpc.stub.ClientCalls.blockingUnaryCall(
          getChannel(), getCreateThreadMethod(), getCallOptions(), request);
    }

    /**
     * <pre>
     * Returns one thread. NOT_FOUND if unknown.
     * </pre>
     */
    public dev.runwire.v1.GetThreadResponse getThread(dev.runwire.v1.GetThreadRequest request) {
      return io.grpc.stub.ClientCalls.blockingUnaryCall(
          getChannel(), getGetThreadMethod(), getCallOptions(), request);
    }

    /**
     * <pre>
     * Lists a thread's messages, oldest first, one page at a time.
     * </pre>
     */
    public dev.runwire.v1.ListThreadMessagesResponse listThreadMessages(dev.runwire.v1.ListThreadMessagesRequest request) {
      return io.grpc.stub.ClientCalls.blockingUnaryCall(
          getChannel(), getListThreadMessagesMethod(), getCallOptions(), request);
    }

    /**
     * <pre>
     * Deletes a thread and its messages. FAILED_PRECONDITION while a run on it
     * has not ended.
     * </pre>
     */
    public dev.runwire.v1.DeleteThreadResponse deleteThread(dev.runwire.v1.DeleteThreadRequest request) {
      return io.grpc.stub.ClientCalls.blockingUnaryCall(
          getChannel(), getDeleteThreadMethod(), getCallOptions(), request);
    }
  }

  /**
   * A stub to allow clients to do ListenableFuture-style rpc calls to service ThreadService.
   * <pre>
   * ThreadService manages threads: conversations that runs read from and
   * append to, so a run sees what was said before.
   * </pre>
   */
  public static final class ThreadServiceFutureStub
      extends io.grpc.stub.AbstractFutureStub<ThreadServiceFutureStub> {
    private ThreadServiceFutureStub(
        io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
      super(channel, callOptions);
    }

    @java.lang.Override
    protected ThreadServiceFutureStub build(
        io.grpc.Channel channel, io.grpc.CallOptions callOptions) {
      return new ThreadServiceFutureStub(channel, callOptions);
    }

    /**
     * <pre>
     * Creates a thread, under a caller-chosen id or a generated one.
     * ALREADY_EXISTS if the id is taken.
     * </pre>
     */
    public com.google.common.util.concurrent.ListenableFuture<dev.runwire.v1.CreateThreadResponse> createThread(
        dev.runwire.v1.CreateThreadRequest request) {
      return io.grpc.stub.ClientCalls.futureUnaryCall(
          getChannel().newCall(getCreateThreadMethod(), getCallOptions()), request);
    }

    /**
     * <pre>
     * Returns one thread. NOT_FOUND if unknown.
     * </pre>
     */
    public com.google.common.util.concurrent.ListenableFuture<dev.runwire.v1.GetThreadResponse> getThread(
        dev.runwire.v1.GetThreadRequest request) {
      return io.grpc.stub.ClientCalls.futureUnaryCall(
          getChannel().newCall(getGetThreadMethod(), getCallOptions()), request);
    }

    /**
     * <pre>
     * Lists a thread's messages, oldest first, one page at a time.
     * </pre>
     */
    public com.google.common.util.concurrent.ListenableFuture<dev.runwire.v1.ListThreadMessagesResponse> listThreadMessages(
        dev.runwire.v1.ListThreadMessagesRequest request) {
      return io.grpc.stub.ClientCalls.futureUnaryCall(
          getChannel().newCall(getListThreadMessagesMethod(), getCallOptions()), request);
    }

    /**
     * <pre>
     * Deletes a thread and its messages. FAILED_PRECONDITION while a run on it
     * has not ended.
     * </pre>
     */
    public com.google.common.util.concurrent.ListenableFuture<dev.runwire.v1.DeleteThreadResponse> deleteThread(
        dev.runwire.v1.DeleteThreadRequest request) {
      return io.grpc.stub.ClientCalls.futureUnaryCall(
          getChannel().newCall(getDeleteThreadMethod(), getCallOptions()), request);
    }
  }

  private static final int METHODID_CREATE_THREAD = 0;
  private static final int METHODID_GET_THREAD = 1;
  private static final int METHODID_LIST_THREAD_MESSAGES = 2;
  private static final int METHODID_DELETE_THREAD = 3;

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
        case METHODID_CREATE_THREAD:
          serviceImpl.createThread((dev.runwire.v1.CreateThreadRequest) request,
              (io.grpc.stub.StreamObserver<dev.runwire.v1.CreateThreadResponse>) responseObserver);
          break;
        case METHODID_GET_THREAD:
          serviceImpl.getThread((dev.runwire.v1.GetThreadRequest) request,
              (io.grpc.stub.StreamObserver<dev.runwire.v1.GetThreadResponse>) responseObserver);
          break;
        case METHODID_LIST_THREAD_MESSAGES:
          serviceImpl.listThreadMessages((dev.runwire.v1.ListThreadMessagesRequest) request,
              (io.grpc.stub.StreamObserver<dev.runwire.v1.ListThreadMessagesResponse>) responseObserver);
          break;
        case METHODID_DELETE_THREAD:
          serviceImpl.deleteThread((dev.runwire.v1.DeleteThreadRequest) request,
              (io.grpc.stub.StreamObserver<dev.runwire.v1.DeleteThreadResponse>) responseObserver);
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
          getCreateThreadMethod(),
          io.grpc.stub.ServerCalls.asyncUnaryCall(
            new MethodHandlers<
              dev.runwire.v1.CreateThreadRequest,
              dev.runwire.v1.CreateThreadResponse>(
                service, METHODID_CREATE_THREAD)))
        .addMethod(
          getGetThreadMethod(),
          io.grpc.stub.ServerCalls.asyncUnaryCall(
            new MethodHandlers<
              dev.runwire.v1.GetThreadRequest,
              dev.runwire.v1.GetThreadResponse>(
                service, METHODID_GET_THREAD)))
        .addMethod(
          getListThreadMessagesMethod(),
          io.grpc.stub.ServerCalls.asyncUnaryCall(
            new MethodHandlers<
              dev.runwire.v1.ListThreadMessagesRequest,
              dev.runwire.v1.ListThreadMessagesResponse>(
                service, METHODID_LIST_THREAD_MESSAGES)))
        .addMethod(
          getDeleteThreadMethod(),
          io.grpc.stub.ServerCalls.asyncUnaryCall(
            new MethodHandlers<
              dev.runwire.v1.DeleteThreadRequest,
              dev.runwire.v1.DeleteThreadResponse>(
                service, METHODID_DELETE_THREAD)))
        .build();
  }

  private static abstract class ThreadServiceBaseDescriptorSupplier
      implements io.grpc.protobuf.ProtoFileDescriptorSupplier, io.grpc.protobuf.ProtoServiceDescriptorSupplier {
    ThreadServiceBaseDescriptorSupplier() {}

    @java.lang.Override
    public com.google.protobuf.Descriptors.FileDescriptor getFileDescriptor() {
      return dev.runwire.v1.ThreadOuterClass.getDescriptor();
    }

    @java.lang.Override
    public com.google.protobuf.Descriptors.ServiceDescriptor getServiceDescriptor() {
      return getFileDescriptor().findServiceByName("ThreadService");
    }
  }

  private static final class ThreadServiceFileDescriptorSupplier
      extends ThreadServiceBaseDescriptorSupplier {
    ThreadServiceFileDescriptorSupplier() {}
  }

  private static final class ThreadServiceMethodDescriptorSupplier
      extends ThreadServiceBaseDescriptorSupplier
      implements io.grpc.protobuf.ProtoMethodDescriptorSupplier {
    private final java.lang.String methodName;

    ThreadServiceMethodDescriptorSupplier(java.lang.String methodName) {
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
      synchronized (ThreadServiceGrpc.class) {
        result = serviceDescriptor;
        if (result == null) {
          serviceDescriptor = result = io.grpc.ServiceDescriptor.newBuilder(SERVICE_NAME)
              .setSchemaDescriptor(new ThreadServiceFileDescriptorSupplier())
              .addMethod(getCreateThreadMethod())
              .addMethod(getGetThreadMethod())
              .addMethod(getListThreadMessagesMethod())
              .addMethod(getDeleteThreadMethod())
              .build();
        }
      }
    }
    return result;
  }
}
