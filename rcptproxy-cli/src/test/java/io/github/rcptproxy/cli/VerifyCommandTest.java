package io.github.rcptproxy.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.github.rcptproxy.testing.PostfixBackend;
import io.github.rcptproxy.testing.RealServers;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.net.InetAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Set;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.subethamail.smtp.server.SMTPServer;
import org.subethamail.wiser.Wiser;

@RealServers
class VerifyCommandTest {
  private Wiser wiser;
  private final ByteArrayOutputStream out = new ByteArrayOutputStream();
  private final ByteArrayOutputStream err = new ByteArrayOutputStream();

  @BeforeEach
  void startBackend() {
    Set<String> mailboxes = Set.of("alice@example.com", "postmaster@example.com");
    wiser =
        Wiser.accepter((from, to) -> mailboxes.contains(to))
            .server(SMTPServer.port(0).bindAddress(InetAddress.getLoopbackAddress()));
    wiser.start();
  }

  @AfterEach
  void stopBackend() {
    wiser.stop();
  }

  private int run(String stdin, String... args) {
    return Rcptproxy.run(
        args,
        new ByteArrayInputStream(stdin.getBytes(StandardCharsets.UTF_8)),
        new PrintStream(out, true, StandardCharsets.UTF_8),
        new PrintStream(err, true, StandardCharsets.UTF_8));
  }

  private String backend() {
    return "127.0.0.1:" + wiser.getServer().getPortAllocated();
  }

  private String[] lines() {
    return out.toString(StandardCharsets.UTF_8).split("\n");
  }

  @Test
  void printsOneLinePerAddressInOrder() {
    int code =
        run(
            "",
            "verify",
            "--backend",
            backend(),
            "alice@example.com",
            "nobody@example.com",
            "bad address");

    assertThat(code).isZero();
    String[] lines = lines();
    assertThat(lines).hasSize(3);
    assertThat(lines[0]).startsWith("alice@example.com\tACCEPTED\t250");
    assertThat(lines[1]).startsWith("nobody@example.com\tREJECTED\t5");
    assertThat(lines[2]).startsWith("bad address\tUNVERIFIED\tINVALID_ADDRESS: ");
  }

  @Test
  void readsAddressesFromStandardInputWhenNoneAreGiven() {
    int code = run("alice@example.com\n\nnobody@example.com\n", "verify", "--backend", backend());

    assertThat(code).isZero();
    assertThat(lines()).hasSize(2);
    assertThat(lines()[0]).startsWith("alice@example.com\tACCEPTED");
    assertThat(lines()[1]).startsWith("nobody@example.com\tREJECTED");
  }

  @Test
  void verifiesAgainstRealPostfix() {
    PostfixBackend postfix = PostfixBackend.shared();

    run(
        "",
        "verify",
        "--backend",
        "127.0.0.1:" + postfix.port(),
        PostfixBackend.known(5),
        PostfixBackend.unknown(5));

    // Postfix's VRFY answers 252 for a mailbox it would take, which does not say: RCPT asks it.
    assertThat(lines()[0]).isEqualTo(PostfixBackend.known(5) + "\tACCEPTED\t250 2.1.5 Ok");
    assertThat(lines()[1])
        .startsWith(
            PostfixBackend.unknown(5)
                + "\tREJECTED\t550 5.1.1 <"
                + PostfixBackend.unknown(5)
                + ">: Recipient address rejected");
  }

  /** {@code verify --backend B --known-good KNOWN ADDRESS}: its exit code. */
  private int verifyNaming(String knownGood, String address) {
    return run("", "verify", "--backend", backend(), "--known-good", knownGood, address);
  }

  @Test
  void aRefusalBeforeAnyAcceptedAddressIsSettledByAKnownGoodAddressNamedOnTheCommandLine() {
    run("", "verify", "--backend", backend(), "nobody@example.com");
    verifyNaming("alice@example.com", "nobody@example.com");

    assertThat(lines()[0]).startsWith("nobody@example.com\tUNVERIFIED\tREFUSAL_UNCONFIRMED: ");
    assertThat(lines()[1]).startsWith("nobody@example.com\tREJECTED\t553");
  }

  @Test
  void aKnownGoodAddressComesFromTheConfigFileToo(@TempDir Path dir) throws IOException {
    Path config =
        Files.writeString(dir.resolve("rcptproxy.properties"), "known-good=alice@example.com\n");

    run("", "verify", "--config", config.toString(), "--backend", backend(), "nobody@example.com");

    assertThat(lines()[0]).startsWith("nobody@example.com\tREJECTED\t553");
  }

  @Test
  void aPostmasterKnownGoodAddressIsRefused() {
    assertThat(verifyNaming("postmaster@example.com", "a@b.c")).isEqualTo(2);
    assertThat(err.toString(StandardCharsets.UTF_8))
        .contains("known-good address cannot be postmaster");
  }

  @Test
  void badArgumentsGiveOneLineAndExitCode2() {
    assertThat(run("", "verify", "alice@example.com")).isEqualTo(2);
    assertThat(run("", "verify", "--backend", "host:notaport")).isEqualTo(2);
    assertThat(run("", "verify", "--backend", backend(), "--timeout-ms", "-5")).isEqualTo(2);
    assertThat(run("", "verify", "--backend", backend(), "--bogus")).isEqualTo(2);
    assertThat(run("", "frobnicate")).isEqualTo(2);

    // verify is a picocli subcommand now: one line each, naming it.
    assertThat(err.toString(StandardCharsets.UTF_8).lines().filter(l -> l.startsWith("rcptproxy")))
        .containsExactly(
            "rcptproxy verify: --backend HOST:PORT is required",
            "rcptproxy verify: Invalid value for option '--backend' (HOST:PORT): bad port in"
                + " 'host:notaport': 0 to 65535, in digits only",
            "rcptproxy verify: Invalid value for option '--timeout-ms': '-5' is not a positive"
                + " whole number",
            "rcptproxy verify: Unknown option: '--bogus'",
            "rcptproxy: Unmatched argument at index 0: 'frobnicate'");
    assertThat(out.toString(StandardCharsets.UTF_8)).isEmpty();
  }
}
