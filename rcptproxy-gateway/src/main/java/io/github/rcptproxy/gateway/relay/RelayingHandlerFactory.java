package io.github.rcptproxy.gateway.relay;

import io.github.rcptproxy.AddressCheck;
import io.github.rcptproxy.Verdict;
import io.github.rcptproxy.gateway.front.Envelope;
import io.github.rcptproxy.gateway.front.SizeLimitedInputStream;
import io.github.rcptproxy.gateway.front.SmtpFront;
import io.github.rcptproxy.subethasmtp.VerdictAwareHandler;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicInteger;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.subethamail.smtp.DropConnectionException;
import org.subethamail.smtp.MessageContext;
import org.subethamail.smtp.MessageHandler;
import org.subethamail.smtp.MessageHandlerFactory;
import org.subethamail.smtp.RejectException;
import org.subethamail.smtp.TooMuchDataException;

/**
 * The gateway's own handler, behind the verifying wrapper: collects sender and (accepted)
 * recipients, asks the backend about those verification did not settle, and relays the message to
 * the backend once the client has sent all of it. Tracks messages in flight so a shutdown can let
 * them finish.
 */
public final class RelayingHandlerFactory implements MessageHandlerFactory {
  private static final Logger LOG = LoggerFactory.getLogger(RelayingHandlerFactory.class);

  private final AtomicInteger inFlight = new AtomicInteger();
  private volatile SmtpRelay relay;
  private volatile SharedRelayMemory shared;
  private volatile boolean draining;

  private final int maxMessageSize;
  private final SmtpFront front;
  private volatile String postmaster;

  public RelayingHandlerFactory(
      SmtpRelay relay, int maxMessageSize, SmtpFront front, String postmaster) {
    this.relay = relay;
    this.maxMessageSize = maxMessageSize;
    this.front = front;
    this.postmaster = postmaster;
  }

  /**
   * Shares what each relay learns of the backend (recipient limits, pairs refused at relay time,
   * its breaker) with other gateways through {@code shared}, and keeps what they learn, from now on
   * and across reloads. Called once, before mail comes.
   */
  public void shareMemory(SharedRelayMemory shared) {
    this.shared = shared;
    relay.shareWith(shared);
    shared.follow(
        new SharedRelayMemory.Listener() {
          @Override
          public void learnt(String backend, int limit, Instant until) {
            relay.heard(backend, limit, until);
          }

          @Override
          public void refused(String backend, String from, String recipient, Instant until) {
            relay.heardRefused(backend, from, recipient, until);
          }
        });
  }

  /** From now on new messages go through {@code relay}; the one before is closed. */
  public void relayTo(SmtpRelay relay, String postmaster) {
    SmtpRelay before = this.relay;
    relay.learntFrom(before);
    if (shared != null) {
      relay.shareWith(shared);
    }
    this.relay = relay;
    this.postmaster = postmaster;
    before.close();
  }

  /** Closes the relay's connections; call once no message is in flight. */
  public void close() {
    relay.close();
  }

  /** From now on new transactions are refused with {@code 421}; those under way go on. */
  public void drain() {
    draining = true;
  }

  /**
   * Messages from their data until their client has its reply: SubEthaSMTP writes the reply after
   * the handler's {@code data} returns and calls {@code done} after that. Counted until the reply,
   * so that a shutdown waiting for none in flight cannot close a connection whose message the
   * backend took before its client heard so (it would send it again).
   */
  public int inFlight() {
    return inFlight.get();
  }

  @Override
  public MessageHandler create(MessageContext context) {
    return new Handler(context);
  }

  /** One transaction: its sender, the recipients the client was told 250 for, its message. */
  private final class Handler implements VerdictAwareHandler {
    private final MessageContext context;
    private final List<String> recipients = new ArrayList<>();
    private String from;
    private Envelope envelope;

    /** Whether this transaction's message counts in flight, until {@link #done}. */
    private boolean inFlightHere;

    Handler(MessageContext context) {
      this.context = context;
    }

    @Override
    public void from(String sender) throws RejectException {
      if (draining) {
        throw new DropConnectionException(421, "4.3.2 Service shutting down, try again later");
      }
      // The null reverse-path <> arrives as an empty string and is fine.
      Optional<String> problem = sender.isEmpty() ? Optional.empty() : AddressCheck.problem(sender);
      if (problem.isPresent()) {
        throw new RejectException(501, "5.1.7 Bad sender address syntax");
      }
      from = AddressCheck.canonical(sender);
    }

