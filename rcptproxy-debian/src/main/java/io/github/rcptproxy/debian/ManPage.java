package io.github.rcptproxy.debian;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import picocli.CommandLine;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Model.OptionSpec;
import picocli.CommandLine.Model.PositionalParamSpec;

/**
 * A man page (troff, {@code man(7)} macros) of one command of a picocli model: name, synopsis,
 * description, its subcommands, options with their defaults, exit status, files and see also. Every
 * word comes from the model, so the page says what {@code --help} says.
 */
final class ManPage {
  private final CommandSpec command;
  private final String version;
  private final List<String> environment;
  private final List<String> files;

  /**
   * @param command the command (its qualified name, {@code rcptproxy gateway}, names the page
   *     {@code rcptproxy-gateway(1)})
   * @param version the package version, in the page's footer
   * @param environment variables to list under ENVIRONMENT, each with what it does after a tab
   * @param files paths to list under FILES, each with what it is after a tab
   */
  ManPage(CommandSpec command, String version, List<String> environment, List<String> files) {
    this.command = command;
    this.version = version;
    this.environment = List.copyOf(environment);
    this.files = List.copyOf(files);
  }

  /** The page's name: {@code rcptproxy-gateway} for {@code rcptproxy gateway}. */
  static String name(CommandSpec command) {
    return command.qualifiedName("-");
  }

  /** The page, to be written to {@code NAME.1}. */
  String troff() {
    StringBuilder page = new StringBuilder();
    page.append(".\\\" Generated from the rcptproxy command's picocli model; do not edit.\n");
    page.append(".TH ")
        .append(quoted(name(command).toUpperCase(Locale.ROOT)))
        .append(" 1 \"\" ")
        .append(quoted("rcptproxy " + version))
        .append(" \"User Commands\"\n");
    page.append(".nh\n.ad l\n"); // no hyphenation, ragged right: option names stay whole
    section(page, "NAME");
    List<String> description = List.of(command.usageMessage().description());
    page.append(escape(name(command))).append(" \\- ").append(escape(summary(command)));
    page.append('\n');
    synopsis(page);
    section(page, "DESCRIPTION");
    paragraphs(page, description);
    commands(page);
    options(page);
    exitStatus(page);
    list(page, "ENVIRONMENT", ".B ", environment);
    list(page, "FILES", ".I ", files);
    seeAlso(page);
    return page.toString();
  }

  /** A section of terms, each {@code term<TAB>what it is}, the term set with {@code font}. */
  private static void list(StringBuilder page, String name, String font, List<String> items) {
    if (items.isEmpty()) {
      return;
    }
    section(page, name);
    for (String item : items) {
      String[] parts = item.split("\t", 2);
      page.append(".TP\n").append(font).append(escape(parts[0])).append('\n');
      page.append(escape(parts.length > 1 ? parts[1] : "")).append('\n');
    }
  }

  private void synopsis(StringBuilder page) {
    section(page, "SYNOPSIS");
    page.append(".B ").append(escape(command.qualifiedName())).append('\n');
    List<String> words = new ArrayList<>();
    if (!command.options().isEmpty()) {
      words.add("[OPTIONS]");
    }
    for (PositionalParamSpec parameter : command.positionalParameters()) {
      if (!parameter.hidden()) {
        words.add("[" + parameter.paramLabel() + "...]");
      }
    }
    if (!visibleSubcommands().isEmpty()) {
      words.add("COMMAND");
    }
    page.append(escape(String.join(" ", words))).append('\n');
  }

  private void commands(StringBuilder page) {
    List<CommandLine> subcommands = visibleSubcommands();
    if (subcommands.isEmpty()) {
      return;
    }
    section(page, "COMMANDS");
    for (CommandLine subcommand : subcommands) {
      CommandSpec spec = subcommand.getCommandSpec();
      page.append(".TP\n.B ").append(escape(spec.name())).append('\n');
      page.append(escape(summary(spec)));
      if (isOwnPage(spec)) {
        page.append(". See\n.BR ").append(escape(name(spec))).append(" (1)");
      }
      page.append(".\n");
    }
  }

