package io.github.rcptproxy.subethasmtp;

import io.github.rcptproxy.policy.ReplyPolicy;
import java.time.Duration;
import java.util.List;
import java.util.Objects;

/**
 * What the SMTP client is told about its recipients: the shared {@link ReplyPolicy} (who skips
 * verification, the rejection reply, what to do when the backend cannot answer), plus what only an
 * SMTP server of its own can do: skip the backend's own mail, hang up, tarpit. Immutable; built
 * with {@link #builder()}, which validates on {@link Builder#build()}.
 *
 * <p>Defaults follow the 2005 original: bypass {@code 127.0.0.1} (and {@code ::1}) and the
 * backend's own address, reject with {@code 550 Unable to relay to <address>}, accept what cannot
 * be verified; but the hang-up comes after 20 rejected recipients in a session, Postfix's {@code
 * smtpd_hard_error_limit}, not after the first as in the original: hanging up in the middle of a
 * transaction makes the client defer the valid recipients of the same message.
 */
public final class RecipientPolicy {
  private final ReplyPolicy replies;
  private final boolean bypassBackend;
  private final int disconnectAfterRejections;
  private final Duration tarpit;

  private RecipientPolicy(Builder b, ReplyPolicy replies) {
    this.replies = replies;
    this.bypassBackend = b.bypassBackend;
    this.disconnectAfterRejections = b.disconnectAfterRejections;
    this.tarpit = b.tarpit;
  }

  public static Builder builder() {
    return new Builder();
  }

  /** The default policy, as the original's defaults. */
  public static RecipientPolicy defaults() {
    return builder().build();
  }

  /** The replies, bypass ranges and failure modes, as the Postfix policy server has them too. */
  public ReplyPolicy replies() {
    return replies;
  }

  boolean bypassBackend() {
    return bypassBackend;
  }

  int disconnectAfterRejections() {
    return disconnectAfterRejections;
  }

  Duration tarpit() {
    return tarpit;
  }

  @Override
  public String toString() {
    return "RecipientPolicy{"
        + replies
        + (bypassBackend ? ", bypass backend" : "")
        + ", disconnectAfterRejections="
        + disconnectAfterRejections
        + ", tarpit="
        + tarpit
        + "}";
  }

  /**
   * Collects policy values: those of {@link ReplyPolicy.Settings} (bypass ranges, default {@code
   * 127.0.0.1/32, ::1/128}; reject code and message; backend text; failure modes) and the adapter's
   * own; {@link #build()} validates them all. Not thread-safe.
   */
  public static final class Builder extends ReplyPolicy.Settings<Builder> {
    private boolean bypassBackend = true;
    private int disconnectAfterRejections = 20;
    private Duration tarpit = Duration.ZERO;

    private Builder() {
      super(List.of("127.0.0.1/32", "::1/128"));
    }

    /**
     * Whether mail from the backend itself skips verification (default true, as the original
     * registered the backend's IP): it is the other direction of the same gateway.
     */
    public Builder bypassBackend(boolean bypassBackend) {
      this.bypassBackend = bypassBackend;
      return this;
    }

    /**
     * Hang up after this many rejected recipients in one SMTP session; 0 never hangs up. Default
     * 20, Postfix's {@code smtpd_hard_error_limit}: the rejected recipient still gets its own
     * reply, the client's next MAIL or RCPT gets {@code 421 4.7.0} and the connection is closed
     * (RFC 5321 §3.8). The original hung up after 1, at once: a client whose message also had valid
     * recipients lost the connection and deferred them all.
     */
    public Builder disconnectAfterRejections(int disconnectAfterRejections) {
      this.disconnectAfterRejections = disconnectAfterRejections;
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
      ReplyPolicy replies = replyPolicy();
      if (disconnectAfterRejections < 0) {
        throw new IllegalArgumentException(
            "disconnect after rejections cannot be negative, was " + disconnectAfterRejections);
      }
      Objects.requireNonNull(tarpit, "tarpit");
      if (tarpit.isNegative() || tarpit.compareTo(Duration.ofSeconds(60)) > 0) {
        throw new IllegalArgumentException("tarpit must be within 0..60 s, was " + tarpit);
      }
      return new RecipientPolicy(this, replies);
    }
  }
}