    /**
     * Takes a recipient the client is to be told {@code 250} for. One the backend accepted at
     * verification goes straight in; one it did not settle (accepted unverified, not verified at
     * all, or refused at relay time for this sender lately) is asked of the backend in a
     * transaction like this one, and the client hears its answer.
     */
    @Override
    public void recipient(String recipient, Optional<Verdict> verdict) throws RejectException {
      SmtpRelay relay = RelayingHandlerFactory.this.relay;
      // RFC 5321 4.5.1: <postmaster> without a domain must be accepted.
      String address =
          recipient.equalsIgnoreCase("postmaster") ? postmaster : AddressCheck.canonical(recipient);
      if (relay.oneRecipientPerMessage() && !recipients.isEmpty()) {
        // RFC 5321 4.5.3.1.10: the client sends the others in another transaction, so the
        // backend's per-recipient answer after DATA can be told to the client as it is.
        throw new RejectException(
            452, "4.5.3 One recipient per message here, send the others in another transaction");
      }
      if (recipients.size() >= relay.recipientLimit()) {
        throw new RejectException(
            452, "4.5.3 Too many recipients, send the others in another transaction");
      }
      // Bypassed clients' recipients were not verified, so not validated either: check here.
      if (AddressCheck.problem(address).isPresent()) {
        throw new RejectException(501, "5.1.3 Bad recipient address syntax");
      }
      boolean postmasterOf = recipient.equalsIgnoreCase("postmaster"); // RFC 5321: always taken
      if (!postmasterOf
          && (!(verdict.orElse(null) instanceof Verdict.Accepted)
              || relay.refusedAtRelay(from, address))) {
        unreachable(verdict);
        relay.check(envelope(), address, verdict.map(Verdict::latency).orElse(Duration.ZERO));
      }
      recipients.add(address);
    }

    @Override
    public String data(InputStream data) throws RejectException, IOException {
      inFlight.incrementAndGet();
      inFlightHere = true;
      try (Spool message = SmtpRelay.receive(new SizeLimitedInputStream(data, maxMessageSize))) {
        // the relay as it is now: a reload may have replaced it while the message came in
        String reply = relay.relay(envelope().with(recipients), message);
        LOG.info(
            "{} relayed <{}> to {} recipient(s): {}",
            context.getRemoteAddress(),
            from,
            recipients.size(),
            reply);
        return null;
      } catch (RejectException | TooMuchDataException e) {
        // Read the rest of the message first: SubEthaSMTP would take it for commands otherwise.
        front.drainIn(context);
        data.transferTo(OutputStream.nullOutputStream());
        RejectException reject =
            e instanceof RejectException r
                ? r
                : new RejectException(
                    552, "5.3.4 Message size exceeds fixed limit of " + maxMessageSize + " bytes");
        LOG.warn(
            "{} not relayed <{}> to {} recipient(s): {}",
            context.getRemoteAddress(),
            from,
            recipients.size(),
            reject.getErrorResponse());
        throw reject;
      }
    }

    /**
     * The verifier could not reach the backend, or it did not answer in time, a moment ago: the
     * relay, over the same network to the same hosts, is not sent after it (its breaker would take
     * the backend for down while, say, postscreen makes a new client wait), and the client keeps
     * the message.
     */
    private void unreachable(Optional<Verdict> verdict) throws RejectException {
      if (verdict.orElse(null) instanceof Verdict.Unverified unverified) {
        switch (unverified.reason()) {
          case TIMEOUT -> throw SmtpRelay.timedOut();
          case BACKEND_UNAVAILABLE, PROTOCOL_ERROR -> throw SmtpRelay.unavailable();
          default -> {}
        }
      }
    }

    /** The client's MAIL parameters and trace, made once for the transaction. */
    private Envelope envelope() {
      if (envelope == null) {
        envelope = front.envelope(context, from, List.of());
      }
      return envelope;
    }

    /** After the reply to the message, or at the end of its connection: no longer in flight. */
    @Override
    public void done() {
      if (inFlightHere) {
        inFlightHere = false;
        inFlight.decrementAndGet();
      }
    }
  }
}
