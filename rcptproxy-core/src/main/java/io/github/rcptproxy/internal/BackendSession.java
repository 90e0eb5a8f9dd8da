package io.github.rcptproxy.internal;

import static io.github.rcptproxy.internal.SessionFailure.SESSION_REFUSED;

import io.github.rcptproxy.BackendReply;
import io.github.rcptproxy.Verdict;
import io.github.rcptproxy.VerifierConfig;
import io.github.rcptproxy.internal.smtp.ClientSecurityException;
import io.github.rcptproxy.internal.smtp.MalformedReplyException;
import io.github.rcptproxy.internal.smtp.SessionRefusedException;
import io.github.rcptproxy.internal.smtp.SmtpConnection;
import io.github.rcptproxy.internal.smtp.SmtpReply;
import java.io.EOFException;
import java.io.IOException;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;

/**
 * One SMTP connection to the backend, greeted and EHLO'd, holding at most one open probe
 * transaction. Used by one thread at a time (the pool guarantees it). It only speaks and counts;
 * what a reply means is decided by {@link Backend}. Any I/O failure, timeout, malformed reply,
 * {@code 421}, or a decision of the caller ({@link #retire}) makes it not reusable: it is then
 * closed, never reused, since its state is unknown.
 */
public final class BackendSession {
  private static final byte[] RSET = "RSET\r\n".getBytes(StandardCharsets.US_ASCII);

  /** Greeted, introduced, secured; every read bounded by {@link #deadline}. */
  private final SmtpConnection connection;

  private final VerifierConfig config;
  private final Runnable onTransactionOpened;
  private final ProbeSender probeSender;

  /** The sender of the open transaction, and its first recipient. */
  private String openSender;

  private Mailbox firstRecipient;

  private Deadline deadline;
  private boolean usable = true;
  private boolean transactionOpen;

  /** Whether the backend accepted a recipient in the open transaction. */
  private boolean acceptedInTransaction;

  /** What the session has taken against the backend's limits, and what that teaches them. */
  private final LimitLearner learner;

  private final SessionLimits limits;
  private final VrfyRun vrfyRun = new VrfyRun();

  /**
   * Replies the backend still owed when the deadline ran out, and since when they were owed; the
   * replies to the same exchange it had given, where the session may serve again once it has them
   * all (null where not: it was not usable, or its RSET or MAIL was not answered).
   */
  private int owedReplies;

  private long owedSince;
  private List<SmtpReply> answeredBeforeTimeout;

  /** Where a session whose late replies came is offered to serve again; null: it is closed. */
  private final Consumer<BackendSession> onServableAgain;

  /**
   * Connects to the first backend address that answers, reads the greeting, introduces itself and
   * secures the session as configured, all within the deadline. Where an OPPORTUNISTIC handshake
   * failed, it connects once more, and that session goes in the clear.
   */
  BackendSession(
      Connector connector,
      VerifierConfig config,
      SessionLimits limits,
      ProbeSender probeSender,
      Deadline deadline,
      Runnable onTransactionOpened,
      Consumer<BackendSession> onServableAgain)
      throws IOException {
    this.config = config;
    this.onServableAgain = onServableAgain;
    this.probeSender = probeSender;
    this.onTransactionOpened = onTransactionOpened;
    this.learner = new LimitLearner(limits, config, config.clock().instant());
    this.limits = limits;
    this.deadline = deadline;
    this.connection = start(connector);
  }

  private byte[] mailFrom(String sender) {
    String command = "MAIL FROM:<" + sender + ">";
    return line(offers("SMTPUTF8") ? command + " SMTPUTF8" : command);
  }

  /**
   * The session's connection, or the verifier's failure: with REQUIRED or VERIFY nothing is ever
   * asked in the clear, and a backend without STARTTLS or a failed handshake fails the session with
   * {@link Verdict.Reason#TLS_FAILED}. A timeout, the handshake's too, is TIMEOUT as any other slow
   * step.
   */
  private SmtpConnection start(Connector connector) throws IOException {
    try {
      SmtpConnection.Timeout timeout = replyStarted -> deadline.socketTimeoutMillis();
      return SmtpConnection.open(
          () -> connector.connect(deadline, timeout), timeout, config, connector.security());
    } catch (SessionRefusedException e) {
      SmtpReply reply = e.reply();
      throw new SessionFailure(
          Verdict.Reason.BACKEND_UNAVAILABLE,
          e.command().isPresent() && reply.code() == 421,
          e.command().map(command -> "backend refused " + command).orElse(SESSION_REFUSED),
          backendReply(reply));
    } catch (IOException e) {
      throw translated(e);
    } catch (ClientSecurityException e) {
      throw failure(e);
    }
  }

