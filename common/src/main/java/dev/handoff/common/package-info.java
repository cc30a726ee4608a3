/**
 * What the proxy and the library share: the wire format (headers, acknowledgements) and the link
 * that carries it with a descriptor per message ({@link dev.handoff.common.HandoffChannel} behind
 * {@link dev.handoff.common.HandoffLink}). Calls only {@code common.internal} and junixsocket.
 */
package dev.handoff.common;
