package io.github.rcptproxy.cli;

import java.io.IOException;
import java.io.Reader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.Map;
import java.util.Properties;
import picocli.CommandLine;
import picocli.CommandLine.Model.ArgSpec;
import picocli.CommandLine.Model.OptionSpec;

/**
 * Option values not given on the command line: from the environment ({@code --timeout-ms} is {@code
 * RCPTPROXY_TIMEOUT_MS}), else from the {@code --config} properties file ({@code timeout-ms=500}),
 * else the option's own default. The command line wins over both.
 */
final class ConfigDefaults implements CommandLine.IDefaultValueProvider {
  private final Properties file;
  private final Map<String, String> environment;

  ConfigDefaults(Properties file, Map<String, String> environment) {
    this.file = file;
    this.environment = environment;
  }

  /** Reads the file named by {@code --config FILE} or {@code --config=FILE} in {@code args}. */
  static ConfigDefaults from(String[] args, Map<String, String> environment) {
    Properties properties = new Properties();
    String config = environment.get("RCPTPROXY_CONFIG");
    for (int i = 0; i < args.length; i++) {
      if (args[i].equals("--config") && i + 1 < args.length) {
        config = args[i + 1];
      } else if (args[i].startsWith("--config=")) {
        config = args[i].substring("--config=".length());
      }
    }
    if (config != null) {
      try (Reader reader = Files.newBufferedReader(Path.of(config), StandardCharsets.UTF_8)) {
        properties.load(reader);
      } catch (IOException e) {
        throw new CommandLine.ParameterException(
            new CommandLine(new Object()), "cannot read --config " + config + ": " + e);
      }
    }
    return new ConfigDefaults(properties, environment);
  }

  @Override
  public String defaultValue(ArgSpec argument) {
    if (!(argument instanceof OptionSpec option) || option.longestName().equals("--config")) {
      return null;
    }
    String name = option.longestName().replaceFirst("^--", "");
    String fromEnvironment =
        environment.get("RCPTPROXY_" + name.toUpperCase(Locale.ROOT).replace('-', '_'));
    if (fromEnvironment != null) {
      return fromEnvironment;
    }
    return file.getProperty(name);
  }
}
