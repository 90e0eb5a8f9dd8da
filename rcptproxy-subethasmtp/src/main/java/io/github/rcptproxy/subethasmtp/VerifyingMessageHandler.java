package io.github.rcptproxy.subethasmtp;

import io.github.rcptproxy.AddressCheck;
import io.github.rcptproxy.Verdict;
import io.github.rcptproxy.internal.smtp.SmtpText;
import io.github.rcptproxy.policy.RecipientDecision;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.subethamail.smtp.DropConnectionException;
import org.subethamail.smtp.MessageContext;
import org.subethamail.smtp.MessageHandler;
import org.subethamail.smtp.RejectException;
import org.subethamail.smtp.TooMuchDataException;
import org.subethamail.smtp.server.Session;

/** One mail transaction: verifies each recipient, passes the rest to the wrapped handler. */
final class VerifyingMessageHandler implements MessageHandler {
  private static final Logger LOG = LoggerFactory.getLogger(RecipientVerifyingHandlerFactory.class);

  private final MessageHandler delegate;
  private final MessageContext context;
  private final RecipientVerifyingHandlerFactory factory;

  VerifyingMessageHandler(
      MessageHandler delegate, MessageContext context, RecipientVerifyingHandlerFactory factory) {
    this.delegate = delegate;
    this.context = context;
    this.factory = factory;
  }

  @Override
  public void from(String from) throws RejectException {
    hangUpIfDue();
    delegate.from(from);
  }

  @Override
  public void recipient(String given) throws RejectException {
    hangUpIfDue();
    if (given.equalsIgnoreCase("postmaster")) {
      // RFC 5321 4.5.1: must be accepted without a domain; the wrapped handler knows where it goes.
      delegate.recipient(given);
      return;
    }
    String recipient = AddressCheck.canonical(given); // routed, verified and passed on in one form
    int at = recipient.lastIndexOf('@');
    if (at < 0) {
      throw new RejectException(501, "5.1.3 Bad recipient address syntax");
    }
    Optional<DomainRoutes.Route> found = factory.routes().find(recipient.substring(at + 1));
    if (found.isEmpty()) {
      if (!factory.routes().acceptOtherDomains()) {
        LOG.info("{} RCPT {}: 550 5.7.1 Relaying denied", clientText(), SmtpText.forLog(recipient));
        throw new RejectException(550, "5.7.1 Relaying denied");
      }
      delegate.recipient(recipient);
      return;
    }
    DomainRoutes.Route route = found.get();
    RecipientPolicy policy = route.policy();
    InetAddress client = client();
    if (client != null
        && (policy.replies().bypasses(client)
            || policy.bypassBackend() && factory.isBackend(client, route.verifier()))) {
      LOG.debug(
          "{} RCPT {}: client bypasses verification",
          client.getHostAddress(),
          SmtpText.forLog(recipient));
      delegate.recipient(recipient);
      return;
    }
    Verdict verdict = route.verifier().verify(recipient);
    RecipientDecision decision = policy.replies().decide(verdict, recipient);
    if (decision instanceof RecipientDecision.Reject unknown) {
      reject(policy, unknown, recipient, verdict);
    } else if (decision instanceof RecipientDecision.Reply reply) {
      String message = reply.enhancedStatus() + " " + SmtpText.forReply(reply.text());
      LOG.info(
          "{} RCPT {}: {} {} ({}, {} ms)",
          clientText(),
          SmtpText.forLog(recipient),
          reply.code(),
          message,
          verdict,
          verdict.latency().toMillis());
      throw new RejectException(reply.code(), message);
    }
    LOG.debug(
        "{} RCPT {}: {} in {} ms",
        clientText(),
        SmtpText.forLog(recipient),
        verdict,
        verdict.latency().toMillis());
    if (delegate instanceof VerdictAwareHandler aware) {
      aware.recipient(recipient, Optional.of(verdict));
    } else {
      delegate.recipient(recipient);
    }
  }

  /**
   * An unknown recipient: counted, tarpitted, answered with its rejection; after so many in the
   * session the client's next MAIL or RCPT gets {@code 421} and the connection is closed (RFC 5321
   * §3.8), as Postfix does past its hard error limit. The recipients accepted before keep their
   * place: the transaction's DATA still goes through.
   */
  private void reject(
      RecipientPolicy policy, RecipientDecision.Reject reject, String recipient, Verdict verdict)
      throws RejectException {
    int rejections = factory.countRejection(context);
    if (!policy.tarpit().isZero()) {
      try {
        Thread.sleep(policy.tarpit().toMillis());
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
    String message = reject.enhancedStatus() + " " + SmtpText.forReply(reject.text());
    LOG.info(
        "{} RCPT {}: {} {} ({}, {} ms)",
        clientText(),
        SmtpText.forLog(recipient),
        reject.code(),
        message,
        verdict,
        verdict.latency().toMillis());
    if (policy.disconnectAfterRejections() > 0
        && rejections >= policy.disconnectAfterRejections()) {
      factory.hangUpOnNextCommand(context);
    }
    throw new RejectException(reject.code(), message);
  }

  /**
   * Answers {@code 421} and closes, if the session has had too many rejections. The commands the
   * client pipelined after this one are read and thrown away first: closing a socket with unread
   * input sends a TCP reset, which can destroy the {@code 421} before the client reads it (Postfix
   * then defers with "lost connection" instead of the reply).
   */
  private void hangUpIfDue() throws DropConnectionException {
    if (factory.hangUpDue(context)) {
      LOG.info("{} hung up on: too many rejected recipients", clientText());
      if (context instanceof Session session) {
        discardPendingInput(session.getSocket());
      }
      throw new DropConnectionException(
          421, "4.7.0 Too many rejected recipients, closing connection");
    }
  }

  /** Reads what the client has sent and nobody read yet, without waiting for more. */
  static void discardPendingInput(Socket socket) {
    try {
      InputStream in = socket.getInputStream();
      byte[] buffer = new byte[8192];
      for (int i = 0, available = in.available(); i < 64 && available > 0; i++) {
        if (in.read(buffer, 0, Math.min(available, buffer.length)) < 0) {
          return;
        }
        available = in.available();
      }
    } catch (IOException e) {
      // the connection is going anyway
    }
  }

  @Override
  public String data(InputStream data) throws RejectException, TooMuchDataException, IOException {
    return delegate.data(data);
  }

  @Override
  public void done() {
    delegate.done();
  }

  private String clientText() {
    InetAddress client = client();
    return client == null ? "?" : client.getHostAddress();
  }

  private InetAddress client() {
    // With the PROXY protocol enabled, SubEthaSMTP reports the proxied client here.
    return context.getRemoteAddress() instanceof InetSocketAddress socket
        ? socket.getAddress()
        : null;
  }
}
