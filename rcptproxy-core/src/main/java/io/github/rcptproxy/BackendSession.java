package io.github.rcptproxy;

import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.concurrent.ThreadLocalRandom;

/**
 * One SMTP connection to the backend, greeted and EHLO'd, holding at most one open probe
 * transaction. Used by one thread at a time (the pool guarantees it). Any I/O failure, timeout,
 * malformed reply or {@code 421} makes it not {@linkplain #reusable reusable}: it is then closed,
 * never reused, since its state is unknown.
 */
final class BackendSession {
  private static final byte[] RSET = "RSET\r\n".getBytes(StandardCharsets.US_ASCII);
  private static final byte[] QUIT = "QUIT\r\n".getBytes(StandardCharsets.US_ASCII);

  private final Socket socket;
  private final OutputStream out;
  private final ReplyReader reader;
  private final VerifierConfig config;
  private final Runnable onTransactionOpened;
  private final Instant createdAt;
  private final Set<String> extensions = new HashSet<>();
  private byte[] mailFrom;
  private Deadline deadline;
  private Instant lastUsed;
  private boolean usable = true;
  private boolean used;
  private boolean transactionOpen;
  private int recipientsInTransaction;
  private int rejections;
  private int vrfyCommands;

  private BackendSession(Socket socket, VerifierConfig config, Runnable onTransactionOpened)
      throws IOException {
    this.socket = socket;
    this.out = socket.getOutputStream();
    this.reader =
        new ReplyReader(
            socket.getInputStream(), () -> socket.setSoTimeout(deadline.socketTimeoutMillis()));
    this.config = config;
    this.onTransactionOpened = onTransactionOpened;
    this.createdAt = config.clock().instant();
    this.lastUsed = createdAt;
  }

  /** Connects, reads the greeting and introduces itself, all within the deadline. */
  static BackendSession open(
      InetSocketAddress address,
      VerifierConfig config,
      Deadline deadline,
      Runnable onTransactionOpened)
      throws IOException {
    Socket socket = new Socket();
    try {
      socket.setTcpNoDelay(true);
      int connectMillis =
          (int) Math.min(config.connectTimeout().toMillis(), deadline.socketTimeoutMillis());
      socket.connect(address, connectMillis);
      BackendSession session = new BackendSession(socket, config, onTransactionOpened);
      session.greet(deadline);
      return session;
    } catch (IOException | RuntimeException e) {
      socket.close();
      throw e;
    }
  }

  private void greet(Deadline deadline) throws IOException {
    this.deadline = deadline;
    ReplyReader.Reply greeting = reader.read();
    if (greeting.code() != 220) {
      throw new SessionFailure(
          Verdict.Reason.BACKEND_UNAVAILABLE,
          false,
          "backend refused the session",
          greeting.toBackendReply());
    }
    ReplyReader.Reply ehlo = exchange(line("EHLO " + config.heloName()));
    if (ehlo.code() == 250) {
      for (int i = 1; i < ehlo.lines().size(); i++) {
        String keyword = ehlo.lines().get(i).split(" ", 2)[0];
        extensions.add(keyword.toUpperCase(Locale.ROOT));
      }
    } else if (ehlo.code() >= 500 && ehlo.code() != 554) {
      ReplyReader.Reply helo = exchange(line("HELO " + config.heloName()));
      requireCode(helo, 250, "HELO");
    } else {
      requireCode(ehlo, 250, "EHLO");
    }
    String sender = "MAIL FROM:<" + config.probeSender() + ">";
    mailFrom = line(offers("SMTPUTF8") ? sender + " SMTPUTF8" : sender);
  }

  boolean offers(String extension) {
    return extensions.contains(extension);
  }

