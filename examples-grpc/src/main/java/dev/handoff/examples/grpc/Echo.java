package dev.handoff.examples.grpc;

import io.grpc.MethodDescriptor;
import io.grpc.ServerServiceDefinition;
import io.grpc.stub.ServerCalls;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;

/**
 * The example's echo service, {@code handoff.example.Echo}, without generated code: its messages
 * are raw bytes, so any gRPC client can call it with what it sends. {@code Say} (unary) answers
 * the request; {@code Repeat} (server streaming) answers it {@link #COPIES} times.
 */
public final class Echo {
  /** The service's full name. */
  public static final String SERVICE = "handoff.example.Echo";
  /** How many times {@link #REPEAT} answers its request. */
  public static final int COPIES = 3;

  /** Messages as they are on the wire: no schema, no copy beyond reading the stream. */
  public static final MethodDescriptor.Marshaller<byte[]> BYTES =
      new MethodDescriptor.Marshaller<>() {
        @Override
        public InputStream stream(byte[] value) {
          return new ByteArrayInputStream(value);
        }

        @Override
        public byte[] parse(InputStream stream) {
          try {
            return stream.readAllBytes();
          } catch (IOException e) {
            throw new UncheckedIOException(e);
          }
        }
      };

  /** {@code /handoff.example.Echo/Say}: one request, the same bytes back. */
  public static final MethodDescriptor<byte[], byte[]> SAY =
      MethodDescriptor.<byte[], byte[]>newBuilder()
          .setType(MethodDescriptor.MethodType.UNARY)
          .setFullMethodName(MethodDescriptor.generateFullMethodName(SERVICE, "Say"))
          .setRequestMarshaller(BYTES)
          .setResponseMarshaller(BYTES)
          .build();

  /** {@code /handoff.example.Echo/Repeat}: one request, the same bytes back {@link #COPIES} times. */
  public static final MethodDescriptor<byte[], byte[]> REPEAT =
      MethodDescriptor.<byte[], byte[]>newBuilder()
          .setType(MethodDescriptor.MethodType.SERVER_STREAMING)
          .setFullMethodName(MethodDescriptor.generateFullMethodName(SERVICE, "Repeat"))
          .setRequestMarshaller(BYTES)
          .setResponseMarshaller(BYTES)
          .build();

  private Echo() {}

  /** The service, to add to a server builder. */
  public static ServerServiceDefinition service() {
    return ServerServiceDefinition.builder(SERVICE)
        .addMethod(SAY, ServerCalls.asyncUnaryCall((request, answer) -> {
          answer.onNext(request);
          answer.onCompleted();
        }))
        .addMethod(REPEAT, ServerCalls.asyncServerStreamingCall((request, answer) -> {
          for (int i = 0; i < COPIES; i++) {
            answer.onNext(request);
          }
          answer.onCompleted();
        }))
        .build();
  }
}
