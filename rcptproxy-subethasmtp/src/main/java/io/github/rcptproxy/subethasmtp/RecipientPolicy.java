package io.github.rcptproxy.subethasmtp;

import java.net.InetAddress;
import java.time.Duration;
import java.util.List;
import java.util.Objects;

/**
 * What the SMTP client is told about its recipients: who skips verification, the rejection reply,
 * when to hang up, and what to do when the backend cannot answer. Immutable; built with {@link
 * #builder()}, which validates on {@link Builder#build()}.
 *
 * <p>Defaults follow the 2005 original: bypass {@code 127.0.0.1} (and {@code ::1}) and the
 * backend's own address, reject with {@code 550 Unable to relay to <address>}, disconnect after the
 * first rejection, accept what cannot be verified.
 */
public final class RecipientPolicy {
  private final List<Cidr> bypass;
  private final boolean bypassBackend;
  private final int rejectCode;
  private final String rejectMessage;
  private final boolean exposeBackendReply;
  private final int disconnectAfterRejections;
  private final FailureMode onUnverified;
  private final FailureMode onBackendTemporaryFailure;
  private final Duration tarpit;

  private RecipientPolicy(Builder b, List<Cidr> bypass) {
    this.bypass = bypass;
    this.bypassBackend = b.bypassBackend;
    this.rejectCode = b.rejectCode;
    this.rejectMessage = b.rejectMessage;
    this.exposeBackendReply = b.exposeBackendReply;
    this.disconnectAfterRejections = b.disconnectAfterRejections;
    this.onUnverified = b.onUnverified;
    this.onBackendTemporaryFailure = b.onBackendTemporaryFailure;
    this.tarpit = b.tarpit;
  }

  public static Builder builder() {
    return new Builder();
  }

  /** The default policy, as the original's defaults. */
  public static RecipientPolicy defaults() {
    return builder().build();
  }

  boolean bypasses(InetAddress client) {
    for (Cidr range : bypass) {
      if (range.contains(client)) {
        return true;
      }
    }
    return false;
  }

  boolean bypassBackend() {
    return bypassBackend;
  }

  int rejectCode() {
    return rejectCode;
  }

  boolean exposeBackendReply() {
    return exposeBackendReply;
  }

  int disconnectAfterRejections() {
    return disconnectAfterRejections;
  }

  FailureMode onUnverified() {
    return onUnverified;
  }

  FailureMode onBackendTemporaryFailure() {
    return onBackendTemporaryFailure;
  }

  Duration tarpit() {
    return tarpit;
  }

  /** The rejection text for an address: the template, with a trailing {@code @} replaced. */
  String rejectionText(String address) {
    return rejectMessage.endsWith("@")
        ? rejectMessage.substring(0, rejectMessage.length() - 1) + address
        : rejectMessage;
  }

  @Override
  public String toString() {
    return "RecipientPolicy{bypass="
        + bypass
        + (bypassBackend ? " + backend" : "")
        + ", reject="
        + rejectCode
        + " '"
        + rejectMessage
        + "'"
        + ", disconnectAfterRejections="
        + disconnectAfterRejections
        + ", onUnverified="
        + onUnverified
        + ", onBackendTemporaryFailure="
        + onBackendTemporaryFailure
        + ", tarpit="
        + tarpit
        + "}";
  }

  /** Collects policy values; {@link #build()} validates them all. Not thread-safe. */
  public static final class Builder {
    private List<String> bypass = List.of("127.0.0.1/32", "::1/128");
    private boolean bypassBackend = true;
    private int rejectCode = 550;
    private String rejectMessage = "Unable to relay to @";
    private boolean exposeBackendReply;
    private int disconnectAfterRejections = 1;
    private FailureMode onUnverified = FailureMode.ACCEPT;
    private FailureMode onBackendTemporaryFailure = FailureMode.ACCEPT;
    private Duration tarpit = Duration.ZERO;

    private Builder() {}

    /**
     * Client addresses that skip verification, as IPv4 or IPv6 addresses or CIDR ranges ({@code
     * 10.0.0.0/8}, {@code 2001:db8::/32}). Replaces the default {@code 127.0.0.1/32, ::1/128}; an
     * empty list bypasses nobody (but see {@link #bypassBackend}).
     */
    public Builder bypass(List<String> ranges) {
      this.bypass = List.copyOf(ranges);
      return this;
    }

    public Builder bypass(String... ranges) {
      return bypass(List.of(ranges));
    }

    /**
     * Whether mail from the backend itself skips verification (default true, as the original
     * registered the backend's IP): it is the other direction of the same gateway.
     */
    public Builder bypassBackend(boolean bypassBackend) {
      this.bypassBackend = bypassBackend;
      return this;
    }

    /** Reply code of a rejection: 500–599 (550 or 554 preferred) or 400–499. */
    public Builder rejectCode(int rejectCode) {
      this.rejectCode = rejectCode;
      return this;
    }

    /**
     * Reply text of a rejection, without code; a trailing {@code @} is replaced by the recipient.
     * Printable ASCII only.
     */
    public Builder rejectMessage(String rejectMessage) {
      this.rejectMessage = rejectMessage;
      return this;
    }

    /**
     * Show the client the backend's own reply text instead of the rejection message. Off by
     * default: it can name internal hosts.
     */
    public Builder exposeBackendReply(boolean exposeBackendReply) {
      this.exposeBackendReply = exposeBackendReply;
      return this;
    }

    /**
     * Hang up after this many rejected recipients in one SMTP session (default 1, as the original);
     * 0 never hangs up.
     */
    public Builder disconnectAfterRejections(int disconnectAfterRejections) {
      this.disconnectAfterRejections = disconnectAfterRejections;
      return this;
    }

    /**
     * When the backend could not be asked (timeout, down, busy...): accept, or {@code 451 4.4.3}.
     */
    public Builder onUnverified(FailureMode onUnverified) {
      this.onUnverified = onUnverified;
      return this;
    }

    /** When the backend answered {@code 4xx}: accept, or pass its {@code 4xx} on. */
    public Builder onBackendTemporaryFailure(FailureMode onBackendTemporaryFailure) {
      this.onBackendTemporaryFailure = onBackendTemporaryFailure;
      return this;
    }

    /** Delay before each rejection reply, to slow directory harvesting; zero (default) for none. */
    public Builder tarpit(Duration tarpit) {
      this.tarpit = tarpit;
      return this;
    }

    /**
     * @throws IllegalArgumentException naming the first value that is out of range
     */
    public RecipientPolicy build() {
      List<Cidr> ranges = bypass.stream().map(Cidr::parse).toList();
      if (!(rejectCode >= 400 && rejectCode <= 599)) {
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
      if (disconnectAfterRejections < 0) {
        throw new IllegalArgumentException(
            "disconnect after rejections cannot be negative, was " + disconnectAfterRejections);
      }
      Objects.requireNonNull(onUnverified, "onUnverified");
      Objects.requireNonNull(onBackendTemporaryFailure, "onBackendTemporaryFailure");
      Objects.requireNonNull(tarpit, "tarpit");
      if (tarpit.isNegative() || tarpit.compareTo(Duration.ofSeconds(60)) > 0) {
        throw new IllegalArgumentException("tarpit must be within 0..60 s, was " + tarpit);
      }
      return new RecipientPolicy(this, ranges);
    }
  }
}
