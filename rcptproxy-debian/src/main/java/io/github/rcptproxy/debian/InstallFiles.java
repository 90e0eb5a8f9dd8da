package io.github.rcptproxy.debian;

import io.github.rcptproxy.cli.Rcptproxy;
import java.io.FilterOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.ZoneOffset;
import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.zip.CRC32;
import java.util.zip.Deflater;
import java.util.zip.DeflaterOutputStream;
import picocli.AutoComplete;
import picocli.CommandLine;
import picocli.CommandLine.Model.CommandSpec;

/**
 * Writes the files of the package that come from the command's picocli model, under a directory
 * that the package installs as {@code /usr/share}: {@code man/man1/rcptproxy.1.gz} and one page per
 * subcommand ({@code rcptproxy-gateway.1.gz}, ...), {@code bash-completion/completions/rcptproxy},
 * and {@code doc/rcptproxy/changelog.gz}. Run by the build: {@code InstallFiles DIRECTORY VERSION}.
 */
public final class InstallFiles {
  /** The files every page lists, with what each is. */
  static final List<String> FILES =
      List.of(
          "/etc/rcptproxy/gateway.conf\toptions of rcptproxy-gateway.service (--config)",
          "/etc/rcptproxy/policy.conf\toptions of rcptproxy-policy.service (--config)",
          "/usr/share/doc/rcptproxy\tthe package's documentation");

  /** The environment every page lists: the launcher's, and the options'. */
  static final List<String> ENVIRONMENT =
      List.of(
          "JAVA_HOME\tthe Java 17 runtime to run (default: Debian's OpenJDK 17, else java on the"
              + " PATH)",
          "JAVA_OPTS\toptions for the JVM, e.g. -Xmx256m",
          "RCPTPROXY_CONFIG\tthe --config file, if none is given",
          "RCPTPROXY_NAME\tthe option --name (RCPTPROXY_TIMEOUT_MS: --timeout-ms); the command"
              + " line wins over the environment, which wins over the --config file");

  private InstallFiles() {}

  public static void main(String[] args) throws IOException {
    if (args.length != 2) {
      throw new IllegalArgumentException("usage: InstallFiles DIRECTORY VERSION");
    }
    write(Path.of(args[0]), args[1]);
  }

  /** Writes the man pages and the completion script under {@code share}. */
  static void write(Path share, String version) throws IOException {
    CommandLine root = new CommandLine(Rcptproxy.class);
    Path man1 = Files.createDirectories(share.resolve("man/man1"));
    for (CommandSpec command : pages(root)) {
      gzip(
          man1.resolve(ManPage.name(command) + ".1.gz"),
          new ManPage(command, version, ENVIRONMENT, FILES).troff());
    }
    Path completions = Files.createDirectories(share.resolve("bash-completion/completions"));
    // sourced by bash-completion, never run: without picocli's #! line
    Files.writeString(
        completions.resolve("rcptproxy"),
        AutoComplete.bash("rcptproxy", root).replaceFirst("^#![^\n]*\n", ""),
        StandardCharsets.UTF_8);
    Path doc = Files.createDirectories(share.resolve("doc/rcptproxy"));
    gzip(doc.resolve("changelog.gz"), changelog(version, ZonedDateTime.now(ZoneOffset.UTC)));
  }

  /**
   * The changelog Debian wants in every package: one entry, this build, with the version as the
   * package has it ({@code 0.1.0-SNAPSHOT} is {@code 0.1.0~SNAPSHOT}, as jdeb makes it).
   */
  static String changelog(String version, ZonedDateTime built) {
    return "rcptproxy ("
        + version.replace("-SNAPSHOT", "~SNAPSHOT")
        + ") unstable; urgency=medium\n\n"
        + "  * Built from the rcptproxy sources by mvn package (rcptproxy-debian).\n\n"
        + " -- rcptproxy developers <rcptproxy@users.noreply.github.com>  "
        + DateTimeFormatter.ofPattern("EEE, dd MMM yyyy HH:mm:ss Z", Locale.ROOT).format(built)
        + "\n";
  }

  /** The commands that get a page: the root and each subcommand but help and completion. */
  static List<CommandSpec> pages(CommandLine root) {
    List<CommandSpec> pages = new ArrayList<>();
    pages.add(root.getCommandSpec());
    for (CommandLine subcommand : root.getSubcommands().values()) {
      if (ManPage.isOwnPage(subcommand.getCommandSpec())) {
        pages.add(subcommand.getCommandSpec());
      }
    }
    return pages;
  }

  /**
   * Gzipped at the highest level and marked so in the header (lintian checks the mark, which
   * GZIPOutputStream leaves out), with no file name or time inside.
   */
  static void gzip(Path file, String text) throws IOException {
    byte[] bytes = text.getBytes(StandardCharsets.UTF_8);
    CRC32 crc = new CRC32();
    crc.update(bytes);
    Deflater deflater = new Deflater(Deflater.BEST_COMPRESSION, true);
    try (OutputStream out = Files.newOutputStream(file)) {
      // magic, deflate, no flags, no time, XFL 2 (slowest, best compression), OS 3 (Unix)
      out.write(new byte[] {0x1f, (byte) 0x8b, 8, 0, 0, 0, 0, 0, 2, 3});
      try (DeflaterOutputStream deflated = new DeflaterOutputStream(nonClosing(out), deflater)) {
        deflated.write(bytes);
      }
      ByteBuffer trailer = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
      trailer.putInt((int) crc.getValue()).putInt(bytes.length);
      out.write(trailer.array());
    } finally {
      deflater.end();
    }
  }

  private static OutputStream nonClosing(OutputStream out) {
    return new FilterOutputStream(out) {
      @Override
      public void write(byte[] b, int off, int len) throws IOException {
        out.write(b, off, len);
      }

      @Override
      public void close() throws IOException {
        flush();
      }
    };
  }
}
