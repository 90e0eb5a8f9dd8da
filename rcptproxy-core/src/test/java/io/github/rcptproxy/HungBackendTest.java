package io.github.rcptproxy;

import static org.assertj.core.api.Assertions.assertThat;

import io.github.rcptproxy.testing.BackendFault;
import io.github.rcptproxy.testing.MutableClock;
import io.github.rcptproxy.testing.PostfixBackend;
import io.github.rcptproxy.testing.RealServers;
import io.github.rcptproxy.testing.ScriptedSmtpServer;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.AutoClose;
import org.junit.jupiter.api.Test;

/**
 * Two backends, the first a hung MTA (it accepts connections and never greets), the second a real
 * Postfix: the hung one costs the first verification its connect timeout, is skipped for the
 * cool-down, and every verdict is Postfix's. (Scripted hosts only: {@code ResilienceTest}.)
 */
@RealServers
class HungBackendTest {
  @AutoClose private final Closer closer = new Closer();

  @Test
  void aHostThatAcceptsButNeverGreetsIsSkippedAndPostfixAnswersEveryVerdict() throws Exception {
    ScriptedSmtpServer hung =
        closer.later(ScriptedSmtpServer.start(BackendFault.NEVER_GREETS.script()));
    PostfixBackend postfix = PostfixBackend.shared();
    postfix.deliverOneMessage(); // hand back inflow tokens other tests kept
    MutableClock clock = new MutableClock();
    RecipientVerifier verifier =
        closer.leakFree(
            RecipientVerifier.create(
                VerifierConfig.builder()
                    .backends(
                        List.of(
                            InetSocketAddress.createUnresolved("127.0.0.1", hung.port()),
                            InetSocketAddress.createUnresolved("127.0.0.1", postfix.port())))
                    .probeMethod(ProbeMethod.RCPT)
                    .maxSessions(1)
                    .idleTimeout(Duration.ofSeconds(10))
                    .clock(clock)
                    .build()));

    // The default 2 s connect timeout and 3 s deadline: the hung host costs the first verification
    // 2 s, and Postfix answers it in what is left.
    for (int i = 0; i < 10; i++) {
      assertThat(verifier.verify(PostfixBackend.known(i))).isInstanceOf(Verdict.Accepted.class);
      assertThat(verifier.verify(PostfixBackend.unknown(i))).isInstanceOf(Verdict.Rejected.class);
    }
    assertThat(hung.connections()).isEqualTo(1);

    clock.advance(Duration.ofSeconds(20)); // the session idled out; the hung host still skipped
    Verdict fast = verifier.verify(PostfixBackend.unknown(100));
    assertThat(fast).isInstanceOf(Verdict.Rejected.class);
    assertThat(fast.latency()).isLessThan(Duration.ofSeconds(1));
    assertThat(hung.connections()).isEqualTo(1);

    clock.advance(Duration.ofSeconds(11)); // past the 30 s cool-down: tried, and skipped again
    assertThat(verifier.verify(PostfixBackend.unknown(101))).isInstanceOf(Verdict.Rejected.class);
    assertThat(hung.connections()).isEqualTo(2);
    assertThat(verifier.verify(PostfixBackend.known(101))).isInstanceOf(Verdict.Accepted.class);
  }
}
