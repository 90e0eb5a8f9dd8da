package io.github.rcptproxy.internal;

import io.github.rcptproxy.RecipientVerifier;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The known-good addresses of a lone verifier, kept in {@value #NAME} in its state directory so
 * that a restart has them before the backend accepted anything. A cache, not configuration: what it
 * holds is only ever asked as a control (a refused one proves nothing), and a file that cannot be
 * read is a warning and a cold start. Written whole, to a temporary file renamed over it, readable
 * by the owner only; once per domain per run (the first address the backend accepts there), so that
 * a mailbox deleted since is replaced without a write per verification. Thread-safe.
 */
final class KnownGoodFile {
  static final String NAME = "known-good";

  private static final Logger LOG = LoggerFactory.getLogger(RecipientVerifier.class);
  private static final String HEADER =
      "# rcptproxy: addresses the backend accepted, one \"domain address\" a line; rewritten by"
          + " rcptproxy\n";

  private final Path file;
  private final Map<String, Mailbox> byDomain = new LinkedHashMap<>();
  private final Set<String> writtenThisRun = new HashSet<>();
  private boolean warnedWrite;

  private KnownGoodFile(Path directory) {
    this.file = directory.resolve(NAME);
  }

  /** The file in {@code directory}, read now; empty (with a warning) if it cannot be. */
  static KnownGoodFile open(Path directory) {
    KnownGoodFile kept = new KnownGoodFile(directory);
    try {
      kept.byDomain.putAll(parse(Files.readAllLines(kept.file, StandardCharsets.UTF_8)));
    } catch (NoSuchFileException e) {
      // the first start with this directory
    } catch (IOException | IllegalArgumentException e) {
      LOG.warn(
          "Ignoring {} (starting without its known-good addresses): {}", kept.file, e.getMessage());
    }
    return kept;
  }

  synchronized Optional<Mailbox> get(String domain) {
    return Optional.ofNullable(byDomain.get(domain));
  }

  /** The backend accepted {@code mailbox}: written if it is the domain's first this run. */
  synchronized void accepted(String domain, Mailbox mailbox) {
    if (writtenThisRun.size() >= DomainMemory.MAX_DOMAINS || !writtenThisRun.add(domain)) {
      return;
    }
    byDomain.put(domain, mailbox);
    try {
      write();
    } catch (IOException e) {
      if (!warnedWrite) {
        warnedWrite = true;
        LOG.warn("Cannot keep known-good addresses in {}: {}", file, e.toString());
      }
    }
  }

  private void write() throws IOException {
    StringBuilder text = new StringBuilder(HEADER);
    byDomain.forEach(
        (domain, mailbox) -> text.append(domain).append(' ').append(mailbox).append('\n'));
    Path directory = file.getParent();
    Path temporary;
    try {
      temporary =
          Files.createTempFile(
              directory,
              NAME,
              ".tmp",
              PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
    } catch (UnsupportedOperationException e) {
      temporary = Files.createTempFile(directory, NAME, ".tmp"); // the directory's protection
    }
    try {
      Files.writeString(temporary, text, StandardCharsets.UTF_8);
      try {
        Files.move(temporary, file, StandardCopyOption.ATOMIC_MOVE);
      } catch (AtomicMoveNotSupportedException e) {
        Files.move(temporary, file, StandardCopyOption.REPLACE_EXISTING);
      }
    } finally {
      Files.deleteIfExists(temporary); // gone after the move; left behind only if it failed
    }
  }

  /**
   * The addresses of a file's lines.
   *
   * @throws IllegalArgumentException for a line that is not this file's: the whole file is ignored
   */
  static Map<String, Mailbox> parse(List<String> lines) {
    Map<String, Mailbox> parsed = new LinkedHashMap<>();
    for (int i = 0; i < lines.size(); i++) {
      String line = lines.get(i);
      if (line.isBlank() || line.startsWith("#")) {
        continue;
      }
      String[] fields = line.split(" ");
      Mailbox mailbox = fields.length == 2 ? mailbox(fields[1]) : null;
      if (mailbox == null
          || !mailbox.domain().toLowerCase(Locale.ROOT).equals(fields[0])
          || mailbox.needsSmtputf8()) {
        throw new IllegalArgumentException("line " + (i + 1) + " is not \"domain address\"");
      }
      parsed.put(fields[0], mailbox);
    }
    return parsed;
  }

  private static Mailbox mailbox(String address) {
    try {
      return Mailbox.parse(address);
    } catch (InvalidAddressException e) {
      return null;
    }
  }
}
