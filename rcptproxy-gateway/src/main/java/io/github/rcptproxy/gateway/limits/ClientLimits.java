package io.github.rcptproxy.gateway.limits;

import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.HashMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;

/**
 * What one client may do, as Postfix's anvil counts it: connections at once, and its recipients per
 * minute: when more than so many were rejected and they were most of its recipients in that minute
 * (a dictionary attack), the client is refused for a cool-down. A sender whose recipients are
 * mostly valid is never refused, however many stale addresses its mail carries (a provider's shared
 * outbound address writing to a large domain). Keeps one client from starving the rest. A client is
 * an IPv4 address or an IPv6 /64 (the smallest network an IPv6 site is given: counting each /128
 * would give a client with a /64 no limit at all). Thread-safe.
 *
 * <p>Memory is bounded and no operation scans it: a client is forgotten when it has no connection
 * left and no recent recipient. Penalties (recipients in the last minute, a cool-down) are kept in
 * the order they last changed; each call first forgets those at the head that are over, and past
 * {@link #MAX_PENALIZED} clients the oldest penalty is forgotten early. Connections need no such
 * bound: there are never more than the gateway's connections.
 */
public final class ClientLimits implements ClientAllowance {
  /** Clients with a penalty remembered at most. */
  static final int MAX_PENALIZED = 100_000;

  private static final Duration WINDOW = Duration.ofMinutes(1);

  private final int maxConnections;
  private final int maxRejections;
  private final Duration coolDown;
  private final Clock clock;
  private final Map<InetAddress, Integer> connections = new HashMap<>();

  /** In the order each penalty last changed, oldest first; guarded by {@code this}. */
  private final LinkedHashMap<InetAddress, Penalty> penalties = new LinkedHashMap<>();

  /** One client's rejected and accepted recipients in the current minute, and its cool-down. */
  private record Penalty(Instant windowStart, int rejections, int accepted, Instant refusedUntil) {
    boolean over(Instant now) {
      return !now.isBefore(windowStart.plus(WINDOW)) && !now.isBefore(refusedUntil);
    }
  }

  /**
   * @param maxConnections connections at once per client
   * @param maxRejections rejected recipients per client per minute; one more starts the cool-down
   *     if the client had fewer recipients accepted than rejected in that minute
   * @param coolDown how long a client is refused after too many rejections
   */
  public ClientLimits(int maxConnections, int maxRejections, Duration coolDown, Clock clock) {
    this.maxConnections = maxConnections;
    this.maxRejections = maxRejections;
    this.coolDown = coolDown;
    this.clock = clock;
  }

  /**
   * Counts a new connection, or says why it is refused (then nothing is counted and {@link
   * #release} must not be called).
   */
  @Override
  public synchronized Optional<String> admit(InetAddress address) {
    Instant now = clock.instant();
    forgetOver(now);
    InetAddress client = client(address);
    Penalty penalty = penalties.get(client);
    if (penalty != null && now.isBefore(penalty.refusedUntil())) {
      return Optional.of("4.7.0 Too many rejected recipients from your address, try again later");
    }
    int open = connections.getOrDefault(client, 0);
    if (open >= maxConnections) {
      return Optional.of("4.7.0 Too many connections from your address, try again later");
    }
    connections.put(client, open + 1);
    return Optional.empty();
  }

  /** A connection {@link #admit admitted} has ended. */
  @Override
  public synchronized void release(InetAddress address) {
    connections.computeIfPresent(client(address), (c, open) -> open > 1 ? open - 1 : null);
    forgetOver(clock.instant());
  }

  /**
   * Counts a rejected recipient; returns whether the client has now had too many: more than {@code
   * maxRejections} in the minute, and more rejected recipients than accepted ones. Then it is
   * refused for the cool-down.
   */
  @Override
  public synchronized boolean rejected(InetAddress address) {
    Penalty penalty = count(address, 1, 0);
    return penalty.rejections() > maxRejections && penalty.rejections() > penalty.accepted();
  }

  /** Counts an accepted recipient, which weighs against the client's rejected ones. */
  @Override
  public synchronized void accepted(InetAddress address) {
    count(address, 0, 1);
  }

