package io.github.rcptproxy.gateway.front;

import io.github.rcptproxy.subethasmtp.internal.HangUp;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.util.Locale;
import java.util.Objects;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.subethamail.smtp.DropConnectionException;
import org.subethamail.smtp.RejectException;
import org.subethamail.smtp.internal.server.BaseCommand;
import org.subethamail.smtp.server.Session;

/**
 * BDAT (RFC 3030) in place of SubEthaSMTP's, which takes a client's early end of input for the end
 * of a chunk and so delivers truncated messages. Here the end of input inside a chunk fails the
 * message (nothing is relayed). A chunk the gateway refuses, for whatever reason (TLS or
 * authentication required first, no MAIL or RCPT, over the size limit), is read to its announced
 * size and thrown away before the one reply: RFC 3030 §2 has the server read a chunk even when it
 * refuses it, and the client pipelines the chunk right behind the line, so its bytes are never
 * taken for commands. So is the rest of a message the handler did not read, accepted or refused:
 * the reply comes after the LAST chunk, as after DATA's end. {@code RSET} instead of the next chunk
 * aborts the transaction (RFC 3030 §2): nothing is relayed, and the session goes on.
 *
 * <p>SubEthaSMTP's own BDAT is wrapped in its checks for TLS and authentication, which answer
 * {@code 530} without reading the chunk; this command makes those checks itself, so it is installed
 * without them.
 */
public final class BdatCommand extends BaseCommand {
  private static final Pattern SYNTAX =
      Pattern.compile("BDAT 0*([0-9]+)( LAST)?", Pattern.CASE_INSENSITIVE);

  /** The most digits a chunk size the gateway reads may have (without leading zeros). */
  private static final int MAX_DIGITS = 18;

  /** SubEthaSMTP's refusals of a command before STARTTLS and before AUTH, word for word. */
  static final String TLS_REQUIRED = "530 Must issue a STARTTLS command first";

  static final String AUTH_REQUIRED = "530 5.7.0  Authentication required";

  private static final String TOO_LARGE = "552 5.3.4 Message size exceeds fixed limit";

  BdatCommand() {
    super("BDAT", "A chunk of the message; the last one says LAST.", "<size> [LAST]");
  }

  @Override
  public void execute(String line, Session session) throws IOException, DropConnectionException {
    Chunk first = parse(line, session);
    Optional<String> refusal = refusal(first, session);
    if (refusal.isPresent()) {
      discard(session, first.size());
      if (refusal.get().equals(TOO_LARGE)) {
        session.resetMailTransaction(); // the message failed (RFC 3030 §2)
      }
      session.sendResponse(refusal.get());
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
    } catch (IOException e) {
      Interruption interruption = message.interruption;
      if (interruption == null) {
        throw e;
      }
      // Whatever the handler made of it (the relay closes the backend's connection in the middle
      // of its DATA: nothing is delivered), the transaction is over.
      session.resetMailTransaction();
      if (interruption.drop() != null) {
        throw interruption.drop();
      }
      session.sendResponse(interruption.reply());
      return;
    }
    session.sendResponse(reply);
    session.resetMailTransaction();
  }

  /**
   * Why the first chunk of a message is refused, in the order SubEthaSMTP's own BDAT would check:
   * TLS, authentication, then the transaction and the size.
   */
  private static Optional<String> refusal(Chunk first, Session session) {
    if (session.getServer().getRequireTLS() && !session.isTLSStarted()) {
      return Optional.of(TLS_REQUIRED);
    }
    if (session.getServer().getRequireAuth() && !session.isAuthenticated()) {
      return Optional.of(AUTH_REQUIRED);
    }
    if (!session.isMailTransactionInProgress()) {
      return Optional.of("503 5.5.1 Error: need MAIL command");
    }
    if (session.getRecipientCount() == 0) {
      return Optional.of("503 5.5.1 Error: need RCPT command");
    }
    if (tooLarge(first.size(), 0, session)) {
      return Optional.of(TOO_LARGE);
    }
    return Optional.empty();
  }

  private static boolean tooLarge(long size, long receivedSoFar, Session session) {
    int max = session.getServer().getMaxMessageSize();
    return max > 0 && size > max - receivedSoFar;
  }

  /**
   * Reads a refused chunk of {@code size} bytes and throws it away (within the message's deadline,
   * however large the client said it is); the end of input inside it fails the session.
   */
  private static void discard(Session session, long size) throws IOException {
    new ChunkStream(session, new Chunk(size, true), false)
        .transferTo(OutputStream.nullOutputStream());
  }

  /** One chunk announced by a BDAT line. */
  private record Chunk(long size, boolean last) {}

