package io.github.rcptproxy.subethasmtp;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.github.rcptproxy.policy.FailureMode;
import io.github.rcptproxy.policy.ReplyPolicy;
import java.net.InetAddress;
import java.time.Duration;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.Test;

/** The adapter's own knobs and defaults; the shared replies are {@code ReplyPolicyTest}'s. */
class RecipientPolicyTest {

  @Test
  void defaultsAreTheOriginalSinks() throws Exception {
    RecipientPolicy policy = RecipientPolicy.defaults();
    ReplyPolicy replies = policy.replies();

    assertThat(replies.rejectCode()).isEqualTo(550);
    assertThat(replies.rejectionText("x@example.com"))
        .isEqualTo("Unable to relay to x@example.com");
    // not the original's 1: Postfix's smtpd_hard_error_limit, so a typo costs no co-recipient
    assertThat(policy.disconnectAfterRejections()).isEqualTo(20);
    assertThat(replies.onUnverified()).isEqualTo(FailureMode.ACCEPT);
    assertThat(replies.onBackendTemporaryFailure()).isEqualTo(FailureMode.ACCEPT);
    assertThat(policy.bypassBackend()).isTrue();
    assertThat(replies.bypasses(InetAddress.getByName("127.0.0.1"))).isTrue();
    assertThat(replies.bypasses(InetAddress.getByName("::1"))).isTrue();
    assertThat(replies.bypasses(InetAddress.getByName("127.0.0.2"))).isFalse();
    assertThat(replies.exposeBackendReply()).isFalse();
    assertThat(policy.tarpit()).isZero();
  }

  @Test
  void theSharedSettingsReachTheReplies() throws Exception {
    RecipientPolicy policy =
        RecipientPolicy.builder()
            .bypass("10.0.0.0/8")
            .rejectCode(554)
            .rejectMessage("No such user: @")
            .onUnverified(FailureMode.TEMPFAIL)
            .tarpit(Duration.ofMillis(5))
            .build();

    assertThat(policy.replies().bypasses(InetAddress.getByName("127.0.0.1"))).isFalse();
    assertThat(policy.replies().bypasses(InetAddress.getByName("10.9.8.7"))).isTrue();
    assertThat(policy.replies().rejectCode()).isEqualTo(554);
    assertThat(policy.replies().rejectionText("x@y")).isEqualTo("No such user: x@y");
    assertThat(policy.replies().onUnverified()).isEqualTo(FailureMode.TEMPFAIL);
    assertThat(policy.tarpit()).isEqualTo(Duration.ofMillis(5));
  }

  @Test
  void refusesBadValuesNamingThem() {
    refuses(b -> b.rejectCode(399), "reject code");
    refuses(b -> b.bypass("example.com"), "not an IP address");
    refuses(b -> b.disconnectAfterRejections(-1), "disconnect after rejections");
    refuses(b -> b.tarpit(Duration.ofMillis(-1)), "tarpit");
    refuses(b -> b.tarpit(Duration.ofSeconds(61)), "tarpit");
  }

  private static void refuses(UnaryOperator<RecipientPolicy.Builder> change, String message) {
    assertThatThrownBy(() -> change.apply(RecipientPolicy.builder()).build())
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining(message);
  }
}
