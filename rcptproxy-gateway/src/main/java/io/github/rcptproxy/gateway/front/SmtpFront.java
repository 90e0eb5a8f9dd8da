package io.github.rcptproxy.gateway.front;

import io.github.rcptproxy.gateway.limits.ClientAllowance;
import io.github.rcptproxy.gateway.ops.Trace;
import io.github.rcptproxy.subethasmtp.RecipientVerifyingHandlerFactory;
import io.github.rcptproxy.subethasmtp.internal.HangUp;
import java.io.IOException;
import java.io.InputStream;
import java.math.BigInteger;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.time.Duration;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Supplier;
import java.util.regex.Pattern;
import javax.net.ssl.SSLSocket;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.subethamail.smtp.DropConnectionException;
import org.subethamail.smtp.MessageContext;
import org.subethamail.smtp.MessageHandler;
import org.subethamail.smtp.MessageHandlerFactory;
import org.subethamail.smtp.RejectException;
import org.subethamail.smtp.TooMuchDataException;
import org.subethamail.smtp.internal.server.BaseCommand;
import org.subethamail.smtp.internal.server.Command;
import org.subethamail.smtp.internal.server.CommandException;
import org.subethamail.smtp.internal.server.CommandHandler;
import org.subethamail.smtp.internal.server.HelpMessage;
import org.subethamail.smtp.internal.server.RequireTLSCommandWrapper;
import org.subethamail.smtp.internal.util.EmailUtils;
import org.subethamail.smtp.server.SMTPServer;
import org.subethamail.smtp.server.Session;
import org.subethamail.smtp.server.SessionHandler;

/**
 * The gateway's rules for its clients, put into SubEthaSMTP's command loop: one deadline per
 * command line and one per message, limits per client address, MAIL and RCPT parameters checked
 * against what was advertised (nothing is added on the client's behalf later), and a BDAT that
 * never takes an early end of input for the end of a message. SubEthaSMTP 7.2 has no public hook
 * for commands, so its command table is wrapped in place; the dependency is pinned.
 */
public final class SmtpFront implements SessionHandler {
  private static final Logger LOG = LoggerFactory.getLogger(SmtpFront.class);

  /** Parameters after the path: each after one SP, no white space or control character in it. */
  private static final Pattern PARAMETERS = Pattern.compile("( [^\\x00-\\x20\\x7f]+)+");

  /** Postfix's replies to a line that is no MAIL FROM: or RCPT TO: (SubEthaSMTP's echo it). */
  private static final String MAIL_SYNTAX = "501 5.5.4 Syntax: MAIL FROM:<address>";

  private static final String RCPT_SYNTAX = "501 5.5.4 Syntax: RCPT TO:<address>";

  private static final String BAD_SENDER = "501 5.1.7 Bad sender address syntax";

  private static final String PARAMETER_SYNTAX =
      "501 5.5.4 Syntax error in parameters: one space before each, no other white space";

  private final Duration commandTimeout;
  private final Duration messageTimeout;
  private final ClientAllowance limits;
  private final String gatewayName;
  private final Map<MessageContext, Client> clients = new ConcurrentHashMap<>();

  /** The verifying handlers' factory of the moment (replaced on reload), which counts refusals. */
  private volatile Supplier<RecipientVerifyingHandlerFactory> screening;

  /** What the front knows about one connection. */
  private static final class Client {
    final DeadlineSocket socket;
    final AtomicInteger messages = new AtomicInteger();
    volatile boolean esmtp;
    volatile boolean smtputf8;
    volatile boolean eightBitMime;

    /** Too many rejected recipients: the next MAIL or RCPT is answered 421 and the end. */
    volatile boolean hangUp;

    Client(DeadlineSocket socket) {
      this.socket = socket;
    }
  }

  public SmtpFront(
      Duration commandTimeout,
      Duration messageTimeout,
      ClientAllowance limits,
      String gatewayName) {
    this.commandTimeout = commandTimeout;
    this.messageTimeout = messageTimeout;
    this.limits = limits;
    this.gatewayName = gatewayName;
  }

