package io.github.rcptproxy.internal;

import io.github.rcptproxy.RecipientVerifier;
import io.github.rcptproxy.Verdict;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One warning per kind of misconfiguration (TLS, AUTH, STARTTLS required, the probe sender, another
 * refusal), each naming the fix; later ones are only in the verdicts. One per configuration: a
 * reconfiguration may have fixed it.
 */
final class MisconfigurationWarnings {
  private static final Logger LOG = LoggerFactory.getLogger(RecipientVerifier.class);

  private final String probeSender;

  /** The kinds already warned about. */
  private final Set<String> warned = ConcurrentHashMap.newKeySet();

  MisconfigurationWarnings(String probeSender) {
    this.probeSender = probeSender;
  }

  /**
   * The backend refused for a reason other than the mailbox.
   *
   * @param what the refusal, for the log
   * @param code the backend's reply code, 0 if it gave none
   */
  void refused(Verdict.Reason reason, String what, int code) {
    if (code == 530 && reason == Verdict.Reason.BACKEND_REFUSED) {
      once(
          "refused",
          "backend requires STARTTLS or AUTH before it answers ({}): recipients are answered"
              + " UNVERIFIED {}; configure tls (REQUIRED or VERIFY) and, if it asks, auth",
          what,
          reason);
      return;
    }
    switch (reason) {
      case TLS_FAILED ->
          once(
              "TLS_FAILED",
              "TLS to the backend failed ({}): recipients are answered UNVERIFIED TLS_FAILED; check"
                  + " the backend's STARTTLS, certificate and host name, and the configured trust",
              what);
      case AUTH_FAILED ->
          once(
              "AUTH_FAILED",
              "AUTH to the backend failed ({}): recipients are answered UNVERIFIED AUTH_FAILED;"
                  + " check the configured user and password",
              what);
      case SENDER_REJECTED ->
          once(
              "SENDER_REJECTED",
              "backend refuses the probe sender <{}> ({}): no recipient can be verified; set"
                  + " probeSender to one it accepts (the null sender <> passes sender"
                  + " verification)",
              probeSender,
              what);
      case REFUSAL_UNCONFIRMED ->
          once(
              "REFUSAL_UNCONFIRMED",
              "backend refused a recipient ({}) before it accepted any address to compare with:"
                  + " such refusals are answered UNVERIFIED REFUSAL_UNCONFIRMED (a 4xx to the"
                  + " client) until it accepts one; name a real mailbox with knownGood"
                  + " (--known-good) to have them settled at once",
              what);
      default ->
          once(
              "refused",
              "backend refuses recipients for a reason other than the mailbox ({}): recipients are"
                  + " answered UNVERIFIED {}; check that it accepts the probe sender <{}> (<>"
                  + " passes sender verification) and does not refuse this client",
              what,
              reason,
              probeSender);
    }
  }

  /** The backend refused new sessions with {@code 421}. */
  void sessionsRefused(String what) {
    once(
        "sessions refused",
        "backend refuses new sessions from this host ({}): verifications are answered UNVERIFIED"
            + " BACKEND_UNAVAILABLE until it takes them again; where it limits connections per"
            + " client (Postfix smtpd_client_connection_rate_limit or"
            + " smtpd_client_connection_count_limit, Exim smtp_accept_max_per_host or a ratelimit"
            + " in its connect ACL), exempt this host (Postfix: smtpd_client_event_limit_exceptions)"
            + " or lower maxSessions",
        what);
  }

  /** The backend deferred a recipient for a policy ({@code 4.7.x}) or without saying why. */
  void deferredForPolicy(String what) {
    once(
        "deferred for policy",
        "backend defers recipients ({}): those are answered UNVERIFIED"
            + " TEMPORARY_FAILURE; a rate limit per client (Postfix"
            + " smtpd_client_recipient_rate_limit, Exim ratelimit per_rcpt in its RCPT ACL) is"
            + " lifted for this host by exempting it (Postfix:"
            + " smtpd_client_event_limit_exceptions); a domain it does not serve should not be"
            + " verified against it",
        what);
  }

  private void once(String kind, String format, Object... arguments) {
    if (warned.add(kind)) {
      LOG.warn(format, arguments);
    }
  }
}
