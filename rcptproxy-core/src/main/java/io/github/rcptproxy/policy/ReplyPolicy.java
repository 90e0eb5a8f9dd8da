package io.github.rcptproxy.policy;

import io.github.rcptproxy.BackendReply;
import io.github.rcptproxy.Verdict;
import java.net.InetAddress;
import java.util.List;
import java.util.Objects;
import java.util.regex.Pattern;

/**
 * What the client is told about its recipients, whatever SMTP server it talks to: the rejection
 * code and text (the backend's own text only on request: it can name internal hosts), what to do
 * when the backend cannot answer, and which clients skip verification. {@link #decide} turns a
 * {@link Verdict} into a {@link RecipientDecision}:
 *
 * <table>
 *   <caption>verdict to decision</caption>
 *   <tr><th>verdict</th><th>decision</th></tr>
 *   <tr><td>accepted, catch-all</td><td>accept</td></tr>
 *   <tr><td>rejected</td><td>{@link RecipientDecision.Reject}: the reject code, with what the
 *       backend's refusal meant ({@link #rejection}): {@code X.1.1} and the reject message for an
 *       unknown or bad address, {@code X.2.1} disabled, {@code X.2.2} full, {@code X.7.x} policy
 *       (X the reject code's first digit), each with its own text, or the backend's text</td></tr>
 *   <tr><td>invalid address</td><td>{@link RecipientDecision.Refuse} {@code 501 5.1.3 Bad
 *       recipient address syntax}</td></tr>
 *   <tr><td>backend {@code 4xx}</td><td>{@code onBackendTemporaryFailure}: accept, or {@link
 *       RecipientDecision.Refuse} with the backend's code and enhanced code ({@code 4.0.0} if it
 *       gave none), a generic text or the backend's; a mailbox status ({@code 4.2.x}: {@code
 *       4.2.2} full) always refused so, with its meaning ("Mailbox full: ") or the backend's
 *       text</td></tr>
 *   <tr><td>a refusal not confirmed yet (no known-good address to compare with)</td><td>{@link
 *       RecipientDecision.Defer} {@code 451 4.4.3}, whatever {@code onUnverified} says: it may be
 *       a real refusal, so never {@code 250}</td></tr>
 *   <tr><td>not verified (timeout, down, busy, any other failure)</td><td>{@code onUnverified}:
 *       accept, or {@link RecipientDecision.Defer} {@code 451 4.4.3 Recipient verification
 *       unavailable, try again later}</td></tr>
 * </table>
 *
 * <p>Immutable and thread-safe. The SubEthaSMTP adapter's {@code RecipientPolicy} and the Postfix
 * policy server's {@code PolicyAnswers} are built with its {@link Settings} and add what only their
 * server has.
 */
public final class ReplyPolicy {
  /** The enhanced-code details a rejection passes on: policy, or about the address or mailbox. */
  private static final Pattern TOLD_DETAIL =
      Pattern.compile("7\\.[0-9]{1,3}|[12]\\.[1-9][0-9]{0,2}");

  /** The text of a passed-on backend {@code 4xx} when the backend's own text is not shown. */
  static final String TRY_LATER = "Recipient cannot be verified now, try again later";

  private static final RecipientDecision.Refuse BAD_SYNTAX =
      new RecipientDecision.Refuse(501, "5.1.3", "Bad recipient address syntax");
  private static final RecipientDecision.Defer UNAVAILABLE =
      new RecipientDecision.Defer(
          451, "4.4.3", "Recipient verification unavailable, try again later");

  private final List<AddressRange> bypass;
  private final int rejectCode;
  private final String rejectMessage;
  private final boolean exposeBackendReply;
  private final FailureMode onUnverified;
  private final FailureMode onBackendTemporaryFailure;

  private ReplyPolicy(Settings<?> s, List<AddressRange> bypass) {
    this.bypass = bypass;
    this.rejectCode = s.rejectCode;
    this.rejectMessage = s.rejectMessage;
    this.exposeBackendReply = s.exposeBackendReply;
    this.onUnverified = s.onUnverified;
    this.onBackendTemporaryFailure = s.onBackendTemporaryFailure;
  }

