package dev.handoff.proxy.link;

import java.time.Duration;
import java.util.Set;

/**
 * How connections wait for and travel over the links to the apps: the queue, the links' window,
 * answers and reconnection, and whom a link may reach.
 *
 * @param queueSize accepted connections that may wait for an app (per route)
 * @param queueWait how long a connection may wait for an app before it is closed
 * @param holdCopy how long the proxy's copy of a handed-off socket stays open (demonstrations)
 * @param retryMin first delay before linking again, and first pause after a RETRY answer
 * @param retryMax longest such delay (they double up to it)
 * @param window handoffs that may await an answer on one link
 * @param ackTimeout how long an app may leave a handoff unanswered before its link is closed
 * @param appUids the uids an app may run as (SO_PEERCRED)
 * @param sticky each client address goes to the same app of its route while that app is linked
 */
public record LinkOptions(int queueSize, Duration queueWait, Duration holdCopy, Duration retryMin,
    Duration retryMax, int window, Duration ackTimeout, Set<Integer> appUids, boolean sticky) {}
