package io.github.rcptproxy.gateway.relay;

import java.io.BufferedOutputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.channels.Channels;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.FileAttribute;
import java.nio.file.attribute.PosixFilePermissions;

/**
 * A message received whole from the client before the backend is asked to take it, as Postfix's
 * {@code smtpd_proxy_options = speed_adjust} does, so that a client sending slowly holds no backend
 * connection. It is kept dot-stuffed, exactly as it will be sent after {@code DATA}: in memory up
 * to {@link #IN_MEMORY} bytes, then in a file of the temporary directory that only this process can
 * read and that is unlinked as soon as it is open, so it goes away whatever happens to the process.
 */
final class Spool implements AutoCloseable {
  /** Bytes of a message kept in memory before it goes to a file. */
  static final int IN_MEMORY = 256 * 1024;

  private static final FileAttribute<?> OWNER_ONLY =
      PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------"));

  private final Path directory;
  private final ByteArrayOutputStream memory = new ByteArrayOutputStream();
  private FileChannel file;
  private OutputStream fileOut;
  private long size;

  private Spool(Path directory) {
    this.directory = directory;
  }

  /**
   * The client's message, read to its end and dot-stuffed (see {@link SmtpRelay#writeDotStuffed}).
   *
   * @throws SmtpRelay.BareLineEndException if a line does not end in CRLF: refused, never repaired
   * @throws IOException reading the client failed (its cause then says so), or writing the file did
   */
  static Spool receive(InputStream body, Path directory) throws IOException {
    Spool spool = new Spool(directory);
    try (OutputStream out = new BufferedOutputStream(spool.new Writer(), 8192)) {
      SmtpRelay.writeDotStuffed(body, out);
    } catch (IOException | RuntimeException e) {
      spool.close();
      throw e;
    }
    return spool;
  }

  /** Sends the message as received, from its start. */
  void copyTo(OutputStream out) throws IOException {
    if (file == null) {
      memory.writeTo(out);
      return;
    }
    fileOut.flush();
    file.position(0);
    InputStream in = Channels.newInputStream(file);
    byte[] buffer = new byte[64 * 1024];
    long left = size;
    while (left > 0) {
      int n = in.read(buffer, 0, (int) Math.min(buffer.length, left));
      if (n < 0) {
        throw new IOException("spool file ended early");
      }
      out.write(buffer, 0, n);
      left -= n;
    }
  }

  /** Bytes held, dot-stuffing included. */
  long size() {
    return size;
  }

  /** Whether the message went to a file. */
  boolean onDisk() {
    return file != null;
  }

  @Override
  public void close() throws IOException {
    if (file != null) {
      file.close();
    }
  }

  /** Into memory, then into the file once memory holds {@link #IN_MEMORY} bytes. */
  private final class Writer extends OutputStream {
    @Override
    public void write(int b) throws IOException {
      write(new byte[] {(byte) b}, 0, 1);
    }

    @Override
    public void write(byte[] bytes, int offset, int length) throws IOException {
      if (file == null && memory.size() + length > IN_MEMORY) {
        toFile();
      }
      if (file == null) {
        memory.write(bytes, offset, length);
      } else {
        fileOut.write(bytes, offset, length);
      }
      size += length;
    }

    @Override
    public void flush() throws IOException {
      if (fileOut != null) {
        fileOut.flush();
      }
    }

    private void toFile() throws IOException {
      Path path;
      try {
        path = Files.createTempFile(directory, "rcptproxy-", ".msg", OWNER_ONLY);
      } catch (UnsupportedOperationException e) {
        path = Files.createTempFile(directory, "rcptproxy-", ".msg"); // not POSIX: its defaults
      }
      try {
        file = FileChannel.open(path, StandardOpenOption.READ, StandardOpenOption.WRITE);
      } finally {
        Files.delete(path); // open or not, no name is left behind
      }
      fileOut = new BufferedOutputStream(Channels.newOutputStream(file), 64 * 1024);
      memory.writeTo(fileOut);
      memory.reset();
    }
  }
}
