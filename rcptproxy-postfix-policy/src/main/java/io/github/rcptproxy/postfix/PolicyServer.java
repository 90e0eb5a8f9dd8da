package io.github.rcptproxy.postfix;

import io.github.rcptproxy.AddressCheck;
import io.github.rcptproxy.RecipientVerifier;
import io.github.rcptproxy.Verdict;
import io.github.rcptproxy.internal.smtp.SmtpText;
import io.github.rcptproxy.policy.DomainTable;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ClosedSelectorException;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.GroupPrincipal;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Consumer;
import jdk.net.ExtendedSocketOptions;
import jdk.net.UnixDomainPrincipal;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A Postfix SMTP access policy server ({@code check_policy_service inet:HOST:PORT} or {@code
 * unix:/path}) that verifies each recipient with a {@link RecipientVerifier}:
 *
 * <pre>{@code
 * try (PolicyServer server = PolicyServer.builder()
 *     .listen(new InetSocketAddress("127.0.0.1", 10040))
 *     .route("example.com", verifier, PolicyAnswers.defaults())
 *     .start()) { ... }
 * }</pre>
 *
 * <p>For {@code protocol_state=RCPT} the {@code recipient} is verified with the verifier routed for
 * its domain and answered as {@link PolicyAnswers} says; every other request is answered {@code
 * DUNNO} (Postfix goes on with its own restrictions): other protocol states, domains no route
 * matches, bypassed clients, and malformed requests (logged). A request over 32 KiB, one not
 * finished within {@code requestTimeout}, or a connection idle for {@code idleTimeout} is closed.
 *
 * <p>A new connection is never refused: at {@code maxConnectionsPerClient} connections from one
 * client (an IP address; over a UNIX socket, the peer's user) the least recently active of that
 * client's is closed, and at {@code maxConnections} the least recently active of the client holding
 * the most. Connections between requests, or holding a request begun more than a second ago, or an
 * answer unread as long, go first: Postfix writes each request at once and reads its answer at
 * once, so only a client that is not Postfix holds such a connection for long; one whose fresh
 * request is being verified is closed only when its client has nothing else to give up. Postfix
 * opens a new connection and asks again when it finds its own closed ({@code
 * smtpd_policy_service_try_limit}, 2, after {@code smtpd_policy_service_retry_delay}, 1 s), so
 * connections held open, idle or busy, cannot lock Postfix out.
 *
 * <p>One thread serves every connection with non-blocking I/O, so idle Postfix connections cost a
 * few hundred bytes each and no thread; verifications run on the verifiers' own bounded pools
 * ({@link RecipientVerifier#verifyAsync}), one at a time per connection (Postfix waits for each
 * answer), and a verdict from a verifier's in-memory cache is answered at once by the server thread
 * itself. Thread-safe; {@link #close()} closes the connections but not the verifiers, which stay
 * the caller's.
 */
public final class PolicyServer implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(PolicyServer.class);
  private static final int READ_BUFFER = 16 * 1024;
  // Postfix writes a request, and reads its answer, at once: a connection slower than this at
  // either is not a Postfix waiting for an answer, and is closed first to make room.
  private static final long STALE_NANOS = TimeUnit.SECONDS.toNanos(1);
  private static final long LIMIT_LOG_NANOS = TimeUnit.MINUTES.toNanos(1);

  private final DomainTable<Route> routes;
  private final int maxConnections;
  private final int maxPerClient;
  private final long idleTimeoutNanos;
  private final long requestTimeoutNanos;
  private final long tickMillis;
  private final ServerSocketChannel listener;
  private final Selector selector;
  private final Thread thread;
  private final ByteBuffer readBuffer = ByteBuffer.allocateDirect(READ_BUFFER);
  private final ConcurrentLinkedQueue<Runnable> completions = new ConcurrentLinkedQueue<>();
  private final AtomicInteger open = new AtomicInteger();
  private final AtomicInteger evicted = new AtomicInteger();
  private volatile boolean running = true;
  private final SelectionKey listenerKey;
  private final SocketAddress address;
  private final Path socketFile; // ours to delete on close, or null
  // selector thread only:
  private final Map<Object, Set<Connection>> byClient = new HashMap<>();
  private boolean acceptPaused;
  private final LimitLog clientLimitLog = new LimitLog();
  private final LimitLog serverLimitLog = new LimitLog();

  /** One verifier with the answers for its verdicts. */
  record Route(RecipientVerifier verifier, PolicyAnswers answers) {}

  private PolicyServer(Builder b) throws IOException {
    this.routes = b.routes.build();
    this.maxConnections = b.maxConnections;
    this.maxPerClient = b.maxPerClient;
    this.idleTimeoutNanos = b.idleTimeout.toNanos();
    this.requestTimeoutNanos = b.requestTimeout.toNanos();
    this.tickMillis = Math.max(10, Math.min(1000, b.requestTimeout.toMillis() / 4));
    // The JDK sets up its socket close machinery (a socket pair) the first time a channel is
    // closed; done now, so that it cannot fail later for want of a file descriptor and stop the
    // server thread with an Error.
    SocketChannel.open().close();
    this.listener = b.open();
    // a socket file this server bound (not an inherited one) is its own to delete
    socketFile = b.listen instanceof UnixDomainSocketAddress unix ? unix.getPath() : null;
    Selector opened = null;
    try {
      opened = Selector.open();
      listener.configureBlocking(false);
      listenerKey = listener.register(opened, SelectionKey.OP_ACCEPT);
      // a UNIX socket is bound under a private name and renamed: its address is the final path
      address = socketFile != null ? b.listen : listener.getLocalAddress();
    } catch (IOException e) {
      if (opened != null) {
        opened.close();
      }
      listener.close();
      if (socketFile != null) {
        Files.deleteIfExists(socketFile);
      }
      throw e;
    }
    this.selector = opened;
    this.thread = new Thread(this::run, "rcptproxy-policy " + address());
    thread.setDaemon(true);
    thread.start();
    LOG.info("policy server listening on {} for {}", address(), routes);
  }

  public static Builder builder() {
    return new Builder();
  }

  /**
   * Where the server listens, closed or not: an {@link InetSocketAddress} (the actual port when it
   * was given as 0) or a {@link UnixDomainSocketAddress}.
   */
  public SocketAddress address() {
    return address;
  }

  /** Connections open now. */
  public int connections() {
    return open.get();
  }

  /** Connections closed so far to make room for new ones, at a client's limit or the server's. */
  public int evicted() {
    return evicted.get();
  }

  /** Stops listening, closes every connection, and waits for the server thread (idempotent). */
  @Override
  public void close() {
    running = false;
    try {
      selector.wakeup();
    } catch (ClosedSelectorException e) {
      // closed already
    }
    if (Thread.currentThread() != thread) {
      try {
        thread.join(TimeUnit.SECONDS.toMillis(5));
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
  }

  private void run() {
    long lastSweep = System.nanoTime();
    try {
      while (running) {
        selector.select(tickMillis);
        Runnable completion;
        while ((completion = completions.poll()) != null) {
          try {
            completion.run();
          } catch (RuntimeException e) { // as below: never the whole server
            LOG.error("answering a verified request", e);
          }
        }
        var keys = selector.selectedKeys().iterator();
        while (keys.hasNext()) {
          SelectionKey key = keys.next();
          keys.remove();
          if (!key.isValid()) {
            continue;
          }
          if (key.isAcceptable()) {
            accept(key);
          } else {
            Connection connection = (Connection) key.attachment();
            try {
              if (key.isReadable()) {
                connection.read();
              } else if (key.isWritable()) {
                connection.pump();
              }
            } catch (RuntimeException e) { // a bug must cost one connection, not the server
              LOG.error("{}: closed after an unexpected error", connection.peer, e);
              connection.close();
            }
          }
        }
        long now = System.nanoTime();
        if (now - lastSweep >= TimeUnit.MILLISECONDS.toNanos(tickMillis)) {
          lastSweep = now;
          sweep(now);
          if (acceptPaused) {
            acceptPaused = false;
            listenerKey.interestOps(SelectionKey.OP_ACCEPT);
          }
        }
      }
    } catch (IOException | RuntimeException e) {
      LOG.error("policy server on {} stopped", address(), e);
    } finally {
      for (SelectionKey key : selector.keys()) {
        closeQuietly(key);
      }
      try {
        selector.close();
        listener.close();
        if (socketFile != null) {
          Files.deleteIfExists(socketFile);
        }
      } catch (IOException e) {
        LOG.debug("closing the policy server", e);
      }
      LOG.info("policy server stopped");
    }
  }

  private void accept(SelectionKey key) {
    while (true) {
      SocketChannel channel;
      try {
        channel = listener.accept();
      } catch (IOException e) {
        // Out of file descriptors, typically: stop accepting until the next tick instead of
        // spinning on a listener that stays ready.
        LOG.warn("cannot accept connections now: {}", e.toString());
        acceptPaused = true;
        key.interestOps(0);
        return;
      }
      if (channel == null) {
        return;
      }
      try {
        channel.configureBlocking(false);
        Connection connection = new Connection(channel);
        makeRoom(connection.client);
        connection.key = channel.register(selector, SelectionKey.OP_READ, connection);
        byClient.computeIfAbsent(connection.client, c -> new LinkedHashSet<>()).add(connection);
        open.incrementAndGet();
      } catch (IOException e) { // the client went away already
        LOG.debug("accepting a connection: {}", e.toString());
        closeQuietly(channel);
      }
    }
  }

  /**
   * Closes one connection of {@code client} when it is at its own limit, then one of the client
   * holding the most when the server is at its limit. Never refuses the new connection: a client at
   * a limit always holds a connection to give up, and refusing would let connections held open by
   * anyone else lock Postfix out, whose new connection is the one that matters.
   */
  private void makeRoom(Object client) {
    long now = System.nanoTime();
    Set<Connection> same = byClient.get(client);
    if (same != null && same.size() >= maxPerClient) {
      Connection victim = leastRecentlyActive(same, now, true);
      evict(victim != null ? victim : leastRecentlyActive(same, now, false));
      clientLimitLog.note(
          now,
          "{}: at the limit of {} connections per client, closed its least recently active to"
              + " accept a new one ({} closed so at this limit since the last line; Postfix"
              + " reconnects when it finds its own closed)",
          name(client),
          maxPerClient);
    }
    if (open.get() < maxConnections) {
      return;
    }
    Object crowding = null;
    for (Map.Entry<Object, Set<Connection>> e : byClient.entrySet()) {
      if (crowding == null || e.getValue().size() > byClient.get(crowding).size()) {
        crowding = e.getKey();
      }
    }
    Set<Connection> most = byClient.get(crowding);
    Connection victim = leastRecentlyActive(most, now, true);
    if (victim == null) { // rather any client's idle one than a verification in progress
      Set<Connection> all = new LinkedHashSet<>();
      byClient.values().forEach(all::addAll);
      victim = leastRecentlyActive(all, now, true);
    }
    if (victim == null) {
      victim = leastRecentlyActive(most, now, false);
    }
    evict(victim);
    serverLimitLog.note(
        now,
        "{}: at the limit of {} connections, closed one of this client's, which holds the most"
            + " ({} closed so at this limit since the last line; Postfix reconnects when it finds"
            + " its own closed)",
        name(crowding),
        maxConnections);
  }

  /**
   * The connection of {@code among} active the longest ago, of those {@link Connection#evictable}
   * only when {@code evictableOnly}; null when there is none.
   */
  private static Connection leastRecentlyActive(
      Set<Connection> among, long now, boolean evictableOnly) {
    Connection found = null;
    for (Connection c : among) {
      if ((!evictableOnly || c.evictable(now))
          && (found == null || c.lastActivity - found.lastActivity < 0)) {
        found = c;
      }
    }
    return found;
  }

  private void evict(Connection victim) {
    victim.close();
    evicted.incrementAndGet();
  }

  /** A client as logged: its IP address, or the UNIX peer's user. */
  private static String name(Object client) {
    return client instanceof java.net.InetAddress ip
        ? ip.getHostAddress()
        : "user " + ((java.security.Principal) client).getName();
  }

  /**
   * One warning a minute for one limit: a client holding many connections makes one eviction per
   * new connection, and a line each would flood the log.
   */
  private static final class LimitLog {
    private long last;
    private boolean logged;
    private int since;

    void note(long now, String format, String client, int limit) {
      since++;
      if (!logged || now - last > LIMIT_LOG_NANOS) {
        LOG.warn(format, client, limit, since);
        logged = true;
        last = now;
        since = 0;
      }
    }
  }

  private static void closeQuietly(SocketChannel channel) {
    try {
      channel.close();
    } catch (IOException e) {
      // nothing to do
    }
  }

  private void sweep(long now) {
    for (SelectionKey key : selector.keys()) {
      if (key.attachment() instanceof Connection connection) {
        String why = connection.expired(now);
        if (why != null) {
          LOG.info("{}: closed, {}", connection.peer, why);
          connection.close();
        }
      }
    }
  }

  private static void closeQuietly(SelectionKey key) {
    key.cancel();
    try {
      key.channel().close();
    } catch (IOException e) {
      // nothing to do
    }
  }

  /** The route for a recipient domain, most specific pattern first, or null. */
  Route route(String domain) {
    return routes.find(domain).orElse(null);
  }

  /** One Postfix connection: reading a request, waiting for a verdict, or writing an answer. */
  private final class Connection {
    private final SocketChannel channel;
    private final Object client; // whose limit the connection counts against
    private final String peer;
    private final RequestReader reader = new RequestReader();
    private SelectionKey key;
    private ByteBuffer pending; // bytes after a request, read before its answer was sent
    private ByteBuffer output;
    private boolean verifying;
    private boolean closed;
    private int malformed;
    private int notPolicy;
    private long lastActivity = System.nanoTime();
    private long requestStarted;

    Connection(SocketChannel channel) throws IOException {
      this.channel = channel;
      if (channel.getRemoteAddress() instanceof InetSocketAddress inet) {
        this.client = inet.getAddress();
        this.peer = inet.toString();
      } else { // a UNIX socket: the peer's user, as the kernel tells
        UnixDomainPrincipal principal = channel.getOption(ExtendedSocketOptions.SO_PEERCRED);
        this.client = principal.user();
        this.peer = "user " + principal.user().getName();
      }
    }

    /**
     * Between requests, or slow at sending a request or reading an answer, as Postfix never is:
     * closing it costs Postfix no answer, at most a reconnection.
     */
    boolean evictable(long now) {
      if (verifying) {
        return false;
      }
      if (output != null) {
        return now - lastActivity > STALE_NANOS;
      }
      return !reader.inRequest() || now - requestStarted > STALE_NANOS;
    }

    void read() {
      readBuffer.clear();
      int n;
      try {
        n = channel.read(readBuffer);
      } catch (IOException e) {
        LOG.debug("{}: {}", peer, e.toString());
        close();
        return;
      }
      if (n < 0) {
        close();
        return;
      }
      readBuffer.flip();
      PolicyRequest request = consume(readBuffer);
      if (request != null) {
        answer(request);
        pump();
      }
    }

    /**
     * Reads from {@code in} up to the end of one request and returns it, keeping what follows in
     * {@link #pending}; null when {@code in} ended first (or the request was too large: closed).
     */
    private PolicyRequest consume(ByteBuffer in) {
      long now = System.nanoTime();
      lastActivity = now;
      if (!reader.inRequest() && in.hasRemaining()) {
        requestStarted = now;
      }
      PolicyRequest request;
      try {
        request = reader.read(in);
      } catch (RequestReader.RequestTooLargeException e) {
        LOG.warn("{}: closed, {}", peer, e.getMessage());
        close();
        return null;
      }
      if (request != null && in.hasRemaining()) {
        pending = ByteBuffer.allocate(in.remaining()).put(in).flip();
      }
      return request;
    }

    /**
     * Writes what is to be written, then answers requests already read, one at a time (Postfix
     * waits for each answer anyway), then reads again; a loop, so a burst of requests cannot nest.
     */
    void pump() {
      while (!closed) {
        if (output != null) {
          try {
            channel.write(output);
          } catch (IOException e) {
            LOG.debug("{}: {}", peer, e.toString());
            close();
            return;
          }
          if (output.hasRemaining()) {
            key.interestOps(SelectionKey.OP_WRITE);
            return;
          }
          output = null;
          lastActivity = System.nanoTime();
        }
        if (verifying) {
          key.interestOps(0);
          return;
        }
        if (pending == null) {
          key.interestOps(SelectionKey.OP_READ);
          return;
        }
        ByteBuffer rest = pending;
        pending = null;
        PolicyRequest request = consume(rest);
        if (request != null) {
          answer(request);
        }
      }
    }

    private void answer(PolicyRequest request) {
      if (request.problem() != null) {
        malformed++;
        if (malformed == 1) {
          LOG.warn("{}: malformed policy request ({}): answered DUNNO", peer, request.problem());
        } else {
          LOG.debug("{}: malformed policy request ({}): answered DUNNO", peer, request.problem());
        }
        send(PolicyAnswers.DUNNO);
        return;
      }
      if (!"smtpd_access_policy".equals(request.get("request"))) {
        // as malformed ones: the first says what is wrong, the rest would flood the log
        notPolicy++;
        if (notPolicy == 1) {
          LOG.warn(
              "{}: not an smtpd_access_policy request ('{}'): answered DUNNO",
              peer,
              SmtpText.forLog(request.get("request")));
        } else {
          LOG.debug(
              "{}: not an smtpd_access_policy request ('{}'): answered DUNNO",
              peer,
              SmtpText.forLog(request.get("request")));
        }
        send(PolicyAnswers.DUNNO);
        return;
      }
      if (!"RCPT".equals(request.get("protocol_state"))) {
        LOG.debug("{}: protocol state {}: DUNNO", peer, request.get("protocol_state"));
        send(PolicyAnswers.DUNNO);
        return;
      }
      // Decided on the mailbox Postfix will deliver to, in the gateway's one form: Postfix takes
      // user@example.test. and "user"@example.test for user@example.test.
      String recipient = AddressCheck.canonicalFromPostfix(request.get("recipient"));
      int at = recipient.lastIndexOf('@');
      Route found = at < 0 ? null : route(recipient.substring(at + 1));
      if (found == null) {
        LOG.debug("{}: RCPT {}: no route, DUNNO", peer, SmtpText.forLog(recipient));
        send(PolicyAnswers.DUNNO);
        return;
      }
      String client = request.get("client_address");
      if (found.answers().bypasses(client)) {
        LOG.debug("{} RCPT {}: client bypasses verification", client, recipient);
        send(PolicyAnswers.DUNNO);
        return;
      }
      CompletableFuture<Verdict> verdict;
      try {
        verdict = found.verifier().verifyAsync(recipient);
      } catch (RuntimeException e) { // a closed verifier: a programming error, but answer anyway
        LOG.warn("{} RCPT {}: verifier failed", client, recipient, e);
        send(found.answers().whenUnverified());
        return;
      }
      if (verdict.isDone()) { // from the verifier's cache: answered now, no hand-off and back
        send(verdict.handle((v, e) -> action(found, client, recipient, v, e)).join());
        return;
      }
      verifying = true;
      verdict.whenComplete(
          (v, e) -> {
            String action = action(found, client, recipient, v, e);
            completions.add(
                () -> {
                  verifying = false;
                  send(action);
                  pump();
                });
            selector.wakeup();
          });
    }

    /** The action for a verifier's answer ({@code v}) or failure ({@code e}), logged. */
    private String action(Route found, String client, String recipient, Verdict v, Throwable e) {
      if (v == null) {
        LOG.warn("{} RCPT {}: verifier failed", client, recipient, e);
        return found.answers().whenUnverified();
      }
      String action = found.answers().action(v, recipient);
      LOG.debug(
          "{} RCPT {}: {} in {} ms: {}", client, recipient, v, v.latency().toMillis(), action);
      return action;
    }

    /** Queues one answer; {@link #pump()} writes it. */
    private void send(String action) {
      output = ByteBuffer.wrap(("action=" + action + "\n\n").getBytes(StandardCharsets.US_ASCII));
      lastActivity = System.nanoTime();
    }

    /** Why the connection should be closed now, or null. */
    String expired(long now) {
      if (verifying) {
        return null; // the verifier answers within its deadline
      }
      if (output != null && now - lastActivity > requestTimeoutNanos) {
        return "the answer was not read in time";
      }
      if (reader.inRequest() && now - requestStarted > requestTimeoutNanos) {
        return "the request did not end in time";
      }
      if (now - lastActivity > idleTimeoutNanos) {
        return "idle";
      }
      return null;
    }

    void close() {
      if (!closed) {
        closed = true;
        open.decrementAndGet();
        Set<Connection> same = byClient.get(client);
        if (same != null && same.remove(this) && same.isEmpty()) {
          byClient.remove(client);
        }
        closeQuietly(key);
      }
    }
  }

  /** Collects the server's settings; {@link #start()} checks them and binds. Not thread-safe. */
  public static final class Builder {
    private SocketAddress listen = new InetSocketAddress("127.0.0.1", 10040); // null: inherited
    private Set<PosixFilePermission> socketPermissions =
        PosixFilePermissions.fromString("rw-rw----");
    private GroupPrincipal socketGroup;
    private final DomainTable.Builder<Route> routes = DomainTable.builder();
    private int maxConnections = 1000;
    private int maxPerClient = 500;
    private Duration idleTimeout = Duration.ofSeconds(330);
    private Duration requestTimeout = Duration.ofSeconds(10);
    private Consumer<Path> beforeRename = bound -> {}; // for tests: see Listeners.unix

    private Builder() {}

    /**
     * Where to listen (default 127.0.0.1:10040): an {@link InetSocketAddress} (port 0 picks a free
     * one) or a {@link UnixDomainSocketAddress}, whose file is created with {@link
     * #socketPermissions} and {@link #socketGroup}, replaces a socket file nobody listens on (left
     * by a crash), is refused when it is another kind of file or in use, and is deleted on {@link
     * PolicyServer#close()}.
     */
    public Builder listen(SocketAddress listen) {
      Objects.requireNonNull(listen, "listen");
      if (!(listen instanceof InetSocketAddress || listen instanceof UnixDomainSocketAddress)) {
        throw new IllegalArgumentException(
            "listen must be an InetSocketAddress or a UnixDomainSocketAddress, was " + listen);
      }
      this.listen = listen;
      return this;
    }

    /**
     * Serve on the listening socket (TCP or UNIX) this process inherited on standard input, as
     * systemd passes it ({@code System.inheritedChannel()}); {@link #start()} fails without one.
     * The socket file, if any, stays the service manager's.
     */
    public Builder listenInherited() {
      this.listen = null;
      return this;
    }

    /** Permissions of a UNIX socket file (default {@code rw-rw----}: owner and group connect). */
    public Builder socketPermissions(Set<PosixFilePermission> permissions) {
      this.socketPermissions = Set.copyOf(permissions);
      return this;
    }

    /**
     * The group of a UNIX socket file (default: the process's), e.g. {@code postfix}; the process
     * must be a member or root.
     *
     * @throws IllegalArgumentException when there is no such group
     */
    public Builder socketGroup(String name) {
      try {
        this.socketGroup =
            FileSystems.getDefault()
                .getUserPrincipalLookupService()
                .lookupPrincipalByGroupName(name);
      } catch (IOException e) {
        throw new IllegalArgumentException("socket group '" + name + "' does not exist", e);
      }
      return this;
    }

    /**
     * Verifies recipients in domains matching {@code pattern} (a domain, {@code *.domain} for its
     * subdomains, or {@code *}; most specific wins) with {@code verifier}, answered by {@code
     * answers}. Recipients in other domains are answered {@code DUNNO}.
     */
    public Builder route(String pattern, RecipientVerifier verifier, PolicyAnswers answers) {
      Objects.requireNonNull(pattern, "pattern");
      Objects.requireNonNull(verifier, "verifier");
      Objects.requireNonNull(answers, "answers");
      routes.put(pattern, new Route(verifier, answers));
      return this;
    }

    /**
     * Connections at once (default 1000); past it, for each new one the least recently active
     * connection of the client holding the most is closed (see the class comment). Postfix opens
     * one per {@code smtpd} process that used the service ({@code default_process_limit}, 100, per
     * {@code master.cf} service).
     */
    public Builder maxConnections(int maxConnections) {
      if (maxConnections < 1) {
        throw new IllegalArgumentException(
            "max connections cannot be less than 1, was " + maxConnections);
      }
      this.maxConnections = maxConnections;
      return this;
    }

    /**
     * Connections from one client at once (default 500): an IP address, or over a UNIX socket the
     * peer's user. Past it the least recently active of that client's connections is closed for
     * each new one, so one client cannot take the room of others; a Postfix over the limit
     * reconnects.
     */
    public Builder maxConnectionsPerClient(int maxPerClient) {
      if (maxPerClient < 1) {
        throw new IllegalArgumentException(
            "max connections per client cannot be less than 1, was " + maxPerClient);
      }
      this.maxPerClient = maxPerClient;
      return this;
    }

    /**
     * Close a connection without a request this long (default 330 s: Postfix closes its own after
     * {@code smtpd_policy_service_max_idle}, 300 s, so this closes none Postfix would still use).
     */
    public Builder idleTimeout(Duration idleTimeout) {
      if (idleTimeout.compareTo(Duration.ofSeconds(1)) < 0) {
        throw new IllegalArgumentException(
            "idle timeout cannot be less than 1 s, was " + idleTimeout);
      }
      this.idleTimeout = idleTimeout;
      return this;
    }

    /**
     * Longest a request may take to arrive, and its answer to be read (default 10 s); Postfix
     * writes each request at once.
     */
    public Builder requestTimeout(Duration requestTimeout) {
      if (requestTimeout.compareTo(Duration.ofMillis(50)) < 0) {
        throw new IllegalArgumentException(
            "request timeout cannot be less than 50 ms, was " + requestTimeout);
      }
      this.requestTimeout = requestTimeout;
      return this;
    }

    /** For tests: runs with the UNIX socket bound, before it is renamed onto its path. */
    Builder beforeRename(Consumer<Path> beforeRename) {
      this.beforeRename = beforeRename;
      return this;
    }

    /**
     * Binds and starts serving.
     *
     * @throws IllegalArgumentException without a route, or with more connections per client than at
     *     all
     * @throws IOException when the address cannot be bound, or {@link #listenInherited()} finds no
     *     listening socket
     */
    public PolicyServer start() throws IOException {
      routes.build(); // checks there is a route before binding
      if (maxPerClient > maxConnections) {
        throw new IllegalArgumentException(
            "max connections per client ("
                + maxPerClient
                + ") cannot be more than max connections ("
                + maxConnections
                + ")");
      }
      return new PolicyServer(this);
    }

    private ServerSocketChannel open() throws IOException {
      if (listen == null) {
        return Listeners.inherited();
      }
      if (listen instanceof UnixDomainSocketAddress unix) {
        return Listeners.unix(unix, socketPermissions, socketGroup, beforeRename);
      }
      return Listeners.tcp((InetSocketAddress) listen);
    }
  }
}