  /** What the verifier answers when STARTTLS or AUTH failed. */
  private SessionFailure failure(ClientSecurityException e) {
    BackendReply reply = e.reply().map(BackendSession::backendReply).orElse(null);
    return switch (e.failure()) {
      case STARTTLS_NOT_OFFERED -> tlsFailure("the backend does not offer STARTTLS", reply, null);
      case STARTTLS_REFUSED -> tlsFailure("the backend refused STARTTLS", reply, null);
      case UNASKED_DATA ->
          tlsFailure("the backend sent data after its 220 to STARTTLS", reply, null);
      case HANDSHAKE_FAILED -> tlsFailure(e.getMessage(), reply, e); // "TLS handshake with ..."
      case NOT_ENCRYPTED ->
          new SessionFailure(
              Verdict.Reason.AUTH_FAILED,
              false,
              "the session is not encrypted (the backend offers no STARTTLS), so the password is not"
                  + " sent; allow it with authWithoutTls(true)",
              null);
      case AUTH_NOT_OFFERED ->
          new SessionFailure(Verdict.Reason.AUTH_FAILED, false, e.getMessage(), null);
      case AUTH_REFUSED ->
          new SessionFailure(
              reply.code() == 421
                  ? Verdict.Reason.BACKEND_UNAVAILABLE
                  : reply.code() >= 500
                      ? Verdict.Reason.AUTH_FAILED
                      : Verdict.Reason.TEMPORARY_FAILURE,
              false,
              "the backend did not accept AUTH as " + config.authUser().orElseThrow(),
              reply);
    };
  }

  private SessionFailure tlsFailure(String why, BackendReply reply, Throwable cause) {
    return new SessionFailure(
        Verdict.Reason.TLS_FAILED,
        why + "; tls is " + config.tls() + ", so nothing is asked in the clear",
        reply,
        cause);
  }

  boolean offers(String extension) {
    return connection.offers(extension);
  }

  /** The {@code 252}s this session answered that wait for a refusal after them. */
  VrfyRun vrfyRun() {
    return vrfyRun;
  }

  /** Called when a verification takes the session: what it does from here may teach limits. */
  void startUse() {
    learner.startUse(config.clock().instant());
  }

  /**
   * The backend ended this session during the current use: it is not reused, and what it had taken
   * before without trouble teaches the backend's limits ({@link LimitLearner#sessionEnded}).
   */
  void teachLimits() {
    usable = false;
    learner.sessionEnded();
  }

  /**
   * A follow-up RCPT found the session closed: the backend hung up right after the last reply it
   * gave, which {@link #teachLimits} then counts as an exchange it hung up after.
   */
  void hungUpAfterLastReply() {
    learner.hungUpAfterLastReply();
  }

