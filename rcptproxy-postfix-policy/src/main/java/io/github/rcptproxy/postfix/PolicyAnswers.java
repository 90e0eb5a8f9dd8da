package io.github.rcptproxy.postfix;

import io.github.rcptproxy.BackendReply;
import io.github.rcptproxy.Verdict;
import io.github.rcptproxy.smtp.SmtpText;
import java.util.List;
import java.util.Objects;

/**
 * What Postfix is told about a recipient: the same text policy as the SubEthaSMTP adapter's {@code
 * RecipientPolicy} (rejection code and template, the backend's text only on request, accept or
 * tempfail what cannot be verified), as policy {@code action=} values. Immutable; {@link
 * Builder#build()} validates.
 *
 * <table>
 *   <caption>verdict to action</caption>
 *   <tr><th>verdict</th><th>action</th></tr>
 *   <tr><td>accepted, catch-all, client bypassed, domain not routed, other protocol states</td>
 *       <td>{@code DUNNO}</td></tr>
 *   <tr><td>rejected</td><td>{@code 550 5.1.1 Unable to relay to ADDRESS}: Postfix's {@code NNN
 *       text} action, which it sends as {@code 550 5.1.1 <ADDRESS>: Recipient address rejected:
 *       Unable to relay to ADDRESS}</td></tr>
 *   <tr><td>invalid address</td><td>{@code 501 5.1.3 Bad recipient address syntax}</td></tr>
 *   <tr><td>unverified, {@code onUnverified(TEMPFAIL)}</td><td>{@code DEFER_IF_PERMIT 4.4.3
 *       Recipient verification unavailable, try again later} (Postfix answers {@code 450})</td></tr>
 *   <tr><td>backend {@code 4xx}, {@code onBackendTemporaryFailure(TEMPFAIL)}</td><td>the backend's
 *       code and enhanced code, generic text</td></tr>
 * </table>
 *
 * <p>The adapter's disconnect-after-rejections and tarpit have no counterpart: Postfix applies its
 * own {@code smtpd_hard_error_limit} and {@code smtpd_error_sleep_time} to these rejections.
 */
public final class PolicyAnswers {
  static final String DUNNO = "DUNNO";

  private final List<AddressRange> bypass;
  private final int rejectCode;
  private final String rejectMessage;
  private final boolean exposeBackendReply;
  private final FailureMode onUnverified;
  private final FailureMode onBackendTemporaryFailure;

  private PolicyAnswers(Builder b, List<AddressRange> bypass) {
    this.bypass = bypass;
    this.rejectCode = b.rejectCode;
    this.rejectMessage = b.rejectMessage;
    this.exposeBackendReply = b.exposeBackendReply;
    this.onUnverified = b.onUnverified;
    this.onBackendTemporaryFailure = b.onBackendTemporaryFailure;
  }

  public static Builder builder() {
    return new Builder();
  }

  /** Reject with {@code 550 5.1.1 Unable to relay to ADDRESS}, accept what cannot be verified. */
  public static PolicyAnswers defaults() {
    return builder().build();
  }

  /** Whether a client address (as Postfix sends it) skips verification. */
  boolean bypasses(String clientAddress) {
    if (bypass.isEmpty()) {
      return false;
    }
    byte[] address = AddressRange.literal(clientAddress);
    if (address == null) {
      return false;
    }
    for (AddressRange range : bypass) {
      if (range.contains(address)) {
        return true;
      }
    }
    return false;
  }

  /** The action for a verdict about {@code recipient}: printable ASCII, one line. */
  String action(Verdict verdict, String recipient) {
    if (verdict instanceof Verdict.Accepted) {
      return DUNNO;
    }
    if (verdict instanceof Verdict.Rejected rejected) {
      String text =
          exposeBackendReply
              ? rejected.reply().text()
              : rejectMessage.endsWith("@")
                  ? rejectMessage.substring(0, rejectMessage.length() - 1) + recipient
                  : rejectMessage;
      return rejectCode + " " + rejectCode / 100 + ".1.1 " + printable(text);
    }
    Verdict.Unverified unverified = (Verdict.Unverified) verdict;
    switch (unverified.reason()) {
      case INVALID_ADDRESS:
        return "501 5.1.3 Bad recipient address syntax";
      case CATCH_ALL:
        return DUNNO;
      case TEMPORARY_FAILURE:
        BackendReply reply =
            unverified.reply().filter(BackendReply::isTransientNegative).orElse(null);
        if (reply == null) {
          return whenUnverified();
        }
        if (onBackendTemporaryFailure == FailureMode.ACCEPT) {
          return DUNNO;
        }
        String enhanced = reply.enhancedStatus().isEmpty() ? "4.0.0" : reply.enhancedStatus();
        String text =
            exposeBackendReply
                ? printable(reply.text())
                : "Recipient cannot be verified now, try again later";
        return reply.code() + " " + enhanced + " " + text;
      default:
        return whenUnverified();
    }
  }

