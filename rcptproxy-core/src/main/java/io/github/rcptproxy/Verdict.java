package io.github.rcptproxy;

import java.time.Duration;
import java.util.Objects;
import java.util.Optional;

/**
 * What the backend said about one recipient, or why it could not say.
 *
 * <p>A caller typically accepts the recipient on {@link Accepted} and {@link Unverified} (the
 * verifier fails open, as the original did) and refuses it on {@link Rejected}. Every verdict
 * carries the time the verification took.
 */
public sealed interface Verdict {

  /** How long the verification took, from the call to the answer. */
  Duration latency();

  /** The backend accepted the recipient ({@code 2xx} to {@code RCPT TO} or {@code VRFY}). */
  record Accepted(BackendReply reply, Duration latency) implements Verdict {
    public Accepted {
      Objects.requireNonNull(reply, "reply");
      Objects.requireNonNull(latency, "latency");
    }

    /** {@code ACCEPTED 250 2.1.5 Ok}, for logs. */
    @Override
    public String toString() {
      return "ACCEPTED " + reply;
    }
  }

  /**
   * The backend refused this recipient permanently, and the refusal is about this address: the
   * backend accepted a known-good address in the same transaction (before it, or asked right after
   * it). {@link #reply()} holds the backend's code, enhanced status code and (sanitised) text: what
   * the refusal means (unknown {@code X.1.1}, disabled {@code X.2.1}, full {@code X.2.2}, policy
   * {@code X.7.x}, or nothing where it sends no enhanced code).
   */
  record Rejected(BackendReply reply, Duration latency) implements Verdict {
    public Rejected {
      Objects.requireNonNull(reply, "reply");
      Objects.requireNonNull(latency, "latency");
    }

    /** {@code REJECTED 550 5.1.1 ...}, for logs. */
    @Override
    public String toString() {
      return "REJECTED " + reply;
    }
  }

  /**
   * No trustworthy answer could be had. {@link #reason()} says why; {@link #reply()} holds the
   * backend reply where there was one (for {@link Reason#TEMPORARY_FAILURE} always).
   */
  record Unverified(Reason reason, String detail, Optional<BackendReply> reply, Duration latency)
      implements Verdict {
    public Unverified {
      Objects.requireNonNull(reason, "reason");
      Objects.requireNonNull(detail, "detail");
      Objects.requireNonNull(reply, "reply");
      Objects.requireNonNull(latency, "latency");
    }

    /** {@code UNVERIFIED TIMEOUT: detail}, for logs. */
    @Override
    public String toString() {
      return "UNVERIFIED " + reason + ": " + detail;
    }
  }

  /** Why a recipient could not be verified. */
  enum Reason {
    /** The deadline passed before the backend answered. */
    TIMEOUT(Kind.TRANSIENT),
    /** The backend could not be reached, refused the session or dropped it. */
    BACKEND_UNAVAILABLE(Kind.TRANSIENT),
    /** The backend answered {@code 4xx} to the recipient; the reply is attached. */
    TEMPORARY_FAILURE(Kind.TRANSIENT),
    /** The backend answered something that is not valid SMTP; the session was discarded. */
    PROTOCOL_ERROR(Kind.TRANSIENT),
    /** No backend is configured. */
    NOT_CONFIGURED(Kind.CONFIGURATION),
    /**
     * Every pooled session stayed busy until the deadline, or too many asynchronous verifications
     * were waiting already.
     */
    BUSY(Kind.TRANSIENT),
    /** The address is not a valid RFC 5321 mailbox; it was never sent to the backend. */
    INVALID_ADDRESS(Kind.CALLER),
    /**
     * The backend refused the probe sender (at {@code MAIL FROM}, or at {@code RCPT TO} with an
     * enhanced status code about the sender): a configuration error, not the recipient's fault.
     */
    SENDER_REJECTED(Kind.CONFIGURATION),
    /**
     * The backend refused, but not because of the mailbox: its enhanced status code is about
     * policy, this client, the protocol or the system ({@code 5.7.1}, {@code 5.5.2}...), or — where
     * it sends none — it refused a known-good address of the domain too (it verifies the probe
     * sender, refuses this client, or a ratio rule spoilt the session). Logged as a warning once.
     */
    BACKEND_REFUSED(Kind.CONFIGURATION),
    /**
     * The backend refused the address, but there is no evidence yet whether about the mailbox: it
     * has accepted no address to compare with (a fresh start, before any known-good address of the
     * domain is known, see {@link VerifierConfig.Builder#knownGood}). Never a {@code 250}: the
     * policy answers it {@code 451 4.4.3}, so the client tries again once the backend can tell.
     */
    REFUSAL_UNCONFIRMED(Kind.TRANSIENT),
    /**
     * The backend accepts any address in this domain (it accepted a random local part there), so
     * its {@code 250} says nothing about the recipient.
     */
    CATCH_ALL(Kind.NO_ANSWER),
    /**
     * TLS to the backend was required ({@link BackendTls#REQUIRED}, {@link BackendTls#VERIFY}) but
     * could not be had: the backend does not offer {@code STARTTLS} or refused it, the handshake
     * failed, or (VERIFY) its certificate is not trusted or does not name the backend host. Nothing
     * was asked in the clear. Logged as a warning once.
     */
    TLS_FAILED(Kind.CONFIGURATION),
    /**
     * The backend refused the configured credentials ({@code 535}), or offers neither {@code AUTH
     * PLAIN} nor {@code LOGIN}. Logged as a warning once.
     */
    AUTH_FAILED(Kind.CONFIGURATION);

    private final Kind kind;

    Reason(Kind kind) {
      this.kind = kind;
    }

    /** What kind of trouble this is, for a caller deciding what to do about it. */
    public Kind kind() {
      return kind;
    }

    /** The kinds of reasons. */
    public enum Kind {
      /** The caller's address was not one to ask about ({@link #INVALID_ADDRESS}). */
      CALLER,
      /**
       * The verifier or the backend is set up so that it cannot tell (no backend, a probe sender or
       * client it refuses, TLS or AUTH that fails): it will not pass by itself; fix the
       * configuration. Logged as a warning once.
       */
      CONFIGURATION,
      /** The backend could not answer now (down, slow, busy, garbled, 4xx): it may pass. */
      TRANSIENT,
      /** The backend answered, but its answer says nothing ({@link #CATCH_ALL}). */
      NO_ANSWER
    }
  }
}