  /**
   * Puts each address to the backend with {@code RCPT TO} in this session's probe transaction,
   * opening it first if needed, all in one write where the backend offers PIPELINING. A transaction
   * that could not take them all, and a control question after them, within {@code
   * maxRecipientsPerTransaction} is reset first ({@code RSET}, then {@code MAIL} again, in the same
   * write): the session carries on rather than being replaced.
   *
   * @param mayReset false for the control question (a known-good address after refusals): it is
   *     asked in the transaction of the refusals it is to explain, never after a reset, since a
   *     rule about the transaction (Exim's bad-recipient ratio) that refused them would not refuse
   *     it in a fresh one, and they would be taken for refusals of the mailboxes (batches leave
   *     room for it)
   * @throws SessionFailure if the transaction could not be opened ({@code MAIL FROM} refused)
   * @throws IOException if the session died before the first answer
   */
  Answers rcpt(List<Mailbox> mailboxes, Deadline deadline, boolean mayReset)
      throws IOException, InvalidAddressException {
    List<byte[]> commands = new ArrayList<>(mailboxes.size() + 2);
    boolean full = learner.transactionFull(mailboxes.size());
    String sender = probeSender.address();
    boolean reset =
        transactionOpen
            && mayReset
            && (!sender.equals(openSender) || config.transactionPerVerification() || full);
    boolean open = reset || !transactionOpen;
    if (reset) {
      commands.add(RSET);
    }
    if (open) {
      commands.add(mailFrom(sender));
    }
    int first = commands.size();
    for (Mailbox mailbox : mailboxes) {
      commands.add(mailbox.command("RCPT TO:", offers("SMTPUTF8")));
    }
    this.deadline = deadline;
    LimitLearner.Exchange exchange = learner.rcptExchange(reset, open);
    List<SmtpReply> replies;
    try {
      replies = send(commands, first);
    } catch (SocketTimeoutException e) {
      throw e;
    } catch (IOException e) {
      if (reset) {
        teachLimits(); // hung up on RSET: Exim counts it as a non-mail command
      }
      throw e;
    }
    if (reset) {
      transactionOpen = false;
      learner.transactionReset();
      if (replies.get(0).code() != 250) {
        // Never about an address: the session is at a limit (Exim: 554 too many nonmail commands)
        if (replies.get(0).code() != 421) {
          learner.answeredAfterRejection();
        }
        teachLimits();
        throw new SessionFailure(
            Verdict.Reason.BACKEND_UNAVAILABLE,
            true,
            "backend refused RSET",
            backendReply(replies.get(0)));
      }
    }
    if (open) {
      openTransaction(replies.get(first - 1), sender, mailboxes.get(0).domain());
      firstRecipient = mailboxes.get(0);
    }
    Answers answers = answers(replies.subList(first, replies.size()), mailboxes.size(), false);
    probeSender.answered(openSender, mailboxes, answers.replies());
    noteThrottling(exchange);
    return answers;
  }

  /** Asks {@code VRFY} for each address, one at a time (VRFY is not pipelined). */
  Answers vrfy(List<Mailbox> mailboxes, Deadline deadline)
      throws IOException, InvalidAddressException {
    List<byte[]> commands = new ArrayList<>(mailboxes.size());
    for (Mailbox mailbox : mailboxes) {
      commands.add(mailbox.command("VRFY ", false));
    }
    this.deadline = deadline;
    LimitLearner.Exchange exchange = learner.vrfyExchange();
    List<SmtpReply> replies = new ArrayList<>(commands.size());
    try {
      for (byte[] command : commands) {
        replies.add(exchange(command));
      }
    } catch (IOException e) {
      usable = false;
      if (replies.isEmpty() || e instanceof SocketTimeoutException) {
        throw e;
      }
    }
    Answers answers = answers(replies, mailboxes.size(), true);
    noteThrottling(exchange);
    return answers;
  }

  /**
   * A command answered slower than {@link SessionLimits#THROTTLED} after earlier rejections: the
   * backend is throttling this session for its errors ({@link LimitLearner#throttled}). Its answer
   * stands; the session is replaced.
   */
  private void noteThrottling(LimitLearner.Exchange exchange) {
    learner.answered(exchange, connection.remote());
    if (learner.throttled(exchange)) {
      usable = false;
    }
  }

  /**
   * Counts the replies and says whether the backend hung up before answering them all (then the
   * last reply it did give is about the session, not the address).
   */
  private Answers answers(List<SmtpReply> replies, int asked, boolean vrfy) {
    List<BackendReply> answers = new ArrayList<>(replies.size());
    for (SmtpReply reply : replies) {
      BackendReply answer = backendReply(reply);
      if (answer.code() == 421) {
        usable = false;
      }
      answers.add(answer);
    }
    boolean hungUp = answers.size() < asked;
    if (hungUp) {
      usable = false;
    }
    learner.counted(answers, vrfy, hungUp);
    return new Answers(answers, hungUp);
  }

