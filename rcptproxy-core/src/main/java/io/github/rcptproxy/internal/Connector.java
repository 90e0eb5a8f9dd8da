package io.github.rcptproxy.internal;

import io.github.rcptproxy.BackendReply;
import io.github.rcptproxy.RecipientVerifier;
import io.github.rcptproxy.Verdict;
import io.github.rcptproxy.VerdictCache;
import io.github.rcptproxy.VerifierConfig;
import io.github.rcptproxy.internal.smtp.ClientSecurity;
import io.github.rcptproxy.internal.smtp.SessionRefusedException;
import io.github.rcptproxy.internal.smtp.SmtpConnection;
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
import java.util.Optional;
import java.util.Queue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
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
 * Opens connections to the configured backend hosts, in order, and reads their greeting: each name
 * is resolved anew for each connection (on a resolver thread, waited for no longer than the
 * deadline, never under a lock), and each of its addresses is tried in turn. An address that did
 * not answer within the connect timeout, counted from the start of the connect to its greeting, is
 * skipped for the cool-down, so it costs one verification its deadline, not every one: a black hole
 * (no SYN-ACK, no refusal), and a host that accepts the connection and never greets (a hung MTA, a
 * Postfix with every smtpd busy); one that had not greeted when the deadline ran out is skipped as
 * well; either is asked again at once if it greets within {@link #GREETING_WAIT} after all ({@link
 * #suspect}). A refused connect, a greeting that refuses ({@code 421}, {@code 554}) or a connection
 * closed before the greeting does not count: the host is there and said so. The verifier's sessions
 * and the gateway's relay each have one.
 */
public final class Connector {
  private static final Logger LOG = LoggerFactory.getLogger(RecipientVerifier.class);
  private static final AtomicInteger THREAD_NUMBER = new AtomicInteger();

  /**
   * How long a greeting the deadline did not wait for is still waited for, in the background: past
   * Postfix postscreen's greet wait (6 s by default), which lets a client through, and remembers
   * it, only if it waits for the whole greeting without a word.
   */
  static final Duration GREETING_WAIT = Duration.ofSeconds(30);

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

  /**
   * Connections greeted after the deadline they were opened for, oldest first: the next connect
   * takes one instead of dialing, so a greeting slower than the deadline costs one wait, not one
   * per session.
   */
  private final Queue<Late> lateGreeted = new ConcurrentLinkedQueue<>();

  private volatile boolean closed;

  private record Late(SmtpConnection.Endpoint endpoint, GreetingTimeout timeout, long greetedAt) {}

  /** Where a store shared by several verifiers keeps an address skipped: not an address key. */
  static final String STORE_PREFIX = "backend-down:";

  /** Where the verifiers that share findings share which addresses they skip; null if nowhere. */
  private volatile VerdictCache shared;

  /** Address → until when it is skipped. Holds only addresses of the configured hosts. */
  private final ConcurrentHashMap<InetSocketAddress, Instant> coolingDown =
      new ConcurrentHashMap<>();

  /** The hosts of {@code config}, its connect timeout, cool-down, clock, STARTTLS and AUTH. */
  public Connector(VerifierConfig config) {
    this.hosts = config.backends();
    this.connectTimeout = config.connectTimeout();
    this.coolDown = config.backendCoolDown();
    this.clock = config.clock();
    this.security = new ClientSecurity(config);
  }

  /**
   * From now on, an address skipped here is written to {@code store} ({@value #STORE_PREFIX}{@code
   * address:port}, until its cool-down ends) and one written there is skipped here, so that the
   * verifiers sharing it wait for a host that does not answer once, not each of them. (The
   * gateway's relay gives its breaker the fleet's, whose lookups never wait for the network.)
   */
  public void shareWith(VerdictCache store) {
    this.shared = store;
  }

  /** STARTTLS and AUTH over a connection, as the configuration asks. */
  public ClientSecurity security() {
    return security;
  }

  /**
   * A connection to the first backend address that answers, its greeting read ({@link
   * SmtpConnection.Endpoint#greeted()}); then each read is bounded by {@code timeout}, the greeting
   * also by the connect timeout.
   *
   * @throws SessionFailure BACKEND_UNAVAILABLE if no address answered
   * @throws SessionRefusedException if the greeting was not {@code 220}
   * @throws SocketTimeoutException if the deadline passed (or {@code timeout} ran out) first
   */
  public SmtpConnection.Endpoint connect(Deadline deadline, SmtpConnection.Timeout timeout)
      throws IOException {
    SmtpConnection.Endpoint late = takeLateGreeted(timeout);
    if (late != null) {
      return late;
    }
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
        if (until == null || !until.isAfter(now)) {
          until = sharedDown(target, now);
        }
        if (until != null && until.isAfter(now)) {
          failures.add(target + " did not answer lately (skipped until " + until + ")");
          continue;
        }
        long started = System.nanoTime();
        Socket socket = new Socket();
        long millis = Math.min(connectTimeout.toMillis(), deadline.socketTimeoutMillis());
        try {
          socket.setTcpNoDelay(true);
          socket.connect(target, (int) Math.max(1, millis));
        } catch (IOException e) {
          socket.close();
          if (e instanceof SocketTimeoutException && millis >= connectTimeout.toMillis()) {
            failed(target, "did not answer the connect"); // a black hole, not just our deadline
          }
          failures.add(target + ": " + e.getMessage());
          if (deadline.expired()) {
            throw new SocketTimeoutException("deadline passed connecting to the backend");
          }
          continue;
        }
        GreetingTimeout bounded =
            new GreetingTimeout(timeout, deadline, started + connectTimeout.toNanos());
        SmtpConnection connection;
        try {
          connection = new SmtpConnection(socket, bounded);
        } catch (IOException | RuntimeException e) {
          socket.close();
          throw e;
        }
        try {
          connection.greet();
        } catch (SocketTimeoutException e) {
          boolean connectTimedOut = bounded.boundPassed();
          if (connectTimedOut) {
            failed(target, "accepted the connection and did not greet within " + connectTimeout);
          }
          suspect(
              target,
              new SmtpConnection.Endpoint(socket, host.getHostString(), connection),
              bounded,
              started + GREETING_WAIT.toNanos(),
              connectTimedOut);
          if (!connectTimedOut) {
            throw e; // the deadline (or the caller's timeout) ran out first
          }
          failures.add(target + " did not greet within " + connectTimeout);
          continue;
        } catch (IOException | RuntimeException e) {
          connection.close();
          throw e;
        }
        bounded.greeted();
        coolingDown.remove(target);
        return new SmtpConnection.Endpoint(socket, host.getHostString(), connection);
      }
    }
    throw new SessionFailure(
        Verdict.Reason.BACKEND_UNAVAILABLE,
        false,
        "no backend answered: " + String.join("; ", failures),
        null);
  }

  /**
   * The caller's timeout, and while the greeting is awaited also what is left of the deadline and
   * of the connect timeout (counted from the start of the connect).
   */
  private static final class GreetingTimeout implements SmtpConnection.Timeout {
    private volatile SmtpConnection.Timeout after;
    private volatile Deadline deadline;
    private volatile long greetBy;
    private volatile boolean greeted;

    GreetingTimeout(SmtpConnection.Timeout after, Deadline deadline, long greetBy) {
      this.after = after;
      this.deadline = deadline;
      this.greetBy = greetBy;
    }

    @Override
    public int millis(long replyStarted) throws SocketTimeoutException {
      int millis = after.millis(replyStarted);
      if (greeted) {
        return millis;
      }
      long left = greetBy - System.nanoTime();
      if (left <= 0) {
        throw new SocketTimeoutException("no greeting within the connect timeout");
      }
      int bound = (int) Math.max(1, Math.min(Integer.MAX_VALUE, (left + 999_999) / 1_000_000));
      return Math.min(Math.min(millis, bound), deadline.socketTimeoutMillis());
    }

    /** Whether the connect timeout passed without a greeting (rather than the deadline). */
    boolean boundPassed() {
      return greetBy - System.nanoTime() <= 0;
    }

    void greeted() {
      greeted = true;
    }

    /** The greeting is now waited for until {@code greetBy}, outside any verification. */
    void inBackground(long greetBy) {
      Duration left = Duration.ofNanos(Math.max(0, greetBy - System.nanoTime()));
      this.after = SmtpConnection.Timeout.eachRead(left);
      this.deadline = Deadline.after(left);
      this.greetBy = greetBy;
    }

    /** The greeted connection serves the caller whose reads {@code timeout} bounds from now on. */
    void handTo(SmtpConnection.Timeout timeout) {
      this.after = timeout;
      greeted();
    }
  }

  /**
   * A connection greeted late, handed to this caller; null if there is none greeted within {@link
   * #GREETING_WAIT} (older ones are closed: the backend may have given up on them).
   */
  private SmtpConnection.Endpoint takeLateGreeted(SmtpConnection.Timeout timeout) {
    Late late;
    while ((late = lateGreeted.poll()) != null) {
      if (System.nanoTime() - late.greetedAt() < GREETING_WAIT.toNanos()) {
        late.timeout().handTo(timeout);
        return late.endpoint();
      }
      late.endpoint().greeted().close();
    }
    return null;
  }

  /** Closes the connections greeted late and not taken, and from now on each one that greets. */
  public void close() {
    closed = true;
    Late late;
    while ((late = lateGreeted.poll()) != null) {
      late.endpoint().greeted().close();
    }
  }

  /**
   * The deadline ran out before the address greeted, within its connect timeout: it is skipped from
   * now on, as if it had not greeted at all, so that the next verifications do not wait for it too
   * (with two hung hosts, the second is reached with what the first left of the deadline); a thread
   * of its own waits for the greeting on the connection until {@code greetBy} ({@link
   * #GREETING_WAIT} after the connect), and where anything comes (a greeting, or the connection
   * closed) the address is asked again at once; a connection greeted so is the next session's
   * ({@link #takeLateGreeted}), within the pool's limits as any new one. A greeting delay, one that
   * lets a client through once it waited (postscreen) or one on every connection, is thus passed
   * outside every verification's deadline, once per session kept. The same wait follows a connect
   * timeout without a greeting ({@code warned}: that was logged already).
   */
  private void suspect(
      InetSocketAddress target,
      SmtpConnection.Endpoint endpoint,
      GreetingTimeout bounded,
      long greetBy,
      boolean warned) {
    Instant until = clock.instant().plus(coolDown);
    coolingDown.put(target, until);
    share(target, until);
    Thread watch =
        new Thread(
            () -> {
              boolean answered = greetedLate(endpoint, bounded, greetBy);
              if (answered) {
                coolingDown.remove(target, until);
                VerdictCache store = shared;
                if (store != null) {
                  store.invalidate(key(target));
                }
              } else if (!warned) {
                LOG.warn(
                    "backend {} accepted the connection and did not greet within {}; trying the"
                        + " next address, this one again after {}",
                    target,
                    GREETING_WAIT,
                    coolDown);
              }
            },
            "rcptproxy-greeting-" + THREAD_NUMBER.incrementAndGet());
    watch.setDaemon(true);
    watch.start();
  }

  /**
   * Reads the greeting until {@code greetBy}: a {@code 220} puts the connection where the next
   * connect takes it. Whether anything came (a greeting, a refusal, the connection closed): then
   * the host is there.
   */
  private boolean greetedLate(
      SmtpConnection.Endpoint endpoint, GreetingTimeout bounded, long greetBy) {
    SmtpConnection connection = endpoint.greeted();
    try {
      if (greetBy - System.nanoTime() <= 0) {
        connection.close();
        return false;
      }
      bounded.inBackground(greetBy);
      connection.greet();
      lateGreeted.add(new Late(endpoint, bounded, System.nanoTime()));
      if (closed) {
        close();
      }
      return true;
    } catch (SocketTimeoutException e) {
      connection.close();
      return false;
    } catch (IOException e) {
      connection.close(); // refused, reset or garbled: the host is there
      return true;
    }
  }

  /** Until when another verifier sharing the store skips the address (kept here too); or null. */
  private Instant sharedDown(InetSocketAddress target, Instant now) {
    VerdictCache store = shared;
    if (store == null) {
      return null;
    }
    Optional<VerdictCache.CachedVerdict> down = store.get(key(target));
    if (down.isEmpty() || !down.get().expiresAt().isAfter(now)) {
      return null;
    }
    coolingDown.put(target, down.get().expiresAt());
    return down.get().expiresAt();
  }

  private void share(InetSocketAddress target, Instant until) {
    VerdictCache store = shared;
    if (store != null) {
      Instant now = clock.instant();
      store.put(
          key(target),
          new VerdictCache.CachedVerdict(new BackendReply(421, "", "did not answer"), now, until));
    }
  }

  private static String key(InetSocketAddress target) {
    return STORE_PREFIX + target.getAddress().getHostAddress() + ":" + target.getPort();
  }

  /** The address did not answer within the whole connect timeout: skip it a while. */
  private void failed(InetSocketAddress target, String what) {
    Instant until = clock.instant().plus(coolDown);
    share(target, until);
    if (coolingDown.put(target, until) == null) {
      LOG.warn(
          "backend {} {}; trying the next address, this one again after {}",
          target,
          what,
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