  /** A builder whose bypass list is empty. */
  public static Builder builder() {
    return new Builder();
  }

  /** Whether a client skips verification. */
  public boolean bypasses(InetAddress client) {
    for (AddressRange range : bypass) {
      if (range.contains(client)) {
        return true;
      }
    }
    return false;
  }

  /**
   * Whether a client given as an address literal (as Postfix sends {@code client_address}) skips
   * verification; anything that is not a literal does not. Never asks DNS.
   */
  public boolean bypasses(String clientAddress) {
    return !bypass.isEmpty()
        && AddressRange.address(clientAddress).map(this::bypasses).orElse(false);
  }

  public List<AddressRange> bypass() {
    return bypass;
  }

  public int rejectCode() {
    return rejectCode;
  }

  public boolean exposeBackendReply() {
    return exposeBackendReply;
  }

  public FailureMode onUnverified() {
    return onUnverified;
  }

  public FailureMode onBackendTemporaryFailure() {
    return onBackendTemporaryFailure;
  }

  /** The rejection text for an address: the template, with a trailing {@code @} replaced. */
  public String rejectionText(String address) {
    return rejectMessage.endsWith("@")
        ? rejectMessage.substring(0, rejectMessage.length() - 1) + address
        : rejectMessage;
  }

  /** What to tell the client about {@code recipient}, verified as {@code verdict}. */
  public RecipientDecision decide(Verdict verdict, String recipient) {
    if (verdict instanceof Verdict.Accepted) {
      return RecipientDecision.ACCEPT;
    }
    if (verdict instanceof Verdict.Rejected rejected) {
      return rejection(rejected.reply(), recipient);
    }
    Verdict.Unverified unverified = (Verdict.Unverified) verdict;
    switch (unverified.reason()) {
      case INVALID_ADDRESS:
        return BAD_SYNTAX;
      case REFUSAL_UNCONFIRMED:
        return UNAVAILABLE; // perhaps a real refusal: never accepted unverified
      case CATCH_ALL:
        return RecipientDecision.ACCEPT; // the backend takes any address: nothing failed
      case TEMPORARY_FAILURE:
        // Only a 4xx is passed on; anything else is the gateway's problem, not the client's.
        BackendReply reply =
            unverified.reply().filter(BackendReply::isTransientNegative).orElse(null);
        if (reply == null) {
          return unverified();
        }
        String enhanced = reply.enhancedStatus().isEmpty() ? "4.0.0" : reply.enhancedStatus();
        // A mailbox status (4.2.2 full) is this recipient's: the client keeps the message and
        // tries again, as it would talking to the backend; accepted, it would be refused at relay.
        boolean mailbox = enhanced.startsWith("4.2.");
        if (onBackendTemporaryFailure == FailureMode.ACCEPT && !mailbox) {
          return RecipientDecision.ACCEPT;
        }
        String text =
            exposeBackendReply
                ? reply.text()
                : mailbox ? meaning(enhanced.substring(2)) + recipient : TRY_LATER;
        return new RecipientDecision.Refuse(reply.code(), enhanced, text);
      default:
        return unverified();
    }
  }

  /**
   * A rejection that says what the backend's refusal meant: its enhanced code's subject and detail
   * where it is about the address ({@code X.1.y}), the mailbox ({@code X.2.y}) or policy ({@code
   * X.7.y}), else {@code X.1.1}; the class is the reject code's, so that a full mailbox is never
   * told as an unknown one. The reject message is the text of an unknown address; the others get
   * their own, unless the backend's text is shown.
   */
  RecipientDecision.Reject rejection(BackendReply reply, String recipient) {
    String enhanced = reply.enhancedStatus();
    String detail = enhanced.isEmpty() ? "" : enhanced.substring(enhanced.indexOf('.') + 1);
    if (!TOLD_DETAIL.matcher(detail).matches()) {
      detail = "1.1";
    }
    String text;
    if (exposeBackendReply) {
      text = reply.text();
    } else if (detail.startsWith("1.")) {
      text = rejectionText(recipient);
    } else {
      text = meaning(detail) + recipient;
    }
    return new RecipientDecision.Reject(rejectCode, rejectCode / 100 + "." + detail, text);
  }