  private void openTransaction(SmtpReply mail, String sender, String domain) throws SessionFailure {
    BackendReply reply = backendReply(mail);
    if (mail.code() == 250) {
      transactionOpen = true;
      acceptedInTransaction = false;
      openSender = sender;
      probeSender.mailAccepted(sender);
      onTransactionOpened.run();
      return;
    }
    usable = false; // the pipelined RCPTs were refused too, and counted as errors
    if (mail.code() == 421 || mail.code() == 503) {
      throw new SessionFailure(
          Verdict.Reason.BACKEND_UNAVAILABLE, true, "backend ended the session", reply);
    }
    if (refusesSessionNotSender(reply)) {
      throw new SessionFailure(
          Verdict.Reason.BACKEND_REFUSED,
          false,
          mail.code() == 530
              ? "backend requires STARTTLS or AUTH before MAIL (configure tls or auth)"
              : "backend refused MAIL for a reason other than the probe sender",
          reply);
    }
    boolean fallback = probeSender.mailRefused(sender, reply, domain);
    throw new SessionFailure(
        reply.isPermanentNegative()
            ? Verdict.Reason.SENDER_REJECTED
            : Verdict.Reason.TEMPORARY_FAILURE,
        fallback,
        fallback
            ? "backend refused the probe sender; asking again with " + probeSender.address()
            : "backend refused the probe sender",
        reply);
  }

  /**
   * Whether the backend's refusal of {@code recipient} in the open transaction may be about its
   * sender, and the question is to be asked again with the fallback ({@link ProbeSender}): the
   * session is then retired.
   *
   * @param unexplained whether nothing is known to explain the refusal (no address accepted yet, or
   *     a known-good address refused too): it counts where {@code recipient} was the first of its
   *     transaction, which no rule about the transaction (a bad-recipient ratio) refused
   */
  boolean senderRefused(Mailbox recipient, BackendReply refusal, boolean unexplained) {
    boolean first = unexplained && recipient.toString().equals(String.valueOf(firstRecipient));
    if (transactionOpen && probeSender.rcptRefused(openSender, refusal, recipient, first)) {
      usable = false;
      return true;
    }
    return false;
  }

  /**
   * A refusal of {@code MAIL} that is about this session, not the sender: {@code 530}, STARTTLS or
   * AUTH needed first (RFC 3207, RFC 4954; Postfix's {@code 530 5.7.0 Must issue a STARTTLS command
   * first}).
   */
  private static boolean refusesSessionNotSender(BackendReply reply) {
    return reply.code() == 530;
  }

  /** The backend accepted a recipient in the open transaction. */
  void acceptedInTransaction() {
    acceptedInTransaction = true;
  }

  /**
   * Whether the backend slows a session's replies after its errors: a command more after a refusal
   * would wait that long.
   */
  boolean slowsAfterErrors() {
    return limits.slowsAfterErrors();
  }

  /**
   * Whether the backend accepted a recipient in the open transaction: it does not refuse the probe
   * sender or this client wholesale, so a refusal with a mailbox code in it is about the mailbox.
   */
  boolean hasAcceptedInTransaction() {
    return transactionOpen && acceptedInTransaction;
  }

  /** Not reused: the caller learnt something that makes the session's state doubtful. */
  void retire() {
    usable = false;
  }

  /**
   * Whether the session may serve another verification: {@link #withinLimits} and the backend wrote
   * nothing unasked (typically its own idle-timeout {@code 421}, after which it hangs up); such a
   * session is retired. Costs no round trip.
   */
  boolean reusable(Instant now) {
    if (!withinLimits(now)) {
      return false;
    }
    try {
      if (connection.unaskedInput()) {
        usable = false;
      }
    } catch (IOException e) {
      usable = false;
    }
    return usable;
  }

  /** Not broken, within the backend's limits, not too old, not idle too long. No I/O at all. */
  boolean withinLimits(Instant now) {
    return usable && learner.withinLimits(now);
  }

  /**
   * How many recipients one RCPT batch may carry without reaching the backend's limits ({@link
   * LimitLearner#capacity}; a full transaction is reset by {@link #rcpt}).
   */
  int capacity() {
    return learner.capacity();
  }

  /** Marks the moment the session went back to the pool, for the idle timeout. */
  void idleFrom(Instant now) {
    learner.idleFrom(now);
  }

  /**
   * Says QUIT without waiting for the answer, and closes; only closes where the session is broken,
   * or where the backend would hold its answer back ({@link LimitLearner#mayQuit}).
   */
  void close() {
    vrfyRun.settleNone();
    if (owedReplies > 0) {
      int owed = owedReplies;
      owedReplies = 0;
      deadline = Deadline.after(LateReplies.WAIT); // each read of the owed replies waits that long
      LateReplies.await(
          connection, owed, owedSince, limits, config.deadline(), this::lateRepliesCame);
      return;
    }
    if (usable && learner.mayQuit()) {
      connection.quit();
    }
    connection.close();
  }

