package io.github.rcptproxy.cli;

import java.io.IOException;
import java.io.Reader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Properties;
import java.util.Set;
import java.util.TreeSet;
import picocli.CommandLine;
import picocli.CommandLine.Model.ArgSpec;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Model.OptionSpec;
import picocli.CommandLine.Option;

/**
 * Option values not given on the command line: from the environment ({@code --timeout-ms} is {@code
 * RCPTPROXY_TIMEOUT_MS}), else from the {@code --config} properties file ({@code timeout-ms=500}),
 * else the option's own default. The command line wins over both. Holds the command line too, so
 * that the same invocation can be parsed again with the file read again ({@link #reread()}).
 */
final class ConfigDefaults implements CommandLine.IDefaultValueProvider {
  private final List<String> args;
  private final Map<String, String> environment;
  private final Optional<Path> file;
  private final Properties settings;
  private final Optional<String> unreadable;

  private ConfigDefaults(
      List<String> args,
      Map<String, String> environment,
      Optional<Path> file,
      Properties settings,
      Optional<String> unreadable) {
    this.args = args;
    this.environment = environment;
    this.file = file;
    this.settings = settings;
    this.unreadable = unreadable;
  }

  /** {@code --config FILE}, for every command that takes options from a file. */
  static final class ConfigOption {
    // Read by ConfigDefaults before the command line is parsed (the file supplies the defaults of
    // the other options); declared here for parsing, help and completion.
    @Option(
        names = "--config",
        paramLabel = "FILE",
        description =
            "read options from a properties file, by the same names (timeout-ms=500); refuses a"
                + " name the command does not take. The gateway reloads it when it changes")
    Path config;
  }

  /**
   * Reads the file named by {@code --config FILE} or {@code --config=FILE} in {@code args}, else by
   * {@code RCPTPROXY_CONFIG}. A file that cannot be read is reported by {@link #check}, once the
   * command that should have read it is known.
   */
  static ConfigDefaults from(String[] args, Map<String, String> environment) {
    Optional<Path> file = Optional.ofNullable(environment.get("RCPTPROXY_CONFIG")).map(Path::of);
    for (int i = 0; i < args.length; i++) {
      if (args[i].equals("--config") && i + 1 < args.length) {
        file = Optional.of(Path.of(args[i + 1]));
      } else if (args[i].startsWith("--config=")) {
        file = Optional.of(Path.of(args[i].substring("--config=".length())));
      }
    }
    Properties settings = new Properties();
    Optional<String> unreadable = Optional.empty();
    if (file.isPresent()) {
      try (Reader reader = Files.newBufferedReader(file.get(), StandardCharsets.UTF_8)) {
        settings.load(reader);
      } catch (IOException | IllegalArgumentException e) { // IAE: a malformed Unicode escape
        unreadable = Optional.of("cannot read --config " + file.get() + ": " + e);
      }
    }
    return new ConfigDefaults(List.of(args), Map.copyOf(environment), file, settings, unreadable);
  }

  /** The same command line and environment, with the file read again. */
  ConfigDefaults reread() {
    return from(args.toArray(new String[0]), environment);
  }

  String[] args() {
    return args.toArray(new String[0]);
  }

  /** The config file, if one was named. */
  Optional<Path> file() {
    return file;
  }

  /**
   * Refuses a config file that {@code command} cannot use: one that could not be read, or one with
   * a setting that is no option of the command (a typo would otherwise leave the option at its
   * default without a word).
   *
   * @throws CommandLine.ParameterException naming the file, or the first such setting
   */
  void check(CommandSpec command) {
    if (command.findOption("--config") == null) {
      return; // help, generate-completion, demo: they take nothing from a file
    }
    if (unreadable.isPresent()) {
      throw new CommandLine.ParameterException(command.commandLine(), unreadable.get());
    }
    Set<String> known = new TreeSet<>();
    for (OptionSpec option : command.options()) {
      if (takesDefault(option)) {
        known.add(name(option));
      }
    }
    for (String setting : new TreeSet<>(settings.stringPropertyNames())) {
      if (!known.contains(setting)) {
        throw new CommandLine.ParameterException(
            command.commandLine(),
            "unknown setting '"
                + setting
                + "' in "
                + file.orElseThrow()
                + " (rcptproxy "
                + command.name()
                + " --help lists the options)");
      }
    }
  }

  @Override
  public String defaultValue(ArgSpec argument) {
    if (!(argument instanceof OptionSpec option) || !takesDefault(option)) {
      return null;
    }
    String fromEnvironment =
        environment.get("RCPTPROXY_" + name(option).toUpperCase(Locale.ROOT).replace('-', '_'));
    if (fromEnvironment != null) {
      return fromEnvironment;
    }
    if (option.command().findOption("--config") == null) {
      return null; // a command that takes no --config takes nothing from its file
    }
    String fromFile = settings.getProperty(name(option));
    return fromFile == null ? null : fromFile.strip();
  }

  /** Whether an option may come from the environment or the file: not --config, nor help. */
  private static boolean takesDefault(OptionSpec option) {
    return !option.longestName().equals("--config") && !option.usageHelp() && !option.versionHelp();
  }

  private static String name(OptionSpec option) {
    return option.longestName().replaceFirst("^--", "");
  }
}