  private static String meaning(String detail) {
    return switch (detail) {
      case "2.1" -> "Mailbox disabled: ";
      case "2.2" -> "Mailbox full: ";
      default ->
          detail.startsWith("7.") ? "Recipient refused by policy: " : "Mailbox unavailable: ";
    };
  }

  /** What to tell the client when the recipient could not be verified at all. */
  public RecipientDecision unverified() {
    return onUnverified == FailureMode.TEMPFAIL ? UNAVAILABLE : RecipientDecision.ACCEPT;
  }

  @Override
  public String toString() {
    return "bypass="
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
        + onBackendTemporaryFailure;
  }

  /** A builder of a {@link ReplyPolicy} alone. Not thread-safe. */
  public static final class Builder extends Settings<Builder> {
    private Builder() {}

    /**
     * @throws IllegalArgumentException naming the first value that is out of range
     */
    public ReplyPolicy build() {
      return replyPolicy();
    }
  }

  /**
   * The settings of a {@link ReplyPolicy}, for the builders of the policies that hold one; {@link
   * #replyPolicy()} validates them all. Not thread-safe.
   *
   * @param <B> the builder itself, returned by every setter
   */
  public abstract static class Settings<B extends Settings<B>> {
    private List<String> bypass;
    private int rejectCode = 550;
    private String rejectMessage = "Unable to relay to @";
    private boolean exposeBackendReply;
    private FailureMode onUnverified = FailureMode.ACCEPT;
    private FailureMode onBackendTemporaryFailure = FailureMode.ACCEPT;

    /** Settings with the defaults, and these client ranges bypassing verification. */
    protected Settings(List<String> defaultBypass) {
      this.bypass = List.copyOf(defaultBypass);
    }

    /** Settings with the defaults; no client bypasses verification. */
    protected Settings() {
      this(List.of());
    }

    @SuppressWarnings("unchecked")
    private B self() {
      return (B) this;
    }

    /**
     * Client addresses that skip verification, as IPv4 or IPv6 addresses or CIDR ranges ({@code
     * 10.0.0.0/8}, {@code 2001:db8::/32}); replaces the default list, and an empty list bypasses
     * nobody.
     */
    public B bypass(List<String> ranges) {
      this.bypass = List.copyOf(ranges);
      return self();
    }

    public B bypass(String... ranges) {
      return bypass(List.of(ranges));
    }

    /** Reply code of a rejection: 500–599 (550, the default, or 554 preferred) or 400–499. */
    public B rejectCode(int rejectCode) {
      this.rejectCode = rejectCode;
      return self();
    }

    /**
     * Reply text of a rejection, without code; a trailing {@code @} is replaced by the recipient.
     * Printable ASCII only. Default {@code Unable to relay to @}.
     */
    public B rejectMessage(String rejectMessage) {
      this.rejectMessage = rejectMessage;
      return self();
    }

    /**
     * Show the client the backend's own reply text instead of the rejection message. Off by
     * default: it can name internal hosts.
     */
    public B exposeBackendReply(boolean exposeBackendReply) {
      this.exposeBackendReply = exposeBackendReply;
      return self();
    }

    /**
     * When the backend could not be asked (timeout, down, busy...): accept (default), or {@code 451
     * 4.4.3} ({@code DEFER_IF_PERMIT} to Postfix).
     */
    public B onUnverified(FailureMode onUnverified) {
      this.onUnverified = onUnverified;
      return self();
    }

    /** When the backend answered {@code 4xx}: accept (default), or pass its {@code 4xx} on. */
    public B onBackendTemporaryFailure(FailureMode onBackendTemporaryFailure) {
      this.onBackendTemporaryFailure = onBackendTemporaryFailure;
      return self();
    }

    /**
     * The policy these settings make.
     *
     * @throws IllegalArgumentException naming the first value that is out of range
     */
    protected final ReplyPolicy replyPolicy() {
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
      return new ReplyPolicy(this, ranges);
    }
  }
}