  private void options(StringBuilder page) {
    List<OptionSpec> options = command.options().stream().filter(o -> !o.hidden()).toList();
    List<PositionalParamSpec> parameters =
        command.positionalParameters().stream().filter(p -> !p.hidden()).toList();
    if (options.isEmpty() && parameters.isEmpty()) {
      return;
    }
    section(page, "OPTIONS");
    for (PositionalParamSpec parameter : parameters) {
      page.append(".TP\n.I ").append(escape(parameter.paramLabel())).append('\n');
      paragraphs(page, List.of(parameter.renderedDescription()));
    }
    for (OptionSpec option : options) {
      // the term: bold names, then the value's label in italics (none for a flag)
      StringBuilder term = new StringBuilder(".TP\n");
      String[] names = option.names();
      for (int i = 0; i < names.length; i++) {
        term.append(i == 0 ? "" : ", ").append("\\fB").append(escape(names[i])).append("\\fR");
      }
      if (option.arity().max() > 0) {
        term.append(" \\fI").append(escape(option.paramLabel())).append("\\fR");
      }
      page.append(term).append('\n');
      paragraphs(page, List.of(option.renderedDescription()));
      String defaultValue = option.defaultValue();
      if (defaultValue != null
          && !defaultValue.isEmpty()
          && !option.usageHelp()
          && !option.versionHelp()
          && option.arity().max() > 0) {
        page.append(".br\nDefault: ").append(escape(defaultValue)).append('\n');
      }
    }
  }

  private void exitStatus(StringBuilder page) {
    Map<String, String> codes = command.usageMessage().exitCodeList();
    if (codes.isEmpty()) {
      return;
    }
    section(page, "EXIT STATUS");
    codes.forEach(
        (code, meaning) ->
            page.append(".TP\n.B ")
                .append(escape(code.strip()))
                .append('\n')
                .append(escape(meaning))
                .append('\n'));
  }

  private void seeAlso(StringBuilder page) {
    List<String> pages = new ArrayList<>();
    if (command.parent() != null) {
      pages.add(name(command.root()));
    }
    for (CommandLine subcommand : visibleSubcommands()) {
      if (isOwnPage(subcommand.getCommandSpec())) {
        pages.add(name(subcommand.getCommandSpec()));
      }
    }
    if (pages.isEmpty()) {
      return;
    }
    section(page, "SEE ALSO");
    for (int i = 0; i < pages.size(); i++) {
      page.append(".BR ")
          .append(escape(pages.get(i)))
          .append(" (1)")
          .append(i < pages.size() - 1 ? "," : "")
          .append('\n');
    }
  }

  /** The subcommands listed: not hidden, and not picocli's help. */
  private List<CommandLine> visibleSubcommands() {
    return command.subcommands().values().stream()
        .distinct()
        .filter(c -> !c.getCommandSpec().usageMessage().hidden())
        .toList();
  }

  /** Whether a subcommand gets a page of its own: one that takes options of its own. */
  static boolean isOwnPage(CommandSpec command) {
    return !command.usageMessage().hidden()
        && !(command.userObject() instanceof CommandLine.HelpCommand)
        && !(command.userObject() instanceof picocli.AutoComplete.GenerateCompletion);
  }

  private static void section(StringBuilder page, String name) {
    page.append(".SH ").append(quoted(name)).append('\n');
  }

  /** Each line of a picocli description as a paragraph; an indented one as an example. */
  private static void paragraphs(StringBuilder page, List<String> lines) {
    boolean first = true;
    for (String raw : lines) {
      for (String line : raw.replace("%n", "\n").replace("%%", "%").split("\n")) {
        if (line.startsWith("  ")) {
          page.append(".IP \"\" 4\n").append(escape(line.strip())).append('\n');
        } else {
          page.append(first ? "" : ".PP\n").append(escape(line)).append('\n');
        }
        first = false;
      }
    }
  }

  /**
   * What a command is, for NAME and COMMANDS: its description's first line up to a colon, without
   * the closing period or colon.
   */
  static String summary(CommandSpec command) {
    String text =
        String.join("\n", command.usageMessage().description())
            .replace("%n", "\n")
            .replace("%%", "%")
            .strip();
    text = text.lines().findFirst().orElse("");
    int colon = text.indexOf(": ");
    String sentence = colon > 0 ? text.substring(0, colon) : text;
    return sentence.replaceFirst("[.:]$", "");
  }

  private static String quoted(String text) {
    return "\"" + escape(text).replace("\"", "\\(dq") + "\"";
  }

  /**
   * Text safe on a troff line: backslashes doubled, hyphens as {@code \-} (so options can be
   * searched and copied), and a leading period or apostrophe guarded with {@code \&}.
   */
  static String escape(String text) {
    String escaped = text.replace("\\", "\\e").replace("-", "\\-");
    if (escaped.startsWith(".") || escaped.startsWith("'")) {
      escaped = "\\&" + escaped;
    }
    return escaped;
  }
}