  /**
   * The replies owed came (on {@link LateReplies}' thread, which owns the session now): they are
   * counted, and a session that may serve again is offered to ({@code onServableAgain}); else it is
   * closed.
   */
  private void lateRepliesCame(List<SmtpReply> late) {
    List<SmtpReply> all = answeredBeforeTimeout;
    boolean servable = all != null && onServableAgain != null;
    if (servable) {
      all.addAll(late);
      List<BackendReply> replies = new ArrayList<>(all.size());
      for (SmtpReply reply : all) {
        replies.add(backendReply(reply));
        servable &= reply.code() != 421;
      }
      learner.counted(replies, false, false);
    }
    if (servable && learner.withinLimits(config.clock().instant())) {
      usable = true;
      onServableAgain.accept(this);
      return;
    }
    connection.quit();
    connection.close();
  }

  @Override
  public String toString() {
    return "session " + connection;
  }

  /**
   * Sends the commands in one write where the backend offers PIPELINING, and reads each reply.
   * Without pipelining they go one by one, and a failure among the first {@code prefix} commands
   * (RSET, MAIL) stops the rest. If the backend hangs up after some replies, those are returned.
   */
  private List<SmtpReply> send(List<byte[]> commands, int prefix) throws IOException {
    long started = System.nanoTime();
    boolean wasUsable = usable;
    List<SmtpReply> replies = new ArrayList<>(commands.size());
    try {
      if (commands.size() > 1 && offers("PIPELINING")) {
        write(commands);
        for (int i = 0; i < commands.size(); i++) {
          replies.add(read());
        }
        return replies;
      }
      for (int i = 0; i < commands.size(); i++) {
        SmtpReply reply = exchange(commands.get(i));
        replies.add(reply);
        if (i < prefix && reply.code() >= 400) {
          return replies;
        }
      }
      return replies;
    } catch (IOException e) {
      usable = false;
      if (e instanceof SocketTimeoutException) {
        owedReplies = commands.size() - replies.size();
        owedSince = started;
        answeredBeforeTimeout =
            wasUsable && replies.size() >= prefix
                ? new ArrayList<>(replies.subList(prefix, replies.size()))
                : null;
      }
      if (replies.size() <= prefix || e instanceof SocketTimeoutException) {
        throw e; // a timeout is not a hang-up: the replies still owed are late, not refused
      }
      return replies;
    }
  }

  private void write(List<byte[]> commands) throws IOException {
    try {
      connection.write(commands);
    } catch (IOException e) {
      usable = false;
      if (!(e instanceof SocketTimeoutException)) {
        learner.ended(); // the backend hung up
      }
      throw e;
    }
  }

  private SmtpReply exchange(byte[] command) throws IOException {
    write(List.of(command));
    return read();
  }

  /**
   * The next reply; a malformed one is a {@link Verdict.Reason#PROTOCOL_ERROR}, the end of the
   * stream a backend that closed the session.
   */
  private SmtpReply read() throws IOException {
    try {
      return connection.read();
    } catch (IOException e) {
      usable = false;
      if (e instanceof EOFException) {
        learner.ended(); // the backend hung up
      }
      throw translated(e);
    }
  }

  /**
   * A malformed reply is a {@link Verdict.Reason#PROTOCOL_ERROR}, the end of the stream a hang-up.
   */
  private static IOException translated(IOException e) {
    if (e instanceof MalformedReplyException) {
      return SessionFailure.protocolError(e.getMessage());
    }
    return e instanceof EOFException ? SessionFailure.closedByBackend() : e;
  }

  /** The reply as the verifier reports it: code, enhanced status code, text safe for logs. */
  public static BackendReply backendReply(SmtpReply reply) {
    return new BackendReply(reply.code(), reply.enhancedStatus(), reply.text());
  }

  private static byte[] line(String command) {
    try {
      return Mailbox.encodeLine(command, false);
    } catch (InvalidAddressException e) {
      // Configuration values are validated on build(); this cannot happen.
      throw new IllegalStateException(command + ": " + e.getMessage(), e);
    }
  }

  /**
   * The backend's replies to the addresses asked, in order; fewer than asked if it hung up.
   *
   * @param hungUp whether the backend closed the session before answering every address
   */
  record Answers(List<BackendReply> replies, boolean hungUp) {}
}
