package io.github.rcptproxy.gateway.front;

import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.util.Locale;
import java.util.Objects;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.subethamail.smtp.DropConnectionException;
import org.subethamail.smtp.RejectException;
import org.subethamail.smtp.internal.server.BaseCommand;
import org.subethamail.smtp.server.Session;

/**
 * BDAT (RFC 3030) in place of SubEthaSMTP's, which takes a client's early end of input for the end
 * of a chunk and so delivers truncated messages. Here the end of input inside a chunk fails the
 * message (nothing is relayed), a chunk or a message over the size limit hangs up before any of it
 * is read, and a chunk sent outside a transaction is read and thrown away, never taken for
 * commands. So is the rest of a message the handler did not read, accepted or refused: the reply
 * comes after the LAST chunk, as after DATA's end.
 */
public final class BdatCommand extends BaseCommand {
  private static final Pattern SYNTAX =
      Pattern.compile("BDAT ([0-9]{1,18})( LAST)?", Pattern.CASE_INSENSITIVE);

  BdatCommand() {
    super("BDAT", "A chunk of the message; the last one says LAST.", "<size> [LAST]");
  }

  @Override
  public void execute(String line, Session session) throws IOException, DropConnectionException {
    Chunk first = parse(line, 0, session);
    if (!session.isMailTransactionInProgress() || session.getRecipientCount() == 0) {
      new ChunkStream(session, first, false).transferTo(OutputStream.nullOutputStream());
      session.sendResponse(
          session.isMailTransactionInProgress()
              ? "503 5.5.1 Error: need RCPT command"
              : "503 5.5.1 Error: need MAIL command");
      return;
    }
    ChunkStream message = new ChunkStream(session, first, true);
    String reply;
    try {
      try {
        reply =
            "250 " + Objects.requireNonNullElse(session.getMessageHandler().data(message), "Ok");
      } catch (DropConnectionException e) {
        throw e;
      } catch (RejectException e) {
        reply = e.getErrorResponse();
      }
      // Accepted or refused, the rest of the message is not commands; the reply answers LAST.
      message.transferTo(OutputStream.nullOutputStream());
    } catch (BrokenSequence e) {
      session.resetMailTransaction();
      throw e.reply;
    }
    session.sendResponse(reply);
    session.resetMailTransaction();
  }

  /** One chunk announced by a BDAT line. */
  private record Chunk(long size, boolean last) {}

  /**
   * Parses a BDAT line, exactly RFC 3030's {@code "BDAT" SP chunk-size [SP end-marker]}: no other
   * white space, none around it. A line that cannot be parsed, or a size that would take the
   * message over the limit, leaves no way to find where the chunk ends, and the client, which may
   * pipeline its chunk right behind the line (RFC 3030 §2), sends it anyway: reading it as commands
   * would run message data as commands. So the client hears why and the connection is closed before
   * any of the chunk is read.
   */
  private static Chunk parse(String line, long receivedSoFar, Session session)
      throws DropConnectionException {
    Matcher m = SYNTAX.matcher(line);
    if (!m.matches()) {
      throw new DropConnectionException(501, "5.5.4 Syntax: BDAT size [LAST]");
    }
    long size = Long.parseLong(m.group(1));
    int max = session.getServer().getMaxMessageSize();
    if (max > 0 && size > max - receivedSoFar) {
      throw new DropConnectionException(552, "5.3.4 Message size exceeds fixed limit");
    }
    return new Chunk(size, m.group(2) != null);
  }

  /** The following BDAT line was something else: the message is abandoned. */
  private static final class BrokenSequence extends IOException {
    final transient DropConnectionException reply;

    BrokenSequence(DropConnectionException reply) {
      super(reply.getErrorResponse());
      this.reply = reply;
    }
  }

  /** The chunks' bytes, up to the end of the LAST one; the end of input before it is an error. */
  private static final class ChunkStream extends InputStream {
    private final Session session;
    private final boolean acknowledge;
    private long left;
    private long received;
    private boolean last;

    ChunkStream(Session session, Chunk first, boolean acknowledge) {
      this.session = session;
      this.acknowledge = acknowledge;
      this.left = first.size();
      this.last = first.last() || !acknowledge;
    }

    @Override
    public int read() throws IOException {
      while (left == 0) {
        if (last) {
          return -1;
        }
        nextChunk();
      }
      int b = session.getRawInput().read();
      if (b < 0) {
        throw new EOFException("end of input inside a BDAT chunk, " + left + " bytes missing");
      }
      left--;
      received++;
      return b;
    }

    @Override
    public int read(byte[] buffer, int offset, int length) throws IOException {
      if (length == 0) {
        return 0;
      }
      while (left == 0) {
        if (last) {
          return -1;
        }
        nextChunk();
      }
      int n = session.getRawInput().read(buffer, offset, (int) Math.min(length, left));
      if (n < 0) {
        throw new EOFException("end of input inside a BDAT chunk, " + left + " bytes missing");
      }
      left -= n;
      received += n;
      return n;
    }

    private void nextChunk() throws IOException {
      session.sendResponse("250 2.0.0 " + received + " octets received");
      String line = session.getReader().readLine();
      if (line == null) {
        throw new EOFException("end of input between BDAT chunks");
      }
      if (!line.toUpperCase(Locale.ROOT).startsWith("BDAT ")) {
        throw new BrokenSequence(new DropConnectionException(503, "5.5.1 BDAT expected, closing"));
      }
      try {
        Chunk next = parse(line, received, session);
        left = next.size();
        last = next.last();
      } catch (DropConnectionException e) {
        throw new BrokenSequence(e);
      }
    }
  }
}
