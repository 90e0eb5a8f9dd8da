package io.github.rcptproxy.testing;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import java.util.stream.IntStream;
import java.util.stream.Stream;

/**
 * A real OpenSMTPD 6.8, started from the package that {@code .ci/install-test-mtas} unpacked, on a
 * free loopback port. Mailboxes {@code user0} to {@code user999} and {@code postmaster} exist in
 * {@value #DOMAIN} (a table file of recipients, delivered to one virtual user); any other
 * recipient, in that domain or another (no relaying, not even for 127.0.0.1), is answered {@code
 * 550 Invalid recipient: <address>}. VRFY is not implemented ({@code 500 5.5.1 Invalid command:
 * Command unrecognized}). Accepted mail goes to one maildir ({@link #deliveredCount()}).
 *
 * <p>It runs as root in a private mount namespace ({@code unshare -m}) with its users {@code
 * opensmtpd} and {@code opensmtpq} in private copies of {@code /etc/passwd} and {@code /etc/group},
 * and private tmpfs on {@code /var/spool}, {@code /var/lib} and {@code /run}, where its queue,
 * chroot and socket are; the host is not changed. Without root, {@code unshare} or the unpacked
 * package the calling test is skipped with a message, except under CI ({@code CI=true}), where it
 * fails.
 */
public final class OpenSmtpdBackend implements AutoCloseable {
  public static final String DOMAIN = "example.test";
  public static final int MAILBOXES = 1000;
  private static final String MAIL_USER = "rcptproxy-vmail";

  private final Path dir;
  private final int port;
  private final RealMta.Daemon daemon;

  private OpenSmtpdBackend(Path dir, int port, RealMta.Daemon daemon) {
    this.dir = dir;
    this.port = port;
    this.daemon = daemon;
  }

  /** A new OpenSMTPD; skips (or, under CI, fails) the calling test without it. */
  public static OpenSmtpdBackend start() {
    Path root = RealMta.packages().resolve("opensmtpd");
    RealMta.requireUsable("OpenSMTPD", root.resolve("usr/sbin/smtpd"));
    try {
      Path dir = RealMta.tempDirectory("rcptproxy-opensmtpd-");
      Path maildir = Files.createDirectories(dir.resolve("maildir"));
      Map<String, String> users = new LinkedHashMap<>();
      users.put("opensmtpd", "/var/lib/opensmtpd/empty");
      users.put("opensmtpq", "/var/lib/opensmtpd/empty");
      users.put(MAIL_USER, maildir.toString());
      RealMta.chown(maildir, RealMta.privateUsers(dir, users).get(MAIL_USER));
      List<String> recipients =
          Stream.concat(
                  IntStream.range(0, MAILBOXES).mapToObj(OpenSmtpdBackend::known),
                  Stream.of("postmaster@" + DOMAIN))
              .toList();
      Files.write(dir.resolve("recipients"), recipients);
      Files.write(
          dir.resolve("mailusers"),
          recipients.stream().map(r -> r + " " + MAIL_USER).collect(Collectors.toList()));
      int port = RealMta.freePort();
      Files.write(
          dir.resolve("smtpd.conf"),
          List.of(
              "table recipients file:" + dir.resolve("recipients"),
              "table mailusers file:" + dir.resolve("mailusers"),
              "listen on 127.0.0.1 port " + port + " hostname backend." + DOMAIN,
              "action \"deliver\" maildir \"" + maildir + "\" virtual <mailusers>",
              // without rcpt-to, unknown users of the virtual table get 524 5.2.4
              "match from any for domain \""
                  + DOMAIN
                  + "\" rcpt-to <recipients> action \"deliver\""));
      List<String> command =
          List.of(
              RealMta.UNSHARE.toString(),
              "--mount",
              "--propagation",
              "private",
              "/bin/sh",
              "-c",
              "mount --bind \"$1/passwd\" /etc/passwd && mount --bind \"$1/group\" /etc/group"
                  + " && mount --bind \"$1/resolv.conf\" /etc/resolv.conf"
                  + " && mount --bind \"$2/usr/libexec\" /usr/libexec"
                  + " && mount -t tmpfs tmpfs /var/spool && mount -t tmpfs tmpfs /var/lib"
                  + " && mount -t tmpfs tmpfs /run && mkdir -p /var/lib/opensmtpd/empty"
                  + " && exec \"$2/usr/sbin/smtpd\" -d -f \"$1/smtpd.conf\"",
              "sh",
              dir.toString(),
              root.toString());
      RealMta.Daemon daemon =
          RealMta.startDaemon("OpenSMTPD", command, dir.resolve("smtpd.log"), port);
      return new OpenSmtpdBackend(dir, port, daemon);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  public static String known(int n) {
    return "user" + n + "@" + DOMAIN;
  }

  public static String unknown(int n) {
    return "nobody" + n + "@" + DOMAIN;
  }

  public int port() {
    return port;
  }

  /** OpenSMTPD's log (it runs in the foreground, logging to its standard error). */
  public String log() {
    return RealMta.read(dir.resolve("smtpd.log"));
  }

  /** How many messages (one per accepted recipient) were delivered to the maildir so far. */
  public long deliveredCount() {
    Path fresh = dir.resolve("maildir/new");
    if (!Files.isDirectory(fresh)) {
      return 0;
    }
    try (Stream<Path> files = Files.list(fresh)) {
      return files.count();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** Stops OpenSMTPD; idempotent. */
  public void stop() {
    daemon.stop();
  }

  @Override
  public void close() {
    stop();
  }
}
