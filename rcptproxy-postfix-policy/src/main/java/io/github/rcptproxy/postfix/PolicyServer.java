package io.github.rcptproxy.postfix;

import io.github.rcptproxy.AddressCheck;
import io.github.rcptproxy.RecipientVerifier;
import io.github.rcptproxy.Verdict;
import io.github.rcptproxy.internal.smtp.SmtpText;
import io.github.rcptproxy.policy.DomainTable;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.StandardSocketOptions;
import java.nio.ByteBuffer;
import java.nio.channels.ClosedSelectorException;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A Postfix SMTP access policy server ({@code check_policy_service inet:HOST:PORT}) that verifies
 * each recipient with a {@link RecipientVerifier}:
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

  private final DomainTable<Route> routes;
  private final int maxConnections;
  private final long idleTimeoutNanos;
  private final long requestTimeoutNanos;
  private final long tickMillis;
  private final ServerSocketChannel listener;
  private final Selector selector;
  private final Thread thread;
  private final ByteBuffer readBuffer = ByteBuffer.allocateDirect(READ_BUFFER);
  private final ConcurrentLinkedQueue<Runnable> completions = new ConcurrentLinkedQueue<>();
  private final AtomicInteger open = new AtomicInteger();
  private final AtomicInteger refused = new AtomicInteger();
  private volatile boolean running = true;
  private final SelectionKey listenerKey;
  private final InetSocketAddress address;
  private boolean acceptPaused; // selector thread only

  /** One verifier with the answers for its verdicts. */
  record Route(RecipientVerifier verifier, PolicyAnswers answers) {}

  private PolicyServer(Builder b) throws IOException {
    this.routes = b.routes.build();
    this.maxConnections = b.maxConnections;
    this.idleTimeoutNanos = b.idleTimeout.toNanos();
    this.requestTimeoutNanos = b.requestTimeout.toNanos();
    this.tickMillis = Math.max(10, Math.min(1000, b.requestTimeout.toMillis() / 4));
    // The JDK sets up its socket close machinery (a socket pair) the first time a channel is
    // closed; done now, so that it cannot fail later for want of a file descriptor and stop the
    // server thread with an Error.
    SocketChannel.open().close();
    this.selector = Selector.open();
    this.listener = ServerSocketChannel.open();
    try {
      listener.setOption(StandardSocketOptions.SO_REUSEADDR, true); // restart on the same port
      listener.bind(b.listen, 4096);
      listener.configureBlocking(false);
      listenerKey = listener.register(selector, SelectionKey.OP_ACCEPT);
      address = (InetSocketAddress) listener.getLocalAddress();
    } catch (IOException e) {
      listener.close();
      selector.close();
      throw e;
    }
    this.thread = new Thread(this::run, "rcptproxy-policy " + address());
    thread.setDaemon(true);
    thread.start();
    LOG.info("policy server listening on {} for {}", address(), routes);
  }

  public static Builder builder() {
    return new Builder();
  }

  /** Where the server listens (the actual port when it was given as 0), closed or not. */
  public InetSocketAddress address() {
    return address;
  }

  /** Connections open now. */
  public int connections() {
    return open.get();
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
      if (open.get() >= maxConnections) {
        closeQuietly(channel);
        int n = refused.incrementAndGet();
        if (n == 1 || n % 1000 == 0) {
          LOG.warn("{} connection(s) refused so far: at most {} at once", n, maxConnections);
        }
        continue;
      }
      try {
        channel.configureBlocking(false);
        Connection connection = new Connection(channel);
        connection.key = channel.register(selector, SelectionKey.OP_READ, connection);
        open.incrementAndGet();
      } catch (IOException e) { // the client went away already
        LOG.debug("accepting a connection: {}", e.toString());
        closeQuietly(channel);
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
    private final String peer;
    private final RequestReader reader = new RequestReader();
    private SelectionKey key;
    private ByteBuffer pending; // bytes after a request, read before its answer was sent
    private ByteBuffer output;
    private boolean verifying;
    private boolean closed;
    private int malformed;
    private long lastActivity = System.nanoTime();
    private long requestStarted;

    Connection(SocketChannel channel) throws IOException {
      this.channel = channel;
      this.peer = String.valueOf(channel.getRemoteAddress());
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
        LOG.warn(
            "{}: not an smtpd_access_policy request ('{}'): answered DUNNO",
            peer,
            SmtpText.forLog(request.get("request")));
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
        closeQuietly(key);
      }
    }
  }

  /** Collects the server's settings; {@link #start()} checks them and binds. Not thread-safe. */
  public static final class Builder {
    private InetSocketAddress listen = new InetSocketAddress("127.0.0.1", 10040);
    private final DomainTable.Builder<Route> routes = DomainTable.builder();
    private int maxConnections = 1000;
    private Duration idleTimeout = Duration.ofMinutes(10);
    private Duration requestTimeout = Duration.ofSeconds(10);

    private Builder() {}

    /** Where to listen (default 127.0.0.1:10040); port 0 picks a free one. */
    public Builder listen(InetSocketAddress listen) {
      this.listen = Objects.requireNonNull(listen, "listen");
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
     * Connections at once (default 1000); more are closed at once. Postfix opens one per {@code
     * smtpd} process that used the service ({@code default_process_limit}, 100, per front).
     */
    public Builder maxConnections(int maxConnections) {
      if (maxConnections < 1) {
        throw new IllegalArgumentException(
            "max connections cannot be less than 1, was " + maxConnections);
      }
      this.maxConnections = maxConnections;
      return this;
    }

    /** Close a connection without a request this long (default 10 min; Postfix's own is 300 s). */
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

    /**
     * Binds and starts serving.
     *
     * @throws IllegalArgumentException without a route
     * @throws IOException when the address cannot be bound
     */
    public PolicyServer start() throws IOException {
      routes.build(); // checks there is a route before binding
      return new PolicyServer(this);
    }
  }
}
