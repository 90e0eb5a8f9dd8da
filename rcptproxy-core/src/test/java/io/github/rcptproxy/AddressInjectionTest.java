package io.github.rcptproxy;

import static io.github.rcptproxy.testing.ScriptedSmtpServer.dialogue;
import static org.assertj.core.api.Assertions.assertThat;

import io.github.rcptproxy.testing.ScriptedSmtpServer;
import java.io.IOException;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** Hostile addresses are answered INVALID_ADDRESS and never written to the backend's socket. */
class AddressInjectionTest {
  private ScriptedSmtpServer server;
  private RecipientVerifier verifier;

  @BeforeEach
  void start() {
    server = ScriptedSmtpServer.start(dialogue(address -> "250 2.1.5 Ok\r\n"));
    verifier =
        RecipientVerifier.create(
            VerifierConfig.builder().backend("127.0.0.1", server.port()).build());
  }

  @AfterEach
  void stop() throws IOException {
    verifier.close();
    server.close();
  }

  @ParameterizedTest
  @ValueSource(
      strings = {
        "evil@example.com>\r\nDATA\r\nevil",
        "evil@example.com\rDATA",
        "evil@example.com\nDATA",
        "evil\u0000@example.com",
        "evil<x>@example.com",
        "evil@example.com> NOTIFY=NEVER",
        "\"evil\r\nDATA\"@example.com",
        "\u760d\u760aevil@example.com",
        "@relay.example:evil@example.com"
      })
  void hostileAddressNeverReachesTheBackend(String address) {
    Verdict verdict = verifier.verify(address);

    assertThat(verdict)
        .isInstanceOfSatisfying(
            Verdict.Unverified.class,
            u -> assertThat(u.reason()).isEqualTo(Verdict.Reason.INVALID_ADDRESS));
    assertThat(server.received()).doesNotContain("evil");
  }

  @Test
  void validAddressAfterHostileOnesIsStillVerifiedOnTheSameSession() {
    verifier.verify("ok@example.com");
    verifier.verify("\u760d\u760aevil@example.com"); // backend does not offer SMTPUTF8

    assertThat(verifier.verify("ok2@example.com")).isInstanceOf(Verdict.Accepted.class);
    assertThat(server.connections()).isEqualTo(1);
    assertThat(server.received()).doesNotContain("evil");
  }
}