  /** Whether the client is in its cool-down. */
  public synchronized boolean refused(InetAddress address) {
    Penalty penalty = penalties.get(client(address));
    return penalty != null && clock.instant().isBefore(penalty.refusedUntil());
  }

  /**
   * Refuses the client until {@code until}, for a reason found elsewhere (a fleet that counted too
   * many of its rejected recipients on all gateways); its counts here stay.
   */
  public synchronized void refuse(InetAddress address, Instant until) {
    Instant now = clock.instant();
    forgetOver(now);
    InetAddress client = client(address);
    Penalty old = penalties.remove(client); // put again below: now the newest
    Penalty penalty = old == null ? new Penalty(now, 0, 0, now) : old;
    penalties.put(
        client,
        new Penalty(
            penalty.windowStart(),
            penalty.rejections(),
            penalty.accepted(),
            until.isAfter(penalty.refusedUntil()) ? until : penalty.refusedUntil()));
    if (penalties.size() > MAX_PENALIZED) {
      Iterator<InetAddress> oldest = penalties.keySet().iterator();
      oldest.next();
      oldest.remove();
    }
  }

  /**
   * Whether the client's rejected recipients in the current minute are no more than its accepted
   * ones: then a fleet need not count its latest rejection (a sender of mostly valid recipients).
   */
  public synchronized boolean offset(InetAddress address) {
    Penalty penalty = penalties.get(client(address));
    return penalty != null && penalty.rejections() <= penalty.accepted();
  }

  private Penalty count(InetAddress address, int rejected, int accepted) {
    Instant now = clock.instant();
    forgetOver(now);
    InetAddress client = client(address);
    Penalty old = penalties.remove(client); // put again below: now the newest
    Penalty penalty = old == null ? new Penalty(now, 0, 0, now) : old;
    boolean newWindow = !now.isBefore(penalty.windowStart().plus(WINDOW));
    int rejections = (newWindow ? 0 : penalty.rejections()) + rejected;
    int accepts = (newWindow ? 0 : penalty.accepted()) + accepted;
    boolean tooMany = rejected > 0 && rejections > maxRejections && rejections > accepts;
    Penalty counted =
        new Penalty(
            newWindow ? now : penalty.windowStart(),
            rejections,
            accepts,
            tooMany ? now.plus(coolDown) : penalty.refusedUntil());
    penalties.put(client, counted);
    if (penalties.size() > MAX_PENALIZED) {
      Iterator<InetAddress> oldest = penalties.keySet().iterator();
      oldest.next();
      oldest.remove();
    }
    return counted;
  }

  /** Clients remembered now: those connected or recently penalized. */
  synchronized int remembered() {
    int connectedOnly =
        (int) connections.keySet().stream().filter(c -> !penalties.containsKey(c)).count();
    return penalties.size() + connectedOnly;
  }

  /** Forgets the penalties at the head that are over: each is forgotten once, so O(1) a call. */
  private void forgetOver(Instant now) {
    Iterator<Penalty> oldest = penalties.values().iterator();
    while (oldest.hasNext() && oldest.next().over(now)) {
      oldest.remove();
    }
  }

  /** Who is counted for {@code address}: an IPv4 address itself, an IPv6 address its /64. */
  public static InetAddress client(InetAddress address) {
    if (!(address instanceof Inet6Address)) {
      return address;
    }
    byte[] bytes = address.getAddress();
    boolean ipv4Mapped = bytes[10] == (byte) 0xff && bytes[11] == (byte) 0xff;
    for (int i = 0; i < 10 && ipv4Mapped; i++) {
      ipv4Mapped = bytes[i] == 0;
    }
    if (!ipv4Mapped) {
      for (int i = 8; i < 16; i++) {
        bytes[i] = 0;
      }
    }
    try {
      return InetAddress.getByAddress(bytes); // ::ffff:a.b.c.d comes back as a.b.c.d
    } catch (UnknownHostException e) {
      throw new IllegalStateException("16 bytes are an IPv6 address", e);
    }
  }
}
