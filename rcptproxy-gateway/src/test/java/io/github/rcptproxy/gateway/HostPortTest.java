package io.github.rcptproxy.gateway;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** The one reader of {@code HOST:PORT} for every option that takes an address. */
class HostPortTest {
  @Test
  void readsHostPortHostAloneAndBracketedIpv6() {
    assertThat(HostPort.parse("127.0.0.1:2525", 25)).isEqualTo(new HostPort("127.0.0.1", 2525));
    assertThat(HostPort.parse("mx.example", 25)).isEqualTo(new HostPort("mx.example", 25));
    assertThat(HostPort.parse("[::1]:0", 25)).isEqualTo(new HostPort("::1", 0));
  }

  /**
   * {@code Integer.parseInt} took a sign and non-ASCII digits: {@code 127.0.0.1:+25} was port 25.
   */
  @ParameterizedTest
  @ValueSource(
      strings = {
        "127.0.0.1:+25",
        "127.0.0.1:-0",
        "[::1]:+25",
        "127.0.0.1:\u0662\u0665",
        "127.0.0.1:65536",
        "127.0.0.1:"
      })
  void aPortIsZeroTo65535InDigitsOnly(String address) {
    assertThatThrownBy(() -> HostPort.parse(address, 25))
        .isInstanceOf(UsageException.class)
        .hasMessageContaining("bad port in '" + address + "'");
  }
}
