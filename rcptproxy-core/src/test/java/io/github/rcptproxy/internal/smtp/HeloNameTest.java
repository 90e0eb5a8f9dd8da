package io.github.rcptproxy.internal.smtp;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.InetAddress;
import org.junit.jupiter.api.Test;

class HeloNameTest {
  @Test
  void aFullyQualifiedHostNameIsGiven() {
    assertThat(HeloName.fullyQualified("mx1.example.com")).contains("mx1.example.com");
  }

  @Test
  void aBareOrMalformedHostNameIsNot() {
    assertThat(HeloName.fullyQualified("vm")).isEmpty();
    assertThat(HeloName.fullyQualified("localhost")).isEmpty();
    assertThat(HeloName.fullyQualified("host.example.")).isEmpty();
    assertThat(HeloName.fullyQualified("under_score.example.com")).isEmpty();
    assertThat(HeloName.fullyQualified("10.0.0.1")).isEmpty(); // an address is not a name
    assertThat(HeloName.fullyQualified(null)).isEmpty();
  }

  @Test
  void withoutOneTheConnectionsAddressIsGivenAsALiteral() throws Exception {
    assertThat(HeloName.literal(InetAddress.getByName("192.0.2.7"))).isEqualTo("[192.0.2.7]");
    assertThat(HeloName.literal(InetAddress.getByName("::1"))).isEqualTo("[IPv6:0:0:0:0:0:0:0:1]");
  }
}
