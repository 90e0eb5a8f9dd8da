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
  private final Map<MessageContext, Rejections> rejectionsBySession;

  /** One session's refused recipients, and whether its next MAIL or RCPT is answered 421. */
  private static final class Rejections {
    final AtomicInteger count = new AtomicInteger();
    volatile boolean hangUp;
  }

  private final ConcurrentMap<String, InetAddress[]> backendAddresses = new ConcurrentHashMap<>();

  private RecipientVerifyingHandlerFactory(
      MessageHandlerFactory delegate,
      DomainRoutes routes,
      Map<MessageContext, Rejections> rejectionsBySession) {
    this.delegate = Objects.requireNonNull(delegate, "delegate");
    this.routes = Objects.requireNonNull(routes, "routes");
    this.rejectionsBySession = rejectionsBySession;
  }

  private RecipientVerifyingHandlerFactory(MessageHandlerFactory delegate, DomainRoutes routes) {
    this(delegate, routes, Collections.synchronizedMap(new WeakHashMap<>()));
  }

  /**
   * The same wrapper with other routes (a reloaded configuration): the sessions under way keep
   * their count of refused recipients and a hang-up that is due.
   */
  public RecipientVerifyingHandlerFactory withRoutes(DomainRoutes routes) {
    return new RecipientVerifyingHandlerFactory(delegate, routes, rejectionsBySession);
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

  /**
   * Counts a recipient the SMTP server refused before a handler of this factory saw it: a RCPT line
   * its own checks refused (a syntax error, an unsupported parameter) or a RCPT without MAIL.
   * Postfix counts every refused RCPT toward its hard error limit; so does {@link
   * RecipientPolicy.Builder#disconnectAfterRejections}, with the strictest limit of the routes, as
   * no route answered. For a server that checks command lines before SubEthaSMTP does.
   */
  public void recipientRefused(MessageContext session) {
    countRefusal(session, routes.disconnectAfterRejections());
  }

  /**
   * Whether the session has had its limit of refused recipients: its next MAIL or RCPT is to be
   * answered {@code 421} and the connection closed. A server that answers RCPT without MAIL itself
   * (SubEthaSMTP does, before any handler) asks here first.
   */
  public boolean hangUpDue(MessageContext session) {
    Rejections rejections = rejectionsBySession.get(session);
    return rejections != null && rejections.hangUp;
  }

  /** Counts one more refused recipient in the session; at {@code limit} (0: none) it hangs up. */
  void countRefusal(MessageContext context, int limit) {
    Rejections rejections = rejections(context);
    if (rejections.count.incrementAndGet() >= limit && limit > 0) {
      rejections.hangUp = true;
    }
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
