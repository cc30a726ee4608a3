/**
 * The Spring Boot example (scripts/spring-example): MVC on Jetty, or WebFlux on Reactor Netty
 * with the {@code webflux} profile, served through the handoff starter, answering with each
 * connection's {@code Handoff} facts. Calls only the public API of {@code dev.handoff.server} and
 * {@code dev.handoff.jetty}, and Spring; the starter wires the rest.
 */
package dev.handoff.examples.spring;
