package io.github.rcptproxy.gateway.relay;

import io.github.rcptproxy.BackendProtocol;
import io.github.rcptproxy.VerifierConfig;
import io.github.rcptproxy.gateway.front.Envelope;
import io.github.rcptproxy.internal.Connector;
import io.github.rcptproxy.internal.Deadline;
import io.github.rcptproxy.internal.smtp.ClientSecurity;
import io.github.rcptproxy.internal.smtp.ClientSecurityException;
import io.github.rcptproxy.internal.smtp.SessionRefusedException;
import io.github.rcptproxy.internal.smtp.SmtpConnection;
import io.github.rcptproxy.internal.smtp.SmtpReply;
import io.github.rcptproxy.internal.smtp.SmtpText;
import java.io.BufferedInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZonedDateTime;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.subethamail.smtp.RejectException;

/**
 * Hands one message to the backend while the client waits: the client hears {@code 250} only after
 * the backend said it, for exactly the recipients the client was told {@code 250} for. The message
 * is received whole first ({@link Spool}), so a client sending slowly holds no backend connection;
 * then a connection is taken from the relay's own pool ({@link RelayConnections}, apart from the
 * verifier's sessions), the envelope is given again and, only if the backend accepts every
 * recipient, the message follows. A recipient the backend refuses now (it had accepted it at
 * verification) tempfails the whole message, nothing of it delivered, and is remembered: the
 * client's retry hears the backend's answer for it at {@code RCPT} ({@link #check}), and its
 * co-recipients go through. A backend that takes only so many recipients per message ({@code 452}
 * past them, RFC 5321 §4.5.3.1.10) is learnt from: clients are told {@code 452} past that number,
 * so they send the rest in another transaction, as RFC 5321 asks of them.
 *
 * <p>Every line of the body is dot-stuffed, and a message with a bare CR or LF (one not in a CRLF
 * pair, RFC 5321 §2.3.8) or a last line without CRLF (BDAT; RFC 3030 §2: lines end in CRLF) is
 * refused, never repaired, before the backend is asked to take it: no reading of bare line ends,
 * the backend's or a later hop's, can end the message early and smuggle in a second one.
 *
 * <p>It speaks to the backend as the verifier does: STARTTLS, AUTH and LMTP as configured, once per
 * connection. With TLS {@code REQUIRED} or {@code VERIFY} nothing of the message leaves in the
 * clear; a backend without STARTTLS, or a failed handshake, tempfails the message. With {@code
 * OPPORTUNISTIC} a failed handshake is retried in the clear on a new connection, as the verifier
 * does. Over LMTP the backend answers the end of data once per recipient; the front gives an LMTP
 * relay one recipient per message ({@link #oneRecipientPerMessage()}), so that reply is exactly
 * that recipient's.
 */
