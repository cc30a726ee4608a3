/**
 * A gRPC server on handed-off connections (scripts/grpc-example): grpc-java's
 * {@code NettyServerBuilder} with the {@code HandoffServerChannel} transport, serving health and
 * an echo service, draining with GOAWAY when a successor takes over. Calls only the public API of
 * {@code dev.handoff.server}, grpc-java and Netty.
 */
package dev.handoff.examples.grpc;
