package io.github.rcptproxy.internal;

import io.github.rcptproxy.RecipientVerifier;
import io.github.rcptproxy.Verdict;
import io.github.rcptproxy.VerifierConfig;
import io.github.rcptproxy.internal.smtp.ClientSecurity;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.net.UnknownHostException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executor;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Opens TCP connections to the configured backend hosts, in order: each name is resolved anew for
 * each connection (on a resolver thread, waited for no longer than the deadline, never under a
 * lock), and each of its addresses is tried in turn. An address that did not answer a connect
 * within the connect timeout (a black hole: no SYN-ACK, no refusal) is skipped for the cool-down,
 * so it costs one verification its deadline, not every one. A refused connect or a slow greeting
 * does not count: the host is there.
 */
public final class Connector {
  private static final Logger LOG = LoggerFactory.getLogger(RecipientVerifier.class);
  private static final AtomicInteger THREAD_NUMBER = new AtomicInteger();

  /** Name resolution may block for the resolver's timeout; it never runs on a caller's thread. */
  private static final Executor RESOLVER =
      new ThreadPoolExecutor(
          0,
          4,
          30,
          TimeUnit.SECONDS,
          new LinkedBlockingQueue<>(1024),
          task -> {
            Thread thread =
                new Thread(task, "rcptproxy-resolver-" + THREAD_NUMBER.incrementAndGet());
            thread.setDaemon(true);
            return thread;
          });

  private final List<InetSocketAddress> hosts;
  private final Duration connectTimeout;
  private final Duration coolDown;
  private final Clock clock;
  private final ClientSecurity security;

  /** Address → until when it is skipped. Holds only addresses of the configured hosts. */
  private final ConcurrentHashMap<InetSocketAddress, Instant> coolingDown =
      new ConcurrentHashMap<>();

  Connector(VerifierConfig config) {
    this.hosts = config.backends();
    this.connectTimeout = config.connectTimeout();
    this.coolDown = config.backendCoolDown();
    this.clock = config.clock();
    this.security = new ClientSecurity(config);
  }

  /** STARTTLS and AUTH over a connection, as the configuration asks. */
  ClientSecurity security() {
    return security;
  }

  /** A connected socket, and the configured host name it was reached by (for TLS). */
  record Connection(Socket socket, String host, int port) {}

  /** A connected socket to the first backend address that answers. */
  Connection connect(Deadline deadline) throws IOException {
    List<String> failures = new ArrayList<>();
    Instant now = clock.instant();
    for (InetSocketAddress host : hosts) {
      InetAddress[] addresses;
      try {
        addresses = resolve(host.getHostString(), deadline);
      } catch (UnknownHostException e) {
        failures.add(host.getHostString() + " does not resolve");
        continue;
      }
      for (InetAddress address : addresses) {
        InetSocketAddress target = new InetSocketAddress(address, host.getPort());
        Instant until = coolingDown.get(target);
        if (until != null && until.isAfter(now)) {
          failures.add(target + " did not answer lately (skipped until " + until + ")");
          continue;
        }
        Socket socket = new Socket();
        long millis = Math.min(connectTimeout.toMillis(), deadline.socketTimeoutMillis());
        try {
          socket.setTcpNoDelay(true);
          socket.connect(target, (int) Math.max(1, millis));
          coolingDown.remove(target);
          return new Connection(socket, host.getHostString(), host.getPort());
        } catch (IOException e) {
          socket.close();
          if (e instanceof SocketTimeoutException && millis >= connectTimeout.toMillis()) {
            failed(target); // a black hole, not just the end of our deadline
          }
          failures.add(target + ": " + e.getMessage());
          if (deadline.expired()) {
            throw new SocketTimeoutException("deadline passed connecting to the backend");
          }
        }
      }
    }
    throw new SessionFailure(
        Verdict.Reason.BACKEND_UNAVAILABLE,
        false,
        "no backend answered: " + String.join("; ", failures),
        null);
  }

  /** The address did not answer a connect within the whole connect timeout: skip it a while. */
  private void failed(InetSocketAddress target) {
    Instant until = clock.instant().plus(coolDown);
    if (coolingDown.put(target, until) == null) {
      LOG.warn(
          "backend {} did not answer; trying the next address, this one again after {}",
          target,
          coolDown);
    }
  }

  private static InetAddress[] resolve(String host, Deadline deadline)
      throws IOException, UnknownHostException {
    try {
      CompletableFuture<InetAddress[]> lookup =
          CompletableFuture.supplyAsync(
              () -> {
                try {
                  return InetAddress.getAllByName(host);
                } catch (UnknownHostException e) {
                  throw new CompletionException(e);
                }
              },
              RESOLVER);
      return lookup.get(deadline.remaining().toNanos(), TimeUnit.NANOSECONDS);
    } catch (TimeoutException e) {
      throw new SocketTimeoutException("resolving " + host + " took longer than the deadline");
    } catch (ExecutionException e) {
      if (e.getCause() instanceof UnknownHostException unknown) {
        throw unknown;
      }
      throw new IOException("resolving " + host + ": " + e.getCause(), e.getCause());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IOException("interrupted while resolving " + host, e);
    } catch (RejectedExecutionException e) {
      throw new IOException("too many backend name lookups under way", e);
    }
  }
}