  /**
   * Puts the recipients to the backend with {@code RCPT TO} in this session's open transaction,
   * opening one first if needed, all in one write where the backend offers PIPELINING, and returns
   * the backend's reply to each, in order. An entry is null where the backend would not answer in
   * this session ({@code 452} too many recipients, {@code 503}, {@code 421}): ask again on a fresh
   * one. Keep a batch within {@link #capacity()} so the backend's error limits are never reached.
   *
   * @throws InvalidAddressException if an address cannot be written (nothing was sent)
   * @throws SessionFailure if the transaction could not be opened, the session died before the
   *     first answer, or the first answer asks for a fresh session
   */
  BackendReply[] rcpt(List<Mailbox> mailboxes, Deadline deadline)
      throws IOException, InvalidAddressException {
    int count = mailboxes.size();
    byte[][] rcpts = new byte[count][];
    for (int i = 0; i < count; i++) {
      rcpts[i] = mailboxes.get(i).command("RCPT TO:", offers("SMTPUTF8"));
    }
    boolean reset = transactionOpen && config.transactionPerVerification();
    boolean open = !transactionOpen || reset;
    int prefix = (reset ? 1 : 0) + (open ? 1 : 0);
    byte[][] commands = new byte[prefix + count][];
    if (reset) {
      commands[0] = RSET;
    }
    if (open) {
      commands[prefix - 1] = mailFrom;
    }
    System.arraycopy(rcpts, 0, commands, prefix, count);
    this.deadline = deadline;
    try {
      used = true;
      ReplyReader.Reply[] replies = pipeline(commands, prefix);
      if (reset) {
        transactionOpen = false;
        recipientsInTransaction = 0;
        requireCode(replies[0], 250, "RSET");
      }
      if (open) {
        openTransaction(replies[prefix - 1], replies, prefix);
      }
      BackendReply[] answers = new BackendReply[count];
      for (int i = 0; i < count; i++) {
        ReplyReader.Reply reply = replies[prefix + i];
        if (reply.code() == 421 || reply.code() == 452 || reply.code() == 503) {
          // Closing, too many recipients, or our transaction was lost: a fresh session will do.
          usable = false;
          if (i == 0) {
            throw new SessionFailure(
                reply.code() == 421
                    ? Verdict.Reason.BACKEND_UNAVAILABLE
                    : Verdict.Reason.TEMPORARY_FAILURE,
                true,
                reply.code() == 421 ? "backend closed the session" : "session needs recycling",
                reply.toBackendReply());
          }
          break;
        }
        recipientsInTransaction++;
        if (reply.code() >= 500) {
          rejections++;
        }
        answers[i] = reply.toBackendReply();
      }
      return answers;
    } catch (IOException e) {
      usable = false;
      throw e;
    }
  }

  /** How many recipients one batch may carry without reaching the backend's limits. */
  int capacity() {
    return Math.max(
        1,
        Math.min(
            config.maxRejectionsPerSession() - rejections,
            config.maxRecipientsPerTransaction() - recipientsInTransaction));
  }

  private void openTransaction(ReplyReader.Reply mail, ReplyReader.Reply[] replies, int firstRcpt)
      throws SessionFailure {
    checkNotClosing(mail);
    if (mail.code() != 250) {
      rejections++;
      for (int i = firstRcpt; i < replies.length; i++) {
        if (replies[i] != null && replies[i].code() >= 500) {
          rejections++; // the pipelined RCPTs failed too, and count as errors
        }
      }
      throw new SessionFailure(
          mail.code() >= 500 ? Verdict.Reason.SENDER_REJECTED : Verdict.Reason.TEMPORARY_FAILURE,
          false,
          "backend refused the probe sender",
          mail.toBackendReply());
    }
    transactionOpen = true;
    onTransactionOpened.run();
  }

  /** Asks {@code VRFY} for the address and returns the reply. */
  BackendReply vrfy(Mailbox mailbox, Deadline deadline)
      throws IOException, InvalidAddressException {
    return vrfy(mailbox.command("VRFY ", false), deadline);
  }

  /**
   * Asks {@code VRFY} for a random local part in the domain: a backend that rejects it answers
   * {@code VRFY} honestly there.
   */
  BackendReply vrfyRandomLocalPart(String domain, Deadline deadline) throws IOException {
    String random =
        "rcptproxy-" + Long.toHexString(ThreadLocalRandom.current().nextLong() & Long.MAX_VALUE);
    return vrfy(line("VRFY <" + random + "@" + domain + ">"), deadline);
  }

