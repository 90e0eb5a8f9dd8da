package io.github.rcptproxy.gateway.front;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;
import org.subethamail.smtp.auth.LoginFailedException;
import org.subethamail.smtp.auth.PlainAuthenticationHandlerFactory;
import org.subethamail.smtp.internal.server.CommandHandler;
import org.subethamail.smtp.server.SMTPServer;

/**
 * BDAT refused by a check the gateway's own settings never turn on: SubEthaSMTP's authentication
 * requirement, which its own BDAT answers without reading the chunk. The gateway's BDAT makes the
 * check itself and reads the chunk, in a real SubEthaSMTP session over bytes in memory.
 */
class BdatRefusalTest {
  @Test
  void chunkBeforeRequiredAuthenticationIsReadAndThrownAway() {
    SMTPServer server =
        SMTPServer.port(0)
            .hostName("mx.example.com")
            .requireAuth()
            .authenticationHandlerFactory(
                new PlainAuthenticationHandlerFactory(
                    (user, password, context) -> {
                      throw new LoginFailedException();
                    }))
            .messageHandlerFactory(
                context -> {
                  throw new AssertionError("no message here");
                })
            .build();
    CommandHandler commands = server.getCommandHandler();
    commands.addCommand(new BdatCommand());
    String chunk = "STARTTLS\r\n" + "NOOP\r\n".repeat(5);
    MemorySession session =
        new MemorySession(
            server,
            ("BDAT " + chunk.length() + " LAST\r\n" + chunk + "XYZZ\r\n")
                .getBytes(StandardCharsets.US_ASCII));
    assertThat(session.run()).isEqualTo(MemorySession.End.END_OF_INPUT);
    assertThat(session.replies())
        .containsExactly(BdatCommand.AUTH_REQUIRED, "500 Error: command not implemented");
  }
}
