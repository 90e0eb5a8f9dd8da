package io.github.rcptproxy.debian;

import static org.assertj.core.api.Assertions.assertThat;

import io.github.rcptproxy.cli.Rcptproxy;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import picocli.CommandLine;

/**
 * The example files under /etc/rcptproxy name only options their command takes, with values it
 * accepts: each setting, commented out or not, is parsed by the command's picocli model as {@code
 * --NAME=VALUE}.
 */
class ExampleConfigTest {
  private static final Path ETC = Path.of("src/deb/etc");
  // a setting, perhaps commented out: #name=value (prose comments have a space after the #)
  private static final Pattern SETTING = Pattern.compile("^#?([a-z][a-z0-9-]*)=(.*)$");

  @ParameterizedTest(name = "{0}")
  @CsvSource({"gateway.conf, gateway", "policy.conf, policy"})
  void everySettingIsAnOptionOfItsCommandWithAValueItAccepts(String file, String command)
      throws IOException {
    List<String> args = new ArrayList<>(List.of(command));
    for (String line : Files.readAllLines(ETC.resolve(file), StandardCharsets.UTF_8)) {
      Matcher setting = SETTING.matcher(line);
      if (setting.matches()) {
        args.add("--" + setting.group(1) + "=" + setting.group(2));
      }
    }
    assertThat(args).as("settings in " + file).hasSizeGreaterThan(5);
    CommandLine rcptproxy = new CommandLine(Rcptproxy.class);
    rcptproxy.getSubcommands().get(command).setOverwrittenOptionsAllowed(true);
    CommandLine.ParseResult parsed = rcptproxy.parseArgs(args.toArray(new String[0]));
    assertThat(parsed.subcommand().commandSpec().name()).isEqualTo(command);
    assertThat(parsed.subcommand().unmatched()).isEmpty();
  }

  @ParameterizedTest(name = "{0}")
  @CsvSource({"gateway.conf", "policy.conf"})
  void nothingIsSetUntilTheAdminSetsIt(String file) throws IOException {
    assertThat(Files.readAllLines(ETC.resolve(file), StandardCharsets.UTF_8))
        .allMatch(line -> line.isEmpty() || line.startsWith("#"));
  }
}
