package io.github.rcptproxy.gateway.front;

import io.github.rcptproxy.gateway.front.GatewayEdgeFuzzTest.Reading;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * What a gateway that follows RFC 3030 and its own rules answers a client's BDAT commands, worked
 * out step by step from the client's script, the bytes that arrived, the size limit and what the
 * message handler reads. The rules: a chunk is read only to its announced size; the end of input
 * inside a chunk or between chunks fails the message; a refused chunk (outside a transaction, or
 * one that would take the message over the limit) is read to its size and thrown away before the
 * one reply, and a refusal ends the transaction; {@code RSET} where the next chunk is due aborts
 * the transaction ({@code 250}, the session goes on), {@code QUIT} ends the session, {@code NOOP}
 * is answered {@code 250} and any other line {@code 503}, the next chunk still due; the rest of a
 * message the handler did not read is read up to LAST and thrown away before the reply; later
 * chunks are outside a transaction ({@code 503}, read and thrown away).
 */
final class BdatModel {
  /** One thing the client sends: a command line, or a BDAT line and its chunk. */
  sealed interface Item {
    String line();

    default int lineLength() {
      return line().getBytes(StandardCharsets.UTF_8).length + 2;
    }
  }

  /** A command line other than BDAT. */
  record Line(String line) implements Item {}

  /** A BDAT line and the chunk it announces. */
  record Chunk(String line, byte[] payload, boolean last) implements Item {}

  private static final String TOO_LARGE = "552 5.3.4 Message size exceeds fixed limit";

  /** The reply to a command other than BDAT, RSET, NOOP and QUIT where a chunk is due. */
  static final String BETWEEN_CHUNKS = "503 5.5.1 Error: BDAT, RSET, NOOP or QUIT expected";

  final List<String> replies = new ArrayList<>();
  final ByteArrayOutputStream received = new ByteArrayOutputStream();
  boolean sawEnd;
  MemorySession.End end;

  private BdatModel() {}

  /** What the client sends for {@code script}, every line CRLF-ended. */
  static byte[] bytes(List<Item> script) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    for (Item item : script) {
      out.writeBytes((item.line() + "\r\n").getBytes(StandardCharsets.UTF_8));
      if (item instanceof Chunk chunk) {
        out.writeBytes(chunk.payload());
      }
    }
    return out.toByteArray();
  }

  /**
   * The replies, the end of the session, and what the handler received when only the first {@code
   * available} bytes of the script arrived (after {@code before}'s commands, answered {@code
   * before}).
   */
  static BdatModel run(
      List<Item> script, int available, int limit, Reading reading, int part, List<String> before) {
    BdatModel model = new BdatModel();
    model.replies.addAll(before);
    model.end = model.play(script, available, limit, reading, part);
    return model;
  }

  /** SubEthaSMTP's reply to a command line between messages. */
  private static String lineReply(String line) {
    return switch (line) {
      case "NOOP", "RSET" -> "250 Ok";
      default -> "500 Error: command not implemented";
    };
  }

  private MemorySession.End play(
      List<Item> script, int available, int limit, Reading reading, int part) {
    int next = 0;
    int pos = 0;
    boolean transaction = true;
    while (true) {
      if (next == script.size() || pos + script.get(next).lineLength() > available) {
        return MemorySession.End.END_OF_INPUT;
      }
      Item item = script.get(next++);
      pos += item.lineLength();
      if (!(item instanceof Chunk chunk)) {
        replies.add(lineReply(item.line()));
        transaction &= !item.line().equals("RSET");
        continue;
      }
      String refusal =
          !transaction
              ? "503 5.5.1 Error: need MAIL command"
              : chunk.payload().length > limit ? TOO_LARGE : null;
      if (refusal != null) {
        if (pos + chunk.payload().length > available) {
          return MemorySession.End.FAILED;
        }
        pos += chunk.payload().length;
        replies.add(refusal);
        transaction = false;
        continue;
      }
      long wanted = reading == Reading.ALL ? Long.MAX_VALUE : part;
      long got = 0;
      Chunk current = chunk;
      int left = chunk.payload().length;
      while (true) {
        if (left == 0) {
          if (current.last()) {
            sawEnd = got < wanted;
            replies.add(
                reading == Reading.PART_THEN_REFUSE ? "554 5.6.0 Refused by the test" : "250 Ok");
            break;
          }
          replies.add("250 2.0.0 " + got + " octets received");
          Item following;
          while (true) {
            if (next == script.size() || pos + script.get(next).lineLength() > available) {
              return MemorySession.End.FAILED;
            }
            following = script.get(next++);
            pos += following.lineLength();
            String line = following.line();
            if (following instanceof Chunk || line.equals("RSET") || line.equals("QUIT")) {
              break;
            }
            replies.add(line.equals("NOOP") ? "250 Ok" : BETWEEN_CHUNKS);
          }
          if (!(following instanceof Chunk nextChunk)) {
            if (following.line().equals("QUIT")) {
              replies.add("221 Bye");
              return MemorySession.End.DROPPED;
            }
            replies.add(lineReply("RSET"));
            break;
          }
          if (nextChunk.payload().length > limit - got) {
            if (pos + nextChunk.payload().length > available) {
              return MemorySession.End.FAILED;
            }
            pos += nextChunk.payload().length;
            replies.add(TOO_LARGE);
            break;
          }
          current = nextChunk;
          left = nextChunk.payload().length;
          continue;
        }
        if (pos == available) {
          return MemorySession.End.FAILED;
        }
        if (got < wanted) {
          received.write(current.payload()[current.payload().length - left]);
        }
        pos++;
        left--;
        got++;
      }
      transaction = false;
    }
  }
}