  /**
   * Puts the rules in front of every command of {@code server}, and BDAT, DATA and EHLO in place of
   * its own.
   */
  public void install(SMTPServer server) {
    CommandHandler commands = server.getCommandHandler();
    commands.addCommand(new BdatCommand()); // checks TLS and AUTH itself, reading the chunk
    commands.addCommand(new RequireTLSCommandWrapper(new DataCommand()));
    commands.addCommand(new EhloCommand());
    for (String verb : List.copyOf(commands.getVerbs())) {
      commands.addCommand(ruled(commands.getCommand(verb)));
    }
  }

  @Override
  public SessionAcceptance accept(Session session) {
    InetAddress address = session.getRemoteAddress().getAddress();
    Optional<String> refusal = limits.admit(address);
    if (refusal.isPresent()) {
      LOG.info("{} refused: {}", address.getHostAddress(), refusal.get());
      return SessionAcceptance.failure(421, refusal.get());
    }
    Socket socket = session.getSocket();
    if (!(socket instanceof DeadlineSocket deadlineSocket)) {
      limits.release(address);
      throw new IllegalStateException("the server must be built with DeadlineSocket.Server");
    }
    deadlineSocket.deadlineIn(commandTimeout);
    clients.put(session, new Client(deadlineSocket));
    return SessionAcceptance.success();
  }

  @Override
  public void onSessionEnd(Session session) {
    if (clients.remove(session) != null) {
      limits.release(session.getRemoteAddress().getAddress());
    }
  }

  /**
   * The handlers of {@code screening}'s factory of the moment, counting the recipients they accept
   * and those they refuse permanently; when a client has had too many refused in a minute, and most
   * of its recipients were refused, the refused recipient still gets its own reply, the client's
   * next MAIL or RCPT gets {@code 421} and the connection is closed (RFC 5321 §3.8; the
   * transaction's DATA still goes through, for the recipients accepted before), and the client is
   * refused for the cool-down. The RCPT lines the front refuses itself are counted in that factory
   * too, toward its {@code disconnect-after}.
   */
  public MessageHandlerFactory countingRejections(
      Supplier<RecipientVerifyingHandlerFactory> screening) {
    this.screening = screening;
    return context -> {
      MessageHandler handler = screening.get().create(context);
      return new MessageHandler() {
        @Override
        public void from(String from) throws RejectException {
          handler.from(from);
        }

        @Override
        public void recipient(String recipient) throws RejectException {
          InetAddress address = address(context);
          try {
            handler.recipient(recipient);
          } catch (RejectException e) {
            if (e.getCode() >= 500 && limits.rejected(address)) {
              Client client = clients.get(context);
              if (client != null) {
                client.hangUp = true;
              }
            }
            throw e;
          }
          limits.accepted(address);
        }

        @Override
        public String data(InputStream data)
            throws RejectException, TooMuchDataException, IOException {
          return handler.data(data);
        }

        @Override
        public void done() {
          handler.done();
        }
      };
    };
  }

  /**
   * Ends the session with {@code 421} at a MAIL or RCPT (with or without a transaction) after too
   * many refused recipients: in a minute from the client's address (the cool-down), or in this
   * session ({@code disconnect-after}).
   */
  private void hangUpIfDue(Session session, Client client) throws DropConnectionException {
    String address = address(session).getHostAddress();
    if (client.hangUp) {
      LOG.info("{} hung up on: too many rejected recipients from its address", address);
      throw HangUp.closing(
          session, "4.7.0 Too many rejected recipients from your address, try again later");
    }
    Supplier<RecipientVerifyingHandlerFactory> factory = screening;
    if (factory != null && factory.get().hangUpDue(session)) {
      LOG.info("{} hung up on: too many rejected recipients", address);
      throw HangUp.closing(session, "4.7.0 Too many rejected recipients, closing connection");
    }
  }

  /** Counts a RCPT the front or SubEthaSMTP refuses before any handler sees it. */
  private void refusedRecipient(Session session) {
    Supplier<RecipientVerifyingHandlerFactory> factory = screening;
    if (factory != null) {
      factory.get().recipientRefused(session);
    }
  }

