package io.github.rcptproxy.gateway.relay;

import io.github.rcptproxy.AddressCheck;
import io.github.rcptproxy.gateway.front.SizeLimitedInputStream;
import io.github.rcptproxy.gateway.front.SmtpFront;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.IDN;
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
 * recipients, and relays the message to the backend during DATA. Tracks messages in flight so a
 * shutdown can let them finish.
 */
public final class RelayingHandlerFactory implements MessageHandlerFactory {
  private static final Logger LOG = LoggerFactory.getLogger(RelayingHandlerFactory.class);

  private final AtomicInteger inFlight = new AtomicInteger();
  private volatile SmtpRelay relay;
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

  public void relayTo(SmtpRelay relay, String postmaster) {
    this.relay = relay;
    this.postmaster = postmaster;
  }

  /** From now on new transactions are refused with {@code 421}; those under way go on. */
  public void drain() {
    draining = true;
  }

  public int inFlight() {
    return inFlight.get();
  }

  @Override
  public MessageHandler create(MessageContext context) {
    return new MessageHandler() {
      private String from;
      private final List<String> recipients = new ArrayList<>();

      @Override
      public void from(String sender) throws RejectException {
        if (draining) {
          throw new DropConnectionException(421, "4.3.2 Service shutting down, try again later");
        }
        // The null reverse-path <> arrives as an empty string and is fine.
        Optional<String> problem =
            sender.isEmpty() ? Optional.empty() : AddressCheck.problem(sender);
        if (problem.isPresent()) {
          throw new RejectException(501, "5.1.7 Bad sender address syntax");
        }
        from = canonical(sender);
      }

      @Override
      public void recipient(String recipient) throws RejectException {
        // RFC 5321 4.5.1: <postmaster> without a domain must be accepted.
        String address =
            recipient.equalsIgnoreCase("postmaster") ? postmaster : canonical(recipient);
        if (relay.oneRecipientPerMessage() && !recipients.isEmpty()) {
          // RFC 5321 4.5.3.1.10: the client sends the others in another transaction, so the
          // backend's per-recipient answer after DATA can be told to the client as it is.
          throw new RejectException(
              452, "4.5.3 One recipient per message here, send the others in another transaction");
        }
        // Bypassed clients' recipients were not verified, so not validated either: check here.
        if (AddressCheck.problem(address).isPresent()) {
          throw new RejectException(501, "5.1.3 Bad recipient address syntax");
        }
        recipients.add(address);
      }

      @Override
      public String data(InputStream data) throws RejectException, IOException {
        inFlight.incrementAndGet();
        try {
          String reply =
              relay.relay(
                  front.envelope(context, from, recipients),
                  new SizeLimitedInputStream(data, maxMessageSize));
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
                      552,
                      "5.3.4 Message size exceeds fixed limit of " + maxMessageSize + " bytes");
          LOG.warn(
              "{} not relayed <{}> to {} recipient(s): {}",
              context.getRemoteAddress(),
              from,
              recipients.size(),
              reject.getErrorResponse());
          throw reject;
        } finally {
          inFlight.decrementAndGet();
        }
      }

      @Override
      public void done() {}
    };
  }

  /**
   * The address as the verifier checked it, the domain in A-labels ({@code ｅｘａｍｐｌｅ.test} and {@code
   * example。test} become {@code example.test}): the relay sends exactly that, so a backend never
   * sees a form that was not verified. An unconvertible domain is returned as it is, for the
   * address check to refuse.
   */
  public static String canonical(String address) {
    int at = address.lastIndexOf('@');
    String domain = address.substring(at + 1);
    if (at < 0 || domain.chars().allMatch(c -> c < 0x80)) {
      return address;
    }
    try {
      return address.substring(0, at + 1) + IDN.toASCII(domain, IDN.USE_STD3_ASCII_RULES);
    } catch (IllegalArgumentException e) {
      return address;
    }
  }
}
