/**
 * Spring Boot auto-configuration of handoff: with {@code handoff.socket} set, the embedded web
 * server receives the connections a proxy hands over (MVC on Jetty through {@link
 * dev.handoff.jetty.HandoffConnector}, WebFlux through the library's Netty transport), {@code
 * /actuator/health} reports the links and the library's meters go to the application's registry.
 * See {@link dev.handoff.spring.autoconfigure.HandoffAutoConfiguration} and docs/LIBRARY.md,
 * "Spring Boot".
 */
package dev.handoff.spring.autoconfigure;