  /** The client's declared MAIL parameters and its trace, for the message being received. */
  public Envelope envelope(MessageContext context, String from, List<String> recipients) {
    Client client = clients.get(context);
    Session session = (Session) context;
    Optional<Trace.Tls> tls =
        session.getSocket() instanceof SSLSocket ssl
            ? Optional.of(
                new Trace.Tls(ssl.getSession().getProtocol(), ssl.getSession().getCipherSuite()))
            : Optional.empty();
    Trace trace =
        new Trace(
            address(context),
            context.getHelo(),
            client.esmtp,
            tls,
            client.smtputf8,
            session.getSessionId() + "." + client.messages.incrementAndGet(),
            gatewayName);
    return new Envelope(from, recipients, client.smtputf8, client.eightBitMime, trace);
  }

  /**
   * The message was refused before all of it was read, maybe after the backend took the message's
   * time: the rest gets one command timeout to arrive, and is thrown away.
   */
  public void drainIn(MessageContext context) {
    clients.get(context).socket.deadlineIn(commandTimeout);
  }

  /** The client's address; SubEthaSMTP's sessions are always on IP sockets. */
  private static InetAddress address(MessageContext context) {
    return ((InetSocketAddress) context.getRemoteAddress()).getAddress();
  }

  private Command ruled(Command command) {
    String verb = command.getName();
    boolean message = verb.equals("DATA") || verb.equals("BDAT");
    return new Command() {
      @Override
      public void execute(String line, Session session)
          throws IOException, DropConnectionException {
        Client client = clients.get(session);
        client.socket.deadlineIn(message ? messageTimeout : commandTimeout);
        boolean tlsBefore = session.isTLSStarted();
        try {
          if (allowed(verb, line, session, client)) {
            command.execute(line, session);
          }
          if (session.isTLSStarted() && !tlsBefore) {
            client.esmtp = false; // a new start: the client greets again (RFC 3207 §4.2)
          }
        } finally {
          client.socket.deadlineIn(commandTimeout); // for the next command line
        }
      }

      @Override
      public HelpMessage getHelp() throws CommandException {
        return command.getHelp();
      }

      @Override
      public String getName() {
        return verb;
      }
    };
  }

  /** Answers a command the front refuses itself; returns whether SubEthaSMTP may execute it. */
  private boolean allowed(String verb, String line, Session session, Client client)
      throws IOException, DropConnectionException {
    if (verb.equals("MAIL") || verb.equals("RCPT")) {
      hangUpIfDue(session, client);
    }
    if (session.getServer().getRequireTLS() && !session.isTLSStarted()) {
      return true; // 530 first (BDAT reads its chunk), or EHLO, STARTTLS, NOOP or QUIT run
    }
    switch (verb) {
      case "EHLO", "HELO" -> {
        if (BaseCommand.getArgs(line).length >= 2) { // else SubEthaSMTP says 501, nothing changes
          client.esmtp = verb.equals("EHLO");
        }
      }
      case "MAIL" -> {
        if (session.isMailTransactionInProgress()) {
          return true; // SubEthaSMTP says 503
        }
        MailParameters mail =
            mailParameters(line, client.esmtp, session.getServer().getMaxMessageSize());
        if (mail.refusal().isPresent()) {
          return refuse(session, mail.refusal().get());
        }
        client.smtputf8 = mail.smtputf8();
        client.eightBitMime = mail.eightBitMime();
      }
      case "RCPT" -> {
        if (!session.isMailTransactionInProgress()) {
          refusedRecipient(session);
          return true; // SubEthaSMTP says 503
        }
        Optional<String> refusal = rcptRefusal(line, client.smtputf8);
        if (refusal.isPresent()) {
          refusedRecipient(session);
          return refuse(session, refusal.get());
        }
      }
      default -> {
        // no rules of the front's own
      }
    }
    return true;
  }