  private BackendReply vrfy(byte[] command, Deadline deadline) throws IOException {
    this.deadline = deadline;
    try {
      used = true;
      vrfyCommands++;
      ReplyReader.Reply reply = exchange(command);
      checkNotClosing(reply);
      if (reply.code() >= 500 && reply.code() != 502) {
        rejections++;
      }
      return reply.toBackendReply();
    } catch (IOException e) {
      usable = false;
      throw e;
    }
  }

  /** Whether this session has answered a verification before (a stale one fails on its first). */
  boolean used() {
    return used;
  }

  /** Whether the backend's limits call for a fresh session before the next verification. */
  private boolean needsRecycling() {
    return rejections >= config.maxRejectionsPerSession()
        || recipientsInTransaction >= config.maxRecipientsPerTransaction()
        || vrfyCommands >= config.maxVrfyPerSession();
  }

  /**
   * Whether the session may serve another verification: {@link #withinLimits} and the backend wrote
   * nothing unasked (typically its own idle-timeout {@code 421}). Costs no round trip.
   */
  boolean reusable(Instant now) {
    if (!withinLimits(now)) {
      return false;
    }
    try {
      return !reader.hasBufferedInput() && socket.getInputStream().available() == 0;
    } catch (IOException e) {
      return false;
    }
  }

  /** Not broken, within the backend's limits, not too old, not idle too long. No I/O at all. */
  boolean withinLimits(Instant now) {
    return usable
        && !needsRecycling()
        && Duration.between(createdAt, now).compareTo(config.maxSessionAge()) < 0
        && Duration.between(lastUsed, now).compareTo(config.idleTimeout()) < 0;
  }

  /** Marks the moment the session went back to the pool, for the idle timeout. */
  void idleFrom(Instant now) {
    lastUsed = now;
  }

  /** Says QUIT without waiting for the answer, and closes. */
  void close() {
    try (socket) {
      if (usable) {
        out.write(QUIT);
        out.flush();
      }
    } catch (IOException ignored) {
      // the backend is gone already; nothing to tell it
    }
  }

  @Override
  public String toString() {
    return "session " + socket.getLocalPort() + "->" + socket.getRemoteSocketAddress();
  }

  /**
   * Sends the commands in one write where the backend offers PIPELINING, and reads each reply.
   * Without pipelining they go one by one, and a failure among the first {@code prefix} commands
   * (RSET, MAIL) stops the rest, whose replies stay null.
   */
  private ReplyReader.Reply[] pipeline(byte[][] commands, int prefix) throws IOException {
    ReplyReader.Reply[] replies = new ReplyReader.Reply[commands.length];
    if (commands.length > 1 && offers("PIPELINING")) {
      int length = 0;
      for (byte[] command : commands) {
        length += command.length;
      }
      byte[] batch = new byte[length];
      int at = 0;
      for (byte[] command : commands) {
        System.arraycopy(command, 0, batch, at, command.length);
        at += command.length;
      }
      out.write(batch);
      out.flush();
      for (int i = 0; i < commands.length; i++) {
        replies[i] = reader.read();
      }
      return replies;
    }
    for (int i = 0; i < commands.length; i++) {
      replies[i] = exchange(commands[i]);
      if (i < prefix && replies[i].code() >= 400) {
        break;
      }
    }
    return replies;
  }

  private ReplyReader.Reply exchange(byte[] command) throws IOException {
    out.write(command);
    out.flush();
    return reader.read();
  }

  private void checkNotClosing(ReplyReader.Reply reply) throws SessionFailure {
    if (reply.code() == 421) {
      usable = false;
      throw new SessionFailure(
          Verdict.Reason.BACKEND_UNAVAILABLE,
          true,
          "backend closed the session",
          reply.toBackendReply());
    }
  }

  private void requireCode(ReplyReader.Reply reply, int code, String command)
      throws SessionFailure {
    checkNotClosing(reply);
    if (reply.code() != code) {
      usable = false;
      throw new SessionFailure(
          Verdict.Reason.BACKEND_UNAVAILABLE,
          false,
          "backend refused " + command,
          reply.toBackendReply());
    }
  }

  private static byte[] line(String command) {
    try {
      return Mailbox.encodeLine(command, false);
    } catch (InvalidAddressException e) {
      // Configuration values are validated on build(); this cannot happen.
      throw new IllegalStateException(command + ": " + e.getMessage(), e);
    }
  }
}