  /** The action when the backend could not be asked. */
  String whenUnverified() {
    return onUnverified == FailureMode.TEMPFAIL
        ? "DEFER_IF_PERMIT 4.4.3 Recipient verification unavailable, try again later"
        : DUNNO;
  }

  /**
   * Only printable ASCII may go into an action ({@link SmtpText#forReply}), and at most 512
   * characters of it.
   */
  private static String printable(String text) {
    String clean = SmtpText.forReply(text);
    return clean.length() > 512 ? clean.substring(0, 512) : clean;
  }

  @Override
  public String toString() {
    return "PolicyAnswers{bypass="
        + bypass
        + ", reject="
        + rejectCode
        + " '"
        + rejectMessage
        + "'"
        + (exposeBackendReply ? " (backend text)" : "")
        + ", onUnverified="
        + onUnverified
        + ", onBackendTemporaryFailure="
        + onBackendTemporaryFailure
        + "}";
  }

  /** Collects values; {@link #build()} validates them all. Not thread-safe. */
  public static final class Builder {
    private List<String> bypass = List.of();
    private int rejectCode = 550;
    private String rejectMessage = "Unable to relay to @";
    private boolean exposeBackendReply;
    private FailureMode onUnverified = FailureMode.ACCEPT;
    private FailureMode onBackendTemporaryFailure = FailureMode.ACCEPT;

    private Builder() {}

    /**
     * Postfix client addresses ({@code client_address}) that skip verification: IPv4/IPv6 addresses
     * or CIDR ranges. Default none: in front of Postfix, put {@code permit_mynetworks} before
     * {@code check_policy_service} instead.
     */
    public Builder bypass(List<String> ranges) {
      this.bypass = List.copyOf(ranges);
      return this;
    }

    public Builder bypass(String... ranges) {
      return bypass(List.of(ranges));
    }

    /** Reply code of a rejection: 400–599 (default 550). */
    public Builder rejectCode(int rejectCode) {
      this.rejectCode = rejectCode;
      return this;
    }

    /** Rejection text, printable ASCII; a trailing {@code @} is replaced by the recipient. */
    public Builder rejectMessage(String rejectMessage) {
      this.rejectMessage = rejectMessage;
      return this;
    }

    /** Send the backend's own reply text instead (off by default: it can name internal hosts). */
    public Builder exposeBackendReply(boolean exposeBackendReply) {
      this.exposeBackendReply = exposeBackendReply;
      return this;
    }

    /** Backend slow, down or busy: {@code DUNNO} (default) or {@code DEFER_IF_PERMIT}. */
    public Builder onUnverified(FailureMode onUnverified) {
      this.onUnverified = onUnverified;
      return this;
    }

    /** Backend answered {@code 4xx}: {@code DUNNO} (default) or pass its {@code 4xx} on. */
    public Builder onBackendTemporaryFailure(FailureMode onBackendTemporaryFailure) {
      this.onBackendTemporaryFailure = onBackendTemporaryFailure;
      return this;
    }

    /**
     * @throws IllegalArgumentException naming the first value out of range
     */
    public PolicyAnswers build() {
      List<AddressRange> ranges = bypass.stream().map(AddressRange::parse).toList();
      if (rejectCode < 400 || rejectCode > 599) {
        throw new IllegalArgumentException(
            "reject code must be within 400..499 or 500..599, was " + rejectCode);
      }
      Objects.requireNonNull(rejectMessage, "rejectMessage");
      if (rejectMessage.isBlank() || !rejectMessage.chars().allMatch(c -> c >= ' ' && c < 0x7f)) {
        throw new IllegalArgumentException(
            "reject message must be printable ASCII, was '" + rejectMessage + "'");
      }
      if (rejectMessage.length() > 400) {
        throw new IllegalArgumentException("reject message cannot be longer than 400 characters");
      }
      Objects.requireNonNull(onUnverified, "onUnverified");
      Objects.requireNonNull(onBackendTemporaryFailure, "onBackendTemporaryFailure");
      return new PolicyAnswers(this, ranges);
    }
  }
}