  /**
   * What the front makes of a MAIL line: its refusal, or the parameters the client declared (none
   * for a line SubEthaSMTP refuses itself as malformed).
   */
  record MailParameters(Optional<String> refusal, boolean smtputf8, boolean eightBitMime) {
    static MailParameters refused(String reply) {
      return new MailParameters(Optional.of(reply), false, false);
    }
  }

  /**
   * The front's rules for a MAIL line from a client that said EHLO ({@code esmtp}) or HELO, where
   * messages may have {@code maxMessageSize} bytes. A SIZE over it is refused here, both the
   * parameter and what SubEthaSMTP would take for one: it reads SIZE only after a space, anywhere
   * in the line, and as an {@code int}, so a larger one passed after a tab, and at the end of the
   * line (even inside a path: {@code MAIL FROM: SIZE=9999999999}) threw {@link
   * NumberFormatException} out of the session. White space at the end of the line is a syntax
   * error, as before a parameter.
   */
  static MailParameters mailParameters(String line, boolean esmtp, int maxMessageSize) {
    Optional<String[]> path = path(line, "FROM:");
    if (path.isEmpty()) {
      return MailParameters.refused(MAIL_SYNTAX); // SubEthaSMTP's 501 would echo the line
    }
    if (endsInWhiteSpace(line)) {
      return MailParameters.refused(PARAMETER_SYNTAX);
    }
    BigInteger limit = BigInteger.valueOf(maxMessageSize > 0 ? maxMessageSize : Integer.MAX_VALUE);
    if (subEthaSmtpSize(line).filter(size -> size.compareTo(limit) > 0).isPresent()) {
      return MailParameters.refused("552 5.3.4 Message size exceeds fixed limit");
    }
    Optional<List<String>> parameters = parameters(path.get()[1]);
    if (parameters.isEmpty()) {
      return MailParameters.refused(PARAMETER_SYNTAX);
    }
    boolean smtputf8 = false;
    boolean eightBitMime = false;
    Set<String> keywords = new HashSet<>();
    for (String parameter : parameters.get()) {
      String upper = parameter.toUpperCase(Locale.ROOT);
      if (!esmtp) {
        return MailParameters.refused("555 5.5.4 MAIL parameters need EHLO");
      } else if (!isAscii(parameter)) {
        // keywords are ASCII; toUpperCase would make "\u017fmtputf8" SMTPUTF8 (long s)
        return MailParameters.refused("555 5.5.4 Unsupported MAIL parameter");
      } else if (!keywords.add(upper.split("=", 2)[0])) {
        // SIZE=1 SIZE=2, BODY=7BIT BODY=8BITMIME: which one the client meant is a guess
        return MailParameters.refused("555 5.5.4 MAIL parameter given twice");
      } else if (upper.equals("SMTPUTF8")) {
        smtputf8 = true;
      } else if (upper.equals("BODY=8BITMIME")) {
        eightBitMime = true;
      } else if (upper.matches("SIZE=\\d{1,20}")) { // RFC 1870
        if (new BigInteger(upper.substring(5)).compareTo(limit) > 0) {
          return MailParameters.refused("552 5.3.4 Message size exceeds fixed limit");
        }
      } else if (!upper.equals("BODY=7BIT")) {
        return MailParameters.refused("555 5.5.4 Unsupported MAIL parameter");
      }
    }
    if (!smtputf8 && !isAscii(path.get()[0])) {
      return MailParameters.refused("553 5.6.7 Non-ASCII sender address needs SMTPUTF8");
    }
    if (hasControlCharacter(path.get()[0]) || !subEthaSmtpTakes(line)) {
      return MailParameters.refused(BAD_SENDER); // SubEthaSMTP's 553 would echo the address
    }
    return new MailParameters(Optional.empty(), smtputf8, eightBitMime);
  }

  /**
   * The size SubEthaSMTP's MAIL will read from {@code line}, which it parses as an {@code int}: the
   * digits after the first {@code " size="} anywhere in it (the path too) up to the end of the
   * line.
   */
  private static Optional<BigInteger> subEthaSmtpSize(String line) {
    String args = arguments(line).toLowerCase(Locale.ENGLISH);
    int at = args.indexOf(" size=");
    String digits = at < 0 ? "" : args.substring(at + 6).trim();
    return digits.matches("[0-9]+") ? Optional.of(new BigInteger(digits)) : Optional.empty();
  }

