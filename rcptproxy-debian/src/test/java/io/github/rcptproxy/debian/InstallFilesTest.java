package io.github.rcptproxy.debian;

import static org.assertj.core.api.Assertions.assertThat;

import io.github.rcptproxy.cli.Rcptproxy;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.ZoneOffset;
import java.time.ZonedDateTime;
import java.util.zip.GZIPInputStream;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import picocli.CommandLine;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Model.OptionSpec;

/** The man pages and the completion script the build writes from the picocli model. */
class InstallFilesTest {
  @TempDir static Path share;

  static synchronized Path written() throws IOException {
    if (!share.resolve("man/man1/rcptproxy.1.gz").toFile().exists()) {
      InstallFiles.write(share, "1.2.3");
    }
    return share;
  }

  @Test
  void everyCommandButHelpAndCompletionHasAPageThatManRendersWithoutAWarning() throws IOException {
    Assumptions.assumeTrue(Commands.installed("man"), "man pages not rendered: install man-db");
    for (CommandSpec command : InstallFiles.pages(new CommandLine(Rcptproxy.class))) {
      Path page = written().resolve("man/man1/" + ManPage.name(command) + ".1.gz");
      Commands.Result rendered =
          Commands.run("env", "MANWIDTH=200", "man", "--warnings", "-P", "cat", "-l", "" + page);
      assertThat(rendered.exitCode()).as(rendered.output()).isZero();
      assertThat(rendered.output()).doesNotContain("warning");
      for (OptionSpec option : command.options()) {
        assertThat(rendered.output()).contains(option.longestName());
      }
    }
    assertThat(InstallFiles.pages(new CommandLine(Rcptproxy.class)))
        .extracting(ManPage::name)
        .containsExactly(
            "rcptproxy",
            "rcptproxy-gateway",
            "rcptproxy-policy",
            "rcptproxy-verify",
            "rcptproxy-probe",
            "rcptproxy-demo");
  }

  @Test
  void thePageOfASubcommandNamesItAndItsDefaults() throws IOException {
    Assumptions.assumeTrue(Commands.installed("man"), "man pages not rendered: install man-db");
    Commands.Result rendered =
        Commands.run(
            "env",
            "MANWIDTH=200",
            "man",
            "-P",
            "cat",
            "-l",
            written().resolve("man/man1/rcptproxy-gateway.1.gz").toString());
    assertThat(rendered.output())
        .contains("rcptproxy-gateway - The screening SMTP gateway")
        .contains("rcptproxy 1.2.3")
        // the option, its label, its description and its default, in that order
        .containsPattern("(?s)--relay-timeout-s N\\s+time\\s+allowed.*?Default:\\s+300\\n")
        .contains("/etc/rcptproxy/gateway.conf");
  }

  @Test
  void gzipsAtTheHighestLevelMarkedInTheHeaderAndReadableByGzip() throws IOException {
    Path file = share.resolve("text.gz");
    String text = "rcptproxy \u00e9 ".repeat(1000);
    InstallFiles.gzip(file, text);
    byte[] bytes = Files.readAllBytes(file);
    assertThat(bytes[8]).as("XFL: best compression").isEqualTo((byte) 2);
    try (InputStream in = new GZIPInputStream(Files.newInputStream(file))) {
      assertThat(new String(in.readAllBytes(), StandardCharsets.UTF_8)).isEqualTo(text);
    }
  }

  @Test
  void theChangelogHasTheDebianVersionAndADateDebianReads() {
    assertThat(
            InstallFiles.changelog(
                "0.1.0-SNAPSHOT", ZonedDateTime.of(2026, 12, 7, 4, 5, 6, 0, ZoneOffset.UTC)))
        .startsWith("rcptproxy (0.1.0~SNAPSHOT) unstable; urgency=medium\n")
        .endsWith(">  Mon, 07 Dec 2026 04:05:06 +0000\n");
  }

  /** Each option with a fixed set of values is completed with its own values. */
  @ParameterizedTest(name = "{0}")
  @CsvSource({
    "'rcptproxy pol', policy",
    "'rcptproxy policy --backend-t', --backend-tls",
    "'rcptproxy policy --backend-tls ', none opportunistic required verify",
    "'rcptproxy gateway --on-unverified ', accept tempfail",
    "'rcptproxy verify --backend-protocol ', smtp lmtp"
  })
  void bashCompletesFromTheScript(String line, String expected) throws IOException {
    String script = written().resolve("bash-completion/completions/rcptproxy").toString();
    Commands.Result completed =
        Commands.run(
            "bash",
            "-c",
            "source \"$1\"; COMP_LINE=\"$2\"; read -ra COMP_WORDS <<< \"$2\";"
                + " [[ \"$2\" == *' ' ]] && COMP_WORDS+=(''); COMP_CWORD=$((${#COMP_WORDS[@]}-1));"
                + " _complete_rcptproxy 2>/dev/null; echo \"${COMPREPLY[@]}\"",
            "complete",
            script,
            line);
    assertThat(completed.output().strip()).isEqualTo(expected);
  }
}
