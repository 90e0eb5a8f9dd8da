package io.github.rcptproxy.subethasmtp;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.net.InetAddress;
import java.time.Duration;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.Test;

class RecipientPolicyTest {

  @Test
  void defaultsAreTheOriginalSinks() throws Exception {
    RecipientPolicy policy = RecipientPolicy.defaults();

    assertThat(policy.rejectCode()).isEqualTo(550);
    assertThat(policy.rejectionText("x@example.com")).isEqualTo("Unable to relay to x@example.com");
    assertThat(policy.disconnectAfterRejections()).isEqualTo(1);
    assertThat(policy.onUnverified()).isEqualTo(FailureMode.ACCEPT);
    assertThat(policy.onBackendTemporaryFailure()).isEqualTo(FailureMode.ACCEPT);
    assertThat(policy.bypassBackend()).isTrue();
    assertThat(policy.bypasses(InetAddress.getByName("127.0.0.1"))).isTrue();
    assertThat(policy.bypasses(InetAddress.getByName("::1"))).isTrue();
    assertThat(policy.bypasses(InetAddress.getByName("127.0.0.2"))).isFalse();
    assertThat(policy.exposeBackendReply()).isFalse();
    assertThat(policy.tarpit()).isZero();
  }

  @Test
  void onlyATrailingAtIsReplaced() {
    assertThat(
            RecipientPolicy.builder()
                .rejectMessage("mail @ example: no")
                .build()
                .rejectionText("x@y"))
        .isEqualTo("mail @ example: no");
  }

  @Test
  void cidrRangesMatchByPrefix() throws Exception {
    RecipientPolicy policy =
        RecipientPolicy.builder().bypass("10.1.0.0/16", "192.0.2.128/25", "2001:db8::/32").build();

    assertThat(policy.bypasses(InetAddress.getByName("10.1.255.3"))).isTrue();
    assertThat(policy.bypasses(InetAddress.getByName("10.2.0.1"))).isFalse();
    assertThat(policy.bypasses(InetAddress.getByName("192.0.2.200"))).isTrue();
    assertThat(policy.bypasses(InetAddress.getByName("192.0.2.127"))).isFalse();
    assertThat(policy.bypasses(InetAddress.getByName("2001:db8:ffff::1"))).isTrue();
    assertThat(policy.bypasses(InetAddress.getByName("2001:db9::1"))).isFalse();
    assertThat(
            RecipientPolicy.builder()
                .bypass("0.0.0.0/0")
                .build()
                .bypasses(InetAddress.getByName("198.51.100.1")))
        .isTrue();
  }

  @Test
  void refusesBadValuesNamingThem() {
    refuses(b -> b.rejectCode(399), "reject code");
    refuses(b -> b.rejectCode(600), "reject code");
    refuses(b -> b.rejectMessage("two\r\nlines"), "reject message");
    refuses(b -> b.rejectMessage(" "), "reject message");
    refuses(b -> b.bypass("example.com"), "not an IP address");
    refuses(b -> b.bypass("10.0.0.0/33"), "prefix length");
    refuses(b -> b.bypass("::1/129"), "prefix length");
    refuses(b -> b.bypass("10.0.0.0/x"), "prefix length");
    refuses(b -> b.disconnectAfterRejections(-1), "disconnect after rejections");
    refuses(b -> b.tarpit(Duration.ofMillis(-1)), "tarpit");
  }

  @Test
  void acceptsEveryCodeInBothRanges() {
    assertThat(RecipientPolicy.builder().rejectCode(400).build().rejectCode()).isEqualTo(400);
    assertThat(RecipientPolicy.builder().rejectCode(599).build().rejectCode()).isEqualTo(599);
  }

  private static void refuses(UnaryOperator<RecipientPolicy.Builder> change, String message) {
    assertThatThrownBy(() -> change.apply(RecipientPolicy.builder()).build())
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining(message);
  }
}