  /**
   * The front's refusal of a RCPT line in a transaction whose MAIL declared {@code smtputf8} or
   * not; empty where SubEthaSMTP may go on. White space at the end of the line is a syntax error,
   * as before a parameter.
   */
  static Optional<String> rcptRefusal(String line, boolean smtputf8) {
    Optional<String[]> path = path(line, "TO:");
    if (path.isEmpty()) {
      return Optional.of(RCPT_SYNTAX); // SubEthaSMTP's 501 would echo the line
    }
    Optional<List<String>> parameters = parameters(path.get()[1]);
    if (parameters.isEmpty() || endsInWhiteSpace(line)) {
      return Optional.of(PARAMETER_SYNTAX);
    }
    if (!parameters.get().isEmpty()) {
      return Optional.of("555 5.5.4 Unsupported RCPT parameter");
    }
    if (!smtputf8 && !isAscii(path.get()[0])) {
      return Optional.of("553 5.6.7 Non-ASCII recipient address needs SMTPUTF8");
    }
    return Optional.empty();
  }

  private static boolean refuse(Session session, String reply) throws IOException {
    session.sendResponse(reply);
    return false;
  }

  /**
   * The path of {@code MAIL FROM:} or {@code RCPT TO:} and the rest of the line, if well-formed.
   * The line is cut as SubEthaSMTP cuts it ({@code trim()}: control characters, not Unicode
   * spaces): {@code strip()} here let {@code MAIL\u0001FROM:} past every rule, and {@code
   * FROM:\u3000} give SubEthaSMTP a non-ASCII sender the rules never saw.
   */
  private static Optional<String[]> path(String line, String keyword) {
    String args = arguments(line);
    if (!args.toUpperCase(Locale.ROOT).startsWith(keyword)) {
      return Optional.empty();
    }
    String rest = args.substring(keyword.length()).trim();
    int end = rest.startsWith("<") ? rest.indexOf('>') + 1 : rest.indexOf(' ');
    if (end <= 0) {
      end = rest.length();
    }
    return Optional.of(new String[] {rest.substring(0, end), rest.substring(end)});
  }

  /**
   * Whether the line ends in a space, a tab or another character {@code trim()} cuts (a control
   * character): SubEthaSMTP would cut it and take the line; RFC 5321 §4.1.1 has nothing after the
   * path or the last parameter but CRLF, so it is refused, never cut.
   */
  private static boolean endsInWhiteSpace(String line) {
    return !line.isEmpty() && line.charAt(line.length() - 1) <= ' ';
  }

  /** What follows the verb, as SubEthaSMTP's commands read it. */
  private static String arguments(String line) {
    return line.length() > 4 ? line.substring(4).trim() : "";
  }

  /**
   * The parameters after the path, each after exactly one SP (RFC 5321 §4.1.2: {@code
   * Mail-parameters = esmtp-param *(SP esmtp-param)} after {@code SP}); empty if they are not
   * written so. A tab or a second space is refused rather than read past: a reader that splits
   * otherwise (SubEthaSMTP reads SIZE only after a space) would see other parameters.
   */
  private static Optional<List<String>> parameters(String rest) {
    if (rest.isEmpty()) {
      return Optional.of(List.of());
    }
    if (!PARAMETERS.matcher(rest).matches()) {
      return Optional.empty();
    }
    return Optional.of(List.of(rest.substring(1).split(" ")));
  }

  /** Whether SubEthaSMTP's MAIL, with its default validator, takes the sender of this line. */
  private static boolean subEthaSmtpTakes(String line) {
    return EmailUtils.isValidEmailAddress(EmailUtils.extractEmailAddress(arguments(line), 5), true);
  }

  private static boolean hasControlCharacter(String text) {
    return text.chars().anyMatch(c -> c < ' ' || c == 0x7f);
  }

  private static boolean isAscii(String text) {
    return text.chars().allMatch(c -> c < 0x80);
  }
}
