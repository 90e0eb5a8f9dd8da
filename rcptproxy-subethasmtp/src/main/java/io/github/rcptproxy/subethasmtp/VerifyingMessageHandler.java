package io.github.rcptproxy.subethasmtp;

import io.github.rcptproxy.BackendReply;
import io.github.rcptproxy.Verdict;
import io.github.rcptproxy.smtp.SmtpText;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.subethamail.smtp.DropConnectionException;
import org.subethamail.smtp.MessageContext;
import org.subethamail.smtp.MessageHandler;
import org.subethamail.smtp.RejectException;
import org.subethamail.smtp.TooMuchDataException;

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
    delegate.from(from);
  }

  @Override
  public void recipient(String recipient) throws RejectException {
    if (recipient.equalsIgnoreCase("postmaster")) {
      // RFC 5321 4.5.1: must be accepted without a domain; the wrapped handler knows where it goes.
      delegate.recipient(recipient);
      return;
    }
    int at = recipient.lastIndexOf('@');
    if (at < 0) {
      throw new RejectException(501, "5.1.3 Bad recipient address syntax");
    }
    Optional<DomainRoutes.Route> found = factory.routes().find(recipient.substring(at + 1));
    if (found.isEmpty()) {
      if (!factory.routes().acceptOtherDomains()) {
        LOG.debug(
            "{} RCPT {}: relaying denied", context.getRemoteAddress(), SmtpText.forLog(recipient));
        throw new RejectException(550, "5.7.1 Relaying denied");
      }
      delegate.recipient(recipient);
      return;
    }
    DomainRoutes.Route route = found.get();
    RecipientPolicy policy = route.policy();
    InetAddress client = client();
    if (client != null
        && (policy.bypasses(client)
            || policy.bypassBackend() && factory.isBackend(client, route.verifier()))) {
      LOG.debug(
          "{} RCPT {}: client bypasses verification",
          client.getHostAddress(),
          SmtpText.forLog(recipient));
      delegate.recipient(recipient);
      return;
    }
    Verdict verdict = route.verifier().verify(recipient);
    LOG.debug(
        "{} RCPT {}: {} in {} ms",
        client == null ? "?" : client.getHostAddress(),
        SmtpText.forLog(recipient),
        verdict,
        verdict.latency().toMillis());
    if (verdict instanceof Verdict.Rejected rejected) {
      reject(policy, recipient, rejected.reply());
    } else if (verdict instanceof Verdict.Unverified unverified) {
      refuseIfPolicySays(policy, unverified);
    }
    delegate.recipient(recipient);
  }

  private void reject(RecipientPolicy policy, String recipient, BackendReply reply)
      throws RejectException {
    int rejections = factory.countRejection(context);
    if (!policy.tarpit().isZero()) {
      try {
        Thread.sleep(policy.tarpit().toMillis());
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
    int code = policy.rejectCode();
    String enhanced = code / 100 + ".1.1";
    String text =
        SmtpText.forReply(
            policy.exposeBackendReply() ? reply.text() : policy.rejectionText(recipient));
    String message = enhanced + " " + text;
    if (policy.disconnectAfterRejections() > 0
        && rejections >= policy.disconnectAfterRejections()) {
      throw new DropConnectionException(code, message);
    }
    throw new RejectException(code, message);
  }

  private static void refuseIfPolicySays(RecipientPolicy policy, Verdict.Unverified unverified)
      throws RejectException {
    switch (unverified.reason()) {
      case INVALID_ADDRESS -> throw new RejectException(501, "5.1.3 Bad recipient address syntax");
      case CATCH_ALL -> {
        // The backend takes any address there: nothing to verify, nothing failed.
      }
      case TEMPORARY_FAILURE -> {
        // Only a 4xx is passed on; anything else is the gateway's problem, not the client's.
        BackendReply reply =
            unverified.reply().filter(BackendReply::isTransientNegative).orElse(null);
        if (reply == null) {
          refuseIfUnverifiedFails(policy);
        } else if (policy.onBackendTemporaryFailure() == FailureMode.TEMPFAIL) {
          String enhanced = reply.enhancedStatus().isEmpty() ? "4.0.0" : reply.enhancedStatus();
          String text =
              policy.exposeBackendReply()
                  ? SmtpText.forReply(reply.text())
                  : "Recipient cannot be verified now, try again later";
          throw new RejectException(reply.code(), enhanced + " " + text);
        }
      }
      default -> refuseIfUnverifiedFails(policy);
    }
  }

  private static void refuseIfUnverifiedFails(RecipientPolicy policy) throws RejectException {
    if (policy.onUnverified() == FailureMode.TEMPFAIL) {
      throw new RejectException(451, "4.4.3 Recipient verification unavailable, try again later");
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

  private InetAddress client() {
    // With the PROXY protocol enabled, SubEthaSMTP reports the proxied client here.
    return context.getRemoteAddress() instanceof InetSocketAddress socket
        ? socket.getAddress()
        : null;
  }
}
