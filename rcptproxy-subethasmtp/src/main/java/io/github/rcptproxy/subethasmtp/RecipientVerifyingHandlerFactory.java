package io.github.rcptproxy.subethasmtp;

import io.github.rcptproxy.RecipientVerifier;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.util.Collections;
import java.util.Map;
import java.util.Objects;
import java.util.WeakHashMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentMap;
import java.util.concurrent.atomic.AtomicInteger;
import org.subethamail.smtp.MessageContext;
import org.subethamail.smtp.MessageHandler;
import org.subethamail.smtp.MessageHandlerFactory;

/**
 * Wraps a SubEthaSMTP {@link MessageHandlerFactory} so that every {@code RCPT TO} is verified
 * against the backend before the wrapped handler hears of it:
 *
 * <pre>{@code
 * SMTPServer server = SMTPServer.port(25)
 *     .messageHandlerFactory(RecipientVerifyingHandlerFactory.wrap(myFactory, verifier, RecipientPolicy.defaults()))
 *     .build();
 * }</pre>
 *
 * <p>The wrapped handler's {@code recipient} is called only for recipients that are accepted
 * (verified, bypassed, or accepted unverified by the policy), and for {@code <postmaster>} without
 * a domain, which RFC 5321 §4.5.1 says must be accepted: it goes to the wrapped handler unverified,
 * to route it. {@code from}, {@code data} and {@code done} pass through unchanged. Wrappers
 * compose: wrapping a wrapped factory verifies with the outer one first. Thread-safe, as
 * SubEthaSMTP needs; the verifiers stay the caller's to close.
 */
public final class RecipientVerifyingHandlerFactory implements MessageHandlerFactory {
  private final MessageHandlerFactory delegate;
  private final DomainRoutes routes;

  /** Each SMTP session's rejections; a session is one MessageContext, forgotten with it. */
  private final Map<MessageContext, Rejections> rejectionsBySession =
      Collections.synchronizedMap(new WeakHashMap<>());

  /** One session's rejected recipients, and whether its next MAIL or RCPT is answered 421. */
  private static final class Rejections {
    final AtomicInteger count = new AtomicInteger();
    volatile boolean hangUp;
  }

  private final ConcurrentMap<String, InetAddress[]> backendAddresses = new ConcurrentHashMap<>();

  private RecipientVerifyingHandlerFactory(MessageHandlerFactory delegate, DomainRoutes routes) {
    this.delegate = Objects.requireNonNull(delegate, "delegate");
    this.routes = Objects.requireNonNull(routes, "routes");
  }

  /** Verifies every recipient, whatever its domain, with one verifier. */
  public static RecipientVerifyingHandlerFactory wrap(
      MessageHandlerFactory delegate, RecipientVerifier verifier, RecipientPolicy policy) {
    return new RecipientVerifyingHandlerFactory(delegate, DomainRoutes.all(verifier, policy));
  }

  /** Verifies each recipient with the verifier routed for its domain. */
  public static RecipientVerifyingHandlerFactory wrap(
      MessageHandlerFactory delegate, DomainRoutes routes) {
    return new RecipientVerifyingHandlerFactory(delegate, routes);
  }

  @Override
  public MessageHandler create(MessageContext context) {
    return new VerifyingMessageHandler(delegate.create(context), context, this);
  }

  DomainRoutes routes() {
    return routes;
  }

  /** Counts one more rejection in the client's SMTP session and returns the count. */
  int countRejection(MessageContext context) {
    return rejections(context).count.incrementAndGet();
  }

  /** The client's next MAIL or RCPT is to be answered {@code 421}, and the connection closed. */
  void hangUpOnNextCommand(MessageContext context) {
    rejections(context).hangUp = true;
  }

  /** Whether {@link #hangUpOnNextCommand} was called for this session. */
  boolean hangUpDue(MessageContext context) {
    Rejections rejections = rejectionsBySession.get(context);
    return rejections != null && rejections.hangUp;
  }

  private Rejections rejections(MessageContext context) {
    return rejectionsBySession.computeIfAbsent(context, c -> new Rejections());
  }

  /** Whether the client is the verifier's backend (its configured host, resolved once). */
  boolean isBackend(InetAddress client, RecipientVerifier verifier) {
    return verifier
        .config()
        .backendHost()
        .map(
            host ->
                backendAddresses.computeIfAbsent(host, RecipientVerifyingHandlerFactory::resolve))
        .map(
            addresses -> {
              for (InetAddress address : addresses) {
                if (address.equals(client)) {
                  return true;
                }
              }
              return false;
            })
        .orElse(false);
  }

  private static InetAddress[] resolve(String host) {
    try {
      return InetAddress.getAllByName(host);
    } catch (UnknownHostException e) {
      return new InetAddress[0];
    }
  }
}