public final class SmtpRelay implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(SmtpRelay.class);

  /** RFC 5321 §4.5.3.2.6: a client waits 10 minutes for the reply to the end of data. */
  public static final Duration DATA_END = Duration.ofMinutes(10);

  /** Cuts a write to the backend that takes longer than the relay timeout (a stalled reader). */
  private static final ScheduledExecutorService WATCHDOG =
      Executors.newSingleThreadScheduledExecutor(
          r -> {
            Thread thread = new Thread(r, "rcptproxy-relay-watchdog");
            thread.setDaemon(true);
            return thread;
          });

  /** The configured hosts, for logs. */
  private final String backend;

  /** Its own breaker, over the same hosts in the same order as the verifier's. */
  private final Connector connector;

  private final VerifierConfig config;
  private final Duration timeout;
  private final ClientSecurity security;
  private final boolean lmtp;
  private final String authUser;
  private final RelayConnections connections;
  private volatile RelayMemory memory = new RelayMemory(Clock.systemUTC());
  private volatile SharedRelayMemory shared;

  /**
   * Relays to the first backend of the configuration that answers, in their order, with its TLS,
   * AUTH and protocol: the verifier's {@link Connector}, so a host that does not answer a connect
   * or does not greet within the connect timeout is skipped for the cool-down. {@code timeout}
   * bounds reaching a backend (all hosts tried), the TLS handshake, each reply but the one to the
   * end of data (which gets RFC 5321's 10 minutes, or {@code timeout} if longer), and the wait for
   * one of the {@code maxConnections} connections when all are busy.
   */
  public SmtpRelay(VerifierConfig config, Duration timeout, int maxConnections) {
    if (config.backends().isEmpty()) {
      throw new IllegalArgumentException("no backend to relay to");
    }
    this.backend =
        config.backends().stream()
            .map(b -> b.getHostString() + ":" + b.getPort())
            .collect(Collectors.joining(","));
    this.connector = new Connector(config);
    this.config = config;
    this.timeout = timeout;
    this.security = connector.security();
    this.lmtp = config.protocol() == BackendProtocol.LMTP;
    this.authUser = config.authUser().orElse(null);
    this.connections = new RelayConnections(this::connect, maxConnections);
  }

  /**
   * Keeps what {@code before} learnt of the backend, where it relays to the same hosts: a reload
   * does not forget a recipient limit or a refused recipient.
   */
  void learntFrom(SmtpRelay before) {
    if (before.backend.equals(backend)) {
      memory = before.memory;
    }
  }

  /**
   * From now on, a recipient limit or a refused pair learnt here is handed on to {@code shared},
   * and this relay's breaker is the fleet's ({@link SharedRelayMemory#breaker}).
   */
  void shareWith(SharedRelayMemory shared) {
    this.shared = shared;
    connector.shareWith(shared.breaker());
  }

  /** Another gateway's relay was refused a pair: kept if it is this relay's backend's. */
  void heardRefused(String backend, String from, String recipient, Instant until) {
    if (this.backend.equals(backend)) {
      memory.heardRefused(from, recipient, until);
    }
  }

  /**
   * The backend refused {@code recipient} of mail from {@code from} although verified (or accepted
   * it, {@code refused} false): remembered here, and a refusal handed on to the fleet.
   */
  private void refused(String from, String recipient, boolean refused) {
    Instant until = memory.refused(from, recipient, refused);
    SharedRelayMemory fleet = shared;
    if (until != null && fleet != null) {
      fleet.refused(backend, from, recipient, until);
    }
  }

  /** Another gateway learnt a recipient limit: kept if it is this relay's backend's. */
  void heard(String backend, int limit, Instant until) {
    if (this.backend.equals(backend)) {
      memory.heard(limit, until);
    }
  }

  /**
   * Whether each message may have only one recipient: over LMTP the backend answers each recipient
   * separately after DATA, and a client can be told only one answer for the whole message. With one
   * recipient per message that answer is the recipient's own: a refusal tempfails or bounces
   * exactly that recipient, and a delivered copy is never sent twice.
   */
  boolean oneRecipientPerMessage() {
    return lmtp;
  }

  /** The recipients per message the backend was seen to take; {@code MAX_VALUE} if unknown. */
  int recipientLimit() {
    return memory.recipientLimit();
  }

  /**
   * Whether the backend refused {@code recipient} of mail from {@code from} at relay time within
   * the last hour: its verdict then says nothing about this sender's mail, {@link #check} does.
   */
  boolean refusedAtRelay(String from, String recipient) {
    return memory.refused(from, recipient);
  }

  /**
   * Asks the backend whether it takes {@code recipient} in a transaction like the client's (its
   * sender and parameters, its trace), then ends that transaction: for a recipient the verifier
   * could not settle, so that the client hears the backend's own answer for this message. It takes
   * at most what the verifier left of its deadline ({@code spent} of it), once a connection is
   * there; with nothing left the backend is not asked again ({@code 451 4.4.2}).
   *
   * @throws RejectException the backend's refusal, in its class and with its enhanced status code
   *     (the text is generic); {@code 451} when the backend cannot be asked
   */
  void check(Envelope envelope, String recipient, Duration spent) throws RejectException {
    Duration budget = config.deadline().minus(spent);
    if (budget.isNegative() || budget.isZero()) {
      LOG.info(
          "<{}>: the verifier used the deadline, the backend is not asked again",
          SmtpText.forLog(recipient));
      throw timedOut();
    }
    Deadline deadline = Deadline.after(budget);
    Transaction transaction =
        begin(
            envelope,
            List.of(recipient),
            deadline.remaining(),
            r -> deadline.socketTimeoutMillis());
    SmtpReply reply = transaction.recipients().get(0);
    boolean accepted = reply.code() / 100 == 2;
    transaction.connection().abandoned(accepted ? 0 : 1);
    connections.release(transaction.connection());
    refused(envelope.from(), recipient, !accepted);
    if (!accepted) {
      LOG.info(
          "backend {} refused <{}> from <{}>: {}",
          backend,
          SmtpText.forLog(recipient),
          SmtpText.forLog(envelope.from()),
          reply);
      throw refusal(reply, "recipient");
    }
  }

  /**
   * Receives the client's message whole, dot-stuffed, before any backend connection is taken.
   *
   * @throws RejectException a bare CR or LF ({@code 554}), or no room to keep the message ({@code
   *     452})
   * @throws IOException the client's side failed (gone, too slow, or too much data)
   */
  static Spool receive(InputStream body) throws RejectException, IOException {
    Path spoolDirectory = Path.of(System.getProperty("java.io.tmpdir"));
    try {
      return Spool.receive(body, spoolDirectory);
    } catch (BareLineEndException e) {
      LOG.info("message refused, not relayed: {}", e.getMessage());
      throw bareLineEnd();
    } catch (ClientDataException e) {
      throw e.getCause(); // SubEthaSMTP answers for the client's side
    } catch (IOException e) {
      LOG.error("cannot keep a message in {}: {}", spoolDirectory, e.toString());
      throw new RejectException(452, "4.3.1 Insufficient system storage, try again later");
    }
  }

  /**
   * Relays the received message to every recipient, with the client's {@code Received:} header on
   * top, and returns the backend's reply to it, on one line safe for logs. What the backend says is
   * logged; the client hears only generic texts with the backend's reply class and enhanced status
   * code, never its host names or software.
   *
   * @throws RejectException a {@code 5xx} when the backend refused the sender or the message, else
   *     a {@code 4xx} (the backend unreachable, busy, failing at greeting, or refusing a recipient
   *     it had accepted at verification time: nothing is delivered then)
   */
  String relay(Envelope envelope, Spool message) throws RejectException {
    if (lmtp && envelope.recipients().size() != 1) {
      // a reload turned the relay to LMTP while the message came in
      LOG.warn("an LMTP relay takes one recipient per message: tempfailed");
      throw new RejectException(451, "4.3.0 Mail system being reconfigured, try again later");
    }
    Transaction transaction =
        begin(envelope, envelope.recipients(), timeout, SmtpConnection.Timeout.eachReply(timeout));
    RelayConnection connection = transaction.connection();
    try {
      refuseUnlessAllAccepted(envelope, transaction);
      SmtpReply data = connection.smtp.send("DATA");
      if (data.code() != 354) {
        connection.abandoned(0);
      }
      expect(data, "message", data.code() == 354);
      send(envelope, message, connection.smtp);
      // LMTP: one reply per accepted recipient, and there is exactly one: the recipient's own.
      SmtpReply done =
          connection.smtp.read(SmtpConnection.Timeout.eachReply(max(DATA_END, timeout)));
      connection.completed();
      expect(done, "message", done.code() / 100 == 2);
      return done.toString();
    } catch (SocketTimeoutException e) {
      connection.broken();
      LOG.warn("backend {} timed out: {}", backend, e.getMessage());
      throw timedOut();
    } catch (IOException | RuntimeException e) {
      connection.broken();
      LOG.warn("backend {} failed: {}", backend, e.toString());
      throw unavailable();
    } finally {
      connections.release(connection);
    }
  }

  /**
   * The {@code Received:} header, the message and its end of data, all within the relay timeout: a
   * backend that stops reading has its connection closed under the write.
   */
  private void send(Envelope envelope, Spool message, SmtpConnection smtp) throws IOException {
    ScheduledFuture<?> cut =
        WATCHDOG.schedule(smtp::close, timeout.toMillis(), TimeUnit.MILLISECONDS);
    try {
      OutputStream out = smtp.out();
      out.write(
          envelope
              .trace()
              .receivedHeader(envelope.recipients(), ZonedDateTime.now())
              .getBytes(StandardCharsets.UTF_8));
      message.copyTo(out);
      out.write(".\r\n".getBytes(StandardCharsets.US_ASCII));
      out.flush();
    } finally {
      cut.cancel(false);
    }
  }

  /**
   * Stops reusing connections; those in use are closed when their message is done, those greeted
   * late at once.
   */
  @Override
  public void close() {
    connections.close();
    connector.close();
  }

  /** A connection with a transaction open: the backend's replies to each recipient. */
  private record Transaction(RelayConnection connection, List<SmtpReply> recipients) {}

  /**
   * Opens a transaction for {@code recipients} on a pooled connection. A connection the backend
   * ended while it lay idle (or past its own limit of messages per connection: {@code 421}) fails
   * before anything is delivered: then the idle ones are dropped and a new connection tried once.
   */
  private Transaction begin(
      Envelope envelope, List<String> recipients, Duration wait, SmtpConnection.Timeout replies)
      throws RejectException {
    Deadline borrowing = Deadline.after(wait);
    for (int attempt = 1; ; attempt++) {
      RelayConnection connection;
      try {
        connection = connections.borrow(borrowing.remaining());
      } catch (IOException e) {
        LOG.warn("backend {} failed: {}", backend, e.getMessage());
        throw unavailable();
      }
      try {
        return new Transaction(connection, open(connection, envelope, recipients, replies));
      } catch (RejectException e) {
        connection.abandoned(0);
        connections.release(connection);
        throw e;
      } catch (SocketTimeoutException e) {
        connection.broken();
        connections.release(connection);
        LOG.warn("backend {} timed out: {}", backend, e.getMessage());
        throw timedOut();
      } catch (IOException e) {
        connection.broken();
        connections.release(connection);
        if (attempt == 2) {
          LOG.warn("backend {} failed: {}", backend, e.getMessage());
          throw unavailable();
        }
        connections.dropIdle();
      } catch (RuntimeException e) {
        connection.broken();
        connections.release(connection);
        LOG.error("relaying to backend {} failed", backend, e);
        throw unavailable();
      }
    }
  }

  /**
   * RSET (where the connection's last transaction was abandoned), XFORWARD (where offered), MAIL
   * and the RCPTs, pipelined where the backend offers it: the replies to the RCPTs.
   *
   * @throws RejectException the backend refused the sender
   * @throws IOException the backend is closing ({@code 421}) or gone
   */
  private List<SmtpReply> open(
      RelayConnection connection,
      Envelope envelope,
      List<String> recipients,
      SmtpConnection.Timeout timeout)
      throws IOException, RejectException {
    SmtpConnection smtp = connection.smtp;
    boolean reset = connection.resetDue();
    List<String> commands = new ArrayList<>();
    if (reset) {
      commands.add("RSET");
    }
    commands.addAll(xforward(smtp, envelope));
    int mail = commands.size();
    commands.add(mailCommand(envelope, smtp.extensions().keySet()));
    recipients.forEach(recipient -> commands.add("RCPT TO:<" + recipient + ">"));
    List<SmtpReply> replies = exchange(smtp, commands, mail, timeout);
    if (reset && replies.get(0).code() != 250) {
      throw new IOException("backend answered RSET with " + replies.get(0));
    }
    connection.completed(); // reset, or nothing to reset
    for (int i = reset ? 1 : 0; i < mail; i++) {
      if (replies.get(i).code() / 100 != 2) {
        LOG.warn("backend refused {}: {}", commands.get(i), replies.get(i));
      }
    }
    for (SmtpReply reply : replies) {
      if (reply.code() == 421) {
        throw new IOException("backend is closing the connection: " + reply);
      }
    }
    SmtpReply sender = replies.get(mail);
    expect(sender, "sender", sender.code() / 100 == 2);
    return replies.subList(mail + 1, replies.size());
  }

  /**
   * Sends the commands and reads a reply to each; pipelined (RFC 2920) where the backend offers it,
   * else one by one, stopping at a refused MAIL (command {@code mail}).
   */
  private static List<SmtpReply> exchange(
      SmtpConnection connection, List<String> commands, int mail, SmtpConnection.Timeout timeout)
      throws IOException {
    List<SmtpReply> replies = new ArrayList<>();
    if (connection.offers("PIPELINING")) {
      List<byte[]> lines = new ArrayList<>();
      for (String command : commands) {
        lines.add(commandLine(command));
      }
      connection.write(lines);
      for (int i = 0; i < commands.size(); i++) {
        replies.add(connection.read(timeout));
      }
      return replies;
    }
    for (int i = 0; i < commands.size(); i++) {
      connection.write(List.of(commandLine(commands.get(i))));
      SmtpReply reply = connection.read(timeout);
      replies.add(reply);
      if (i == mail && reply.code() / 100 != 2) {
        break;
      }
    }
    return replies;
  }

  private static byte[] commandLine(String command) {
    if (command.indexOf('\r') >= 0 || command.indexOf('\n') >= 0) {
      throw new IllegalArgumentException("a command line must not hold CR or LF");
    }
    return (command + "\r\n").getBytes(StandardCharsets.UTF_8);
  }

  /** The XFORWARD commands for the client, for a backend that offers it. */
  private static List<String> xforward(SmtpConnection connection, Envelope envelope) {
    String offered = connection.extensions().get("XFORWARD");
    if (offered == null) {
      return List.of();
    }
    Set<String> attributes =
        Arrays.stream(offered.toUpperCase(Locale.ROOT).split(" +"))
            .filter(attribute -> !attribute.isEmpty())
            .collect(Collectors.toSet());
    return envelope.trace().xforward(attributes);
  }

  /**
   * Goes on only if the backend accepted every recipient the client was told {@code 250} for.
   * Otherwise nothing is delivered (the connection's next use starts with RSET), the client is told
   * {@code 451}, and every refusal is learnt from for the client's retry.
   */
  private void refuseUnlessAllAccepted(Envelope envelope, Transaction transaction)
      throws RejectException {
    List<SmtpReply> replies = transaction.recipients();
    int refused = 0;
    for (int i = 0; i < replies.size(); i++) {
      SmtpReply reply = replies.get(i);
      if (reply.code() / 100 == 2) {
        continue;
      }
      refused++;
      if (refused == 1 && tooManyRecipients(reply, i)) {
        Instant until = memory.recipientLimit(i);
        SharedRelayMemory fleet = shared;
        if (fleet != null) {
          fleet.learnt(backend, i, until);
        }
        LOG.warn(
            "backend {} takes {} recipients per message ({}): clients are now told 452 past that",
            backend,
            i,
            reply);
        transaction.connection().abandoned(0);
        throw new RejectException(
            451, "4.5.3 Too many recipients for one message, try again later");
      }
      String recipient = envelope.recipients().get(i);
      refused(envelope.from(), recipient, true);
      LOG.warn(
          "backend {} refused <{}> at relay time: {}; the client's retry is told the backend's"
              + " answer for it",
          backend,
          SmtpText.forLog(recipient),
          reply);
    }
    if (refused > 0) {
      transaction.connection().abandoned(refused);
      throw new RejectException(451, "4.3.0 Recipient not accepted now, try again later");
    }
  }

  /**
   * RFC 5321 §4.5.3.1.10: {@code 452} to a recipient after others were accepted, with Postfix's
   * enhanced {@code 4.5.3} or, without an enhanced code, saying so (Exim's {@code 452 too many
   * recipients}), is "too many recipients", not about this one. A {@code 452} for storage, a {@code
   * 5.5.3} for a multi-recipient bounce and the like teach nothing.
   */
  private static boolean tooManyRecipients(SmtpReply reply, int accepted) {
    String status = reply.enhancedStatus();
    return accepted > 0
        && reply.code() == 452
        && (status.equals("4.5.3")
            || status.isEmpty()
                && reply.toString().toLowerCase(Locale.ROOT).contains("too many recipients"));
  }

  private static Duration max(Duration a, Duration b) {
    return a.compareTo(b) >= 0 ? a : b;
  }

  /**
   * A connection to the backend, greeted, secured and authenticated as configured (where TLS is
   * required, a backend without it never gets the message in the clear). Where an OPPORTUNISTIC
   * handshake failed, a second connection goes in the clear. Replies are read by the one strict
   * reader (anything malformed counts as a failed backend), each within the timeout however slowly
   * it trickles in.
   */
  private SmtpConnection connect() throws IOException, RejectException {
    try {
      SmtpConnection.Timeout eachReply = SmtpConnection.Timeout.eachReply(timeout);
      return SmtpConnection.open(
          () -> connector.connect(Deadline.after(timeout), eachReply), eachReply, config, security);
    } catch (SessionRefusedException e) {
      // The backend refusing the gateway is the gateway's problem: the client should retry.
      LOG.warn("backend {} refused {}: {}", backend, e.command().orElse("the gateway"), e.reply());
      throw unavailable();
    } catch (ClientSecurityException e) {
      switch (e.failure()) {
        case STARTTLS_NOT_OFFERED ->
            LOG.warn("backend {} does not offer STARTTLS, which is required: not relayed", backend);
        case STARTTLS_REFUSED ->
            LOG.warn("backend {} refused STARTTLS: {}", backend, e.reply().orElseThrow());
        case UNASKED_DATA ->
            LOG.warn("backend {} sent data after its 220 to STARTTLS: not relayed", backend);
        case HANDSHAKE_FAILED ->
            LOG.warn(
                "TLS handshake with backend {} failed: {}", backend, e.getCause().getMessage());
        case NOT_ENCRYPTED ->
            LOG.warn(
                "backend {} session is not encrypted: the password is not sent; not relayed",
                backend);
        case AUTH_NOT_OFFERED ->
            LOG.warn("backend {} offers neither AUTH PLAIN nor LOGIN: not relayed", backend);
        case AUTH_REFUSED ->
            LOG.warn(
                "backend {} did not accept AUTH as {}: {}",
                backend,
                authUser,
                e.reply().orElseThrow());
      }
      throw unavailable();
    }
  }

  /** MAIL with exactly the parameters the client gave, if the backend can take them. */
  private static String mailCommand(Envelope envelope, Set<String> extensions)
      throws RejectException {
    StringBuilder mail = new StringBuilder("MAIL FROM:<").append(envelope.from()).append('>');
    if (envelope.smtputf8()) {
      if (!extensions.contains("SMTPUTF8")) {
        throw new RejectException(554, "5.6.7 SMTPUTF8 mail cannot be delivered here");
      }
      mail.append(" SMTPUTF8");
    }
    if (envelope.eightBitMime()) {
      if (!extensions.contains("8BITMIME")) {
        throw new RejectException(554, "5.6.3 8-bit mail cannot be delivered here");
      }
      mail.append(" BODY=8BITMIME");
    }
    return mail.toString();
  }

  static RejectException timedOut() {
    return new RejectException(451, "4.4.2 Mail system timed out, try again later");
  }

  static RejectException unavailable() {
    return new RejectException(451, "4.4.1 Mail system unavailable, try again later");
  }

  /**
   * Copies the body, doubling a leading dot, up to a bare CR or LF, which ends it with a {@link
   * BareLineEndException} (what was written by then holds no end of data). So does a last line
   * without its CRLF (BDAT): refused, never given one.
   */
  public static void writeDotStuffed(InputStream body, OutputStream out) throws IOException {
    InputStream in = body.markSupported() ? body : new BufferedInputStream(body);
    boolean lineStart = true;
    long offset = 0;
    int b;
    while ((b = readClient(in)) >= 0) {
      if (b == '\n') {
        throw new BareLineEndException("bare LF at byte " + offset);
      }
      if (b == '\r') {
        if (readClient(in) != '\n') {
          throw new BareLineEndException("bare CR at byte " + offset);
        }
        offset += 2;
        out.write('\r');
        out.write('\n');
        lineStart = true;
        continue;
      }
      if (lineStart && b == '.') {
        out.write('.');
      }
      out.write(b);
      offset++;
      lineStart = false;
    }
    if (!lineStart) {
      throw new BareLineEndException("last line without CRLF at byte " + offset);
    }
  }

  private static int readClient(InputStream in) throws ClientDataException {
    try {
      return in.read();
    } catch (IOException e) {
      throw new ClientDataException(e);
    }
  }

  /**
   * The client's message has a bare CR or LF, or a last line without CRLF: refused for good (resent
   * as it is, it would be refused again). 554 is RFC 5321's permanent failure of a transaction
   * after the end of data, as for every message refused here; 5.6.0 (RFC 3463: the content of the
   * message, no more specific code fits) rather than Postfix's 521 5.5.2, as the message did end
   * where the client meant and the session goes on.
   */
  static RejectException bareLineEnd() {
    return new RejectException(
        554,
        "5.6.0 Message refused: a line not ended by CRLF (a bare CR or LF, or none at the end)");
  }

  /** The client's data has a CR or LF that is not part of a CRLF pair, or ends without CRLF. */
  public static final class BareLineEndException extends IOException {
    BareLineEndException(String message) {
      super(message);
    }
  }

  /** Reading the client's data failed: not the backend's fault. */
  private static final class ClientDataException extends IOException {
    ClientDataException(IOException cause) {
      super(cause);
    }

    @Override
    public synchronized IOException getCause() {
      return (IOException) super.getCause();
    }
  }

  /** Passes on a positive reply; logs any other and throws its {@link #refusal}. */
  private void expect(SmtpReply reply, String what, boolean positive) throws RejectException {
    if (!positive) {
      LOG.warn("backend {} refused the {}: {}", backend, what, reply);
      throw refusal(reply, what);
    }
  }

  /**
   * A refusal turned into a generic one of the same class, with the backend's enhanced status code
   * if it had a valid one: its text stays in the log.
   */
  private RejectException refusal(SmtpReply reply, String what) {
    int code = reply.code();
    if (code == 530) {
      // STARTTLS or AUTH needed: the gateway's configuration, not the client's message
      LOG.warn(
          "backend {} requires STARTTLS or AUTH: set --backend-tls / --backend-auth-user", backend);
      return unavailable();
    }
    boolean permanent = code >= 500;
    String status =
        !reply.enhancedStatus().isEmpty() ? reply.enhancedStatus() : permanent ? "5.0.0" : "4.0.0";
    String subject = Character.toUpperCase(what.charAt(0)) + what.substring(1);
    if (permanent) {
      return new RejectException(code, status + " " + subject + " rejected");
    }
    // 421 would tell the client that we are closing; we are not.
    return new RejectException(
        code >= 400 && code != 421 ? code : 451,
        status + " " + subject + " not accepted now, try again later");
  }
}
