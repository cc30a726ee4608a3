/**
 * The only code that reaches into JDK and junixsocket internals (reflection, package-private
 * natives), each use checked at start-up with a message naming what is missing. Calls nothing of
 * this project but {@code dev.handoff.common.Descriptors}; everything else calls it.
 */
package dev.handoff.common.internal;