  /**
   * Parses a BDAT line, exactly RFC 3030's {@code "BDAT" SP chunk-size [SP end-marker]}: no other
   * white space, none around it; leading zeros allowed, as in {@code 1*DIGIT}. A line that cannot
   * be parsed leaves no way to find where its chunk ends, and the client, which may pipeline its
   * chunk right behind the line (RFC 3030 §2), sends it anyway: reading it as commands would run
   * message data as commands. So the client hears why, then {@code 421} (RFC 5321 §3.8), and the
   * connection is closed before any of the chunk is read. So is a chunk of more than {@value
   * #MAX_DIGITS} digits: over any size limit ({@code 552}, as Postfix), and too large to read and
   * throw away.
   */
  private static Chunk parse(String line, Session session)
      throws IOException, DropConnectionException {
    Matcher m = SYNTAX.matcher(line);
    if (!m.matches()) {
      session.sendResponse("501 5.5.4 Syntax: BDAT size [LAST]");
      throw HangUp.closing(session, "4.5.4 Cannot tell where the chunk ends, closing connection");
    }
    if (m.group(1).length() > MAX_DIGITS) {
      session.sendResponse(TOO_LARGE);
      throw HangUp.closing(session, "4.3.4 Chunk too large to read, closing connection");
    }
    return new Chunk(Long.parseLong(m.group(1)), m.group(2) != null);
  }

  /**
   * How a transaction ended before its LAST chunk: with a reply and the session going on, or with
   * the connection dropped.
   */
  private record Interruption(String reply, DropConnectionException drop) {}

  /** The transaction ended before its LAST chunk; see {@link ChunkStream#interruption}. */
  private static final class Interrupted extends IOException {
    Interrupted(String message) {
      super(message);
    }
  }

  /** The chunks' bytes, up to the end of the LAST one; the end of input before it is an error. */
  private static final class ChunkStream extends InputStream {
    private final Session session;
    private final boolean acknowledge;
    private long left;
    private long received;
    private boolean last;

    /** Set when the transaction ended before LAST; every read from then on fails. */
    Interruption interruption;

    ChunkStream(Session session, Chunk first, boolean acknowledge) {
      this.session = session;
      this.acknowledge = acknowledge;
      this.left = first.size();
      this.last = first.last() || !acknowledge;
    }

    @Override
    public int read() throws IOException {
      if (!ready()) {
        return -1;
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
      Objects.checkFromIndexSize(offset, length, buffer.length);
      if (length == 0) {
        return 0;
      }
      if (!ready()) {
        return -1;
      }
      int n = session.getRawInput().read(buffer, offset, (int) Math.min(length, left));
      if (n < 0) {
        throw new EOFException("end of input inside a BDAT chunk, " + left + " bytes missing");
      }
      left -= n;
      received += n;
      return n;
    }

    /** Whether there are bytes of a chunk to read, reading the next BDAT line where due. */
    private boolean ready() throws IOException {
      if (interruption != null) {
        throw new Interrupted("the BDAT transaction has ended");
      }
      while (left == 0) {
        if (last) {
          return false;
        }
        nextChunk();
      }
      return true;
    }

    private void nextChunk() throws IOException {
      session.sendResponse("250 2.0.0 " + received + " octets received");
      String line = commandBetweenChunks();
      Chunk next;
      try {
        next = parse(line, session);
      } catch (DropConnectionException e) {
        throw interrupted(new Interruption(null, e));
      }
      if (tooLarge(next.size(), received, session)) {
        discard(session, next.size());
        throw interrupted(new Interruption(TOO_LARGE, null));
      }
      left = next.size();
      last = next.last();
    }

    /**
     * The next BDAT line, answering what RFC 3030 allows between chunks: {@code RSET} aborts the
     * transaction (the session goes on), {@code QUIT} ends the session (nothing is relayed), {@code
     * NOOP} is answered as ever, and any other command gets {@code 503} (RFC 3030 §3 for DATA), the
     * transaction still waiting for its next chunk.
     */
    private String commandBetweenChunks() throws IOException {
      while (true) {
        String line = session.getReader().readLine();
        if (line == null) {
          throw new EOFException("end of input between BDAT chunks");
        }
        if (line.regionMatches(true, 0, "BDAT", 0, 4)) {
          return line; // malformed too (BDAT<TAB>6): its chunk follows, never read as commands
        }
        switch (line.split(" ", 2)[0].toUpperCase(Locale.ROOT)) {
          case "RSET" -> throw interrupted(new Interruption("250 Ok", null)); // as SubEthaSMTP's
          case "QUIT" ->
              throw interrupted(new Interruption(null, new DropConnectionException(221, "Bye")));
          case "NOOP" -> session.sendResponse("250 Ok");
          default -> session.sendResponse("503 5.5.1 Error: BDAT, RSET, NOOP or QUIT expected");
        }
      }
    }

    private Interrupted interrupted(Interruption how) {
      interruption = how;
      return new Interrupted(
          how.drop() != null ? how.drop().getErrorResponse() : "BDAT transaction ended");
    }
  }
}
