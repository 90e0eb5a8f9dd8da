package io.github.rcptproxy.gateway.front;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import io.github.rcptproxy.AddressCheck;
import io.github.rcptproxy.gateway.ops.Trace;
import io.github.rcptproxy.gateway.relay.SmtpRelay;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.nio.charset.StandardCharsets;
import java.time.ZoneOffset;
import java.time.ZonedDateTime;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.subethamail.smtp.MessageHandler;
import org.subethamail.smtp.RejectException;
import org.subethamail.smtp.TooMuchDataException;
import org.subethamail.smtp.internal.server.CommandHandler;
import org.subethamail.smtp.server.SMTPServer;

/**
 * Fuzz tests of the gateway's own readers of client bytes: the DATA body (dot-unstuffing, the end
 * of data, early end of input, bare CR and LF on the way to the backend), BDAT (command line and
 * chunks), the MAIL and RCPT parameters ({@link SmtpFront}'s rules, then SubEthaSMTP's commands),
 * the size limit, and the HELO name as it goes into the {@code Received:} header. Each target
 * checks a property against a model of what the client sent, not only that nothing crashes. The
 * commands run in real SubEthaSMTP sessions over bytes in memory ({@link MemorySession}).
 *
 * <p>By default each stored input runs once (regression mode, in {@code mvn verify}, seconds). To
 * fuzz one target for real: {@code JAZZER_FUZZ=1 mvn -B -o verify -pl rcptproxy-gateway -am
 * -Dtest=GatewayEdgeFuzzTest#dataBody -Dsurefire.failIfNoSpecifiedTests=false}; a finding is kept
 * in {@code src/test/resources/.../GatewayEdgeFuzzTestInputs/<target>/} and runs from then on.
 */
class GatewayEdgeFuzzTest {
  private static final String MAIL_AND_RCPT =
      "MAIL FROM:<a@example.net>\r\nRCPT TO:<b@example.com>\r\n";

  /** A command line no gateway command knows: its reply shows where the commands start again. */
  private static final String NEXT_COMMAND = "XYZZ\r\n";

  private static final String UNKNOWN = "500 Error: command not implemented";
  private static final String OK = "250 Ok";
  private static final String TOO_LARGE = "552 5.3.4 Message size exceeds fixed limit";
  private static final String UNREADABLE_CHUNK =
      "421 4.5.4 Cannot tell where the chunk ends, closing connection";
  private static final String CHUNK_TOO_LARGE_TO_READ =
      "421 4.3.4 Chunk too large to read, closing connection";
  private static final String REFUSED = "554 5.6.0 Refused by the test";
  private static final String DATA_GO_AHEAD = "354 End data with <CR><LF>.<CR><LF>";

  /** The message handler of the session under test; the sessions run one at a time. */
  private static Recorder handler;

  private static final SMTPServer DATA_SERVER = server(Integer.MAX_VALUE);

  /** The gateway's default {@code --max-message-size}. */
  static final int MAIL_LIMIT = 10 * 1024 * 1024;

  private static final SMTPServer MAIL_SERVER = server(MAIL_LIMIT);
  private static final int[] BDAT_LIMITS = {64, 300, 1024};
  private static final SMTPServer[] BDAT_SERVERS =
      Arrays.stream(BDAT_LIMITS).mapToObj(GatewayEdgeFuzzTest::server).toArray(SMTPServer[]::new);

  // ---------------------------------------------------------------------------------------------
  // DATA

  /**
   * Any message, dot-stuffed as a client does and cut off anywhere: when the client sent the whole
   * of it with its {@code CRLF.CRLF}, the handler gets exactly the message and the next command is
   * a command; else the handler gets the end of input as an error, never as the end of the message,
   * and the client never hears {@code 250}. Whatever the handler reads, the rest of the message is
   * never taken for commands. What the relay then writes to the backend holds exactly one end of
   * data, at its end, and unstuffs to the message; or, for a message with a bare CR or LF, which
   * the relay refuses, no end of data and nothing from the bare line end on.
   */
  @FuzzTest(maxDuration = "2m")
  void dataBody(FuzzedDataProvider data) {
    Reading reading = data.pickValue(Reading.values());
    int part = data.consumeInt(0, 300);
    int cut = data.consumeInt();
    byte[] message = data.consumeRemainingAsBytes();

    byte[] sent = clientData(message);
    boolean complete = cut < 0;
    byte[] input =
        complete
            ? concat(ascii(MAIL_AND_RCPT + "DATA\r\n"), sent, ascii(NEXT_COMMAND))
            : concat(ascii(MAIL_AND_RCPT + "DATA\r\n"), Arrays.copyOf(sent, cut % sent.length));
    handler = new Recorder(reading, part);
    MemorySession session = new MemorySession(DATA_SERVER, input);
    MemorySession.End end = session.run();

    byte[] expected = withFinalCrlf(message);
    if (complete) {
      String reply = reading == Reading.PART_THEN_REFUSE ? REFUSED : OK;
      assertThat(session.replies()).containsExactly(OK, OK, DATA_GO_AHEAD, reply, UNKNOWN);
      assertThat(end).isEqualTo(MemorySession.End.END_OF_INPUT);
      byte[] read = handler.received.toByteArray();
      if (reading == Reading.ALL) {
        assertThat(read).isEqualTo(expected);
        assertThat(handler.sawEnd).isTrue();
        assertRelayedAsOneMessage(read);
      } else {
        assertThat(read).isEqualTo(Arrays.copyOf(expected, Math.min(part, expected.length)));
      }
    } else {
      assertThat(end).isEqualTo(MemorySession.End.FAILED);
      List<String> replies = session.replies();
      assertThat(replies.subList(0, 3)).containsExactly(OK, OK, DATA_GO_AHEAD);
      assertThat(replies.subList(3, replies.size()))
          .as("an early end of input is never the end of the message")
          .isEmpty();
      if (reading == Reading.ALL) {
        assertThat(handler.sawEnd).isFalse();
        assertThat(handler.failure).isInstanceOf(EOFException.class);
      }
    }
  }

  /** What a client sends for {@code message} after DATA: dot-stuffed, CRLF-ended, {@code .CRLF}. */
  private static byte[] clientData(byte[] message) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    for (int i = 0; i < message.length; i++) {
      if (message[i] == '.' && lineStart(message, i)) {
        out.write('.');
      }
      out.write(message[i]);
    }
    out.writeBytes(
        Arrays.copyOfRange(withFinalCrlf(message), message.length, withFinalCrlf(message).length));
    out.writeBytes(ascii(".\r\n"));
    return out.toByteArray();
  }

  private static boolean lineStart(byte[] text, int i) {
    return i == 0 || (i >= 2 && text[i - 2] == '\r' && text[i - 1] == '\n');
  }

  /** The message as the server must see it: the CRLF before the final dot belongs to it. */
  private static byte[] withFinalCrlf(byte[] message) {
    int n = message.length;
    if (n == 0 || (n >= 2 && message[n - 2] == '\r' && message[n - 1] == '\n')) {
      return message;
    }
    return concat(message, ascii("\r\n"));
  }

  /**
   * The relay's encoding of {@code message} for the backend, read as a backend reads it, strictly
   * or taking any line end for one. A message with a bare CR or LF, or a last line without CRLF, is
   * refused: what was written by then holds no end of data and no line end but CRLF, and stops
   * before the bare line end (or the missing one). Any other message is one message, ending at the
   * very end, equal to the original.
   */
  private static void assertRelayedAsOneMessage(byte[] message) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    int bare = bareLineEnd(message);
    if (bare < 0 && withFinalCrlf(message).length != message.length) {
      bare = message.length; // the last line's CRLF is missing: refused, never added
    }
    try {
      SmtpRelay.writeDotStuffed(new ByteArrayInputStream(message), out);
      assertThat(bare).as("relayed with a bare CR or LF or without a final CRLF").isNegative();
      out.writeBytes(ascii(".\r\n"));
    } catch (SmtpRelay.BareLineEndException e) {
      assertThat(bare).as("refused with every line CRLF-ended").isNotNegative();
    } catch (IOException e) {
      throw new AssertionError("nothing to fail in memory", e);
    }
    byte[] wire = out.toByteArray();
    int ends = 0;
    for (int i = 0; i < wire.length; i++) {
      boolean afterLineEnd = i == 0 || wire[i - 1] == '\r' || wire[i - 1] == '\n';
      boolean beforeLineEnd = i + 1 < wire.length && (wire[i + 1] == '\r' || wire[i + 1] == '\n');
      if (wire[i] == '.' && afterLineEnd && beforeLineEnd) {
        assertThat(i).as("the only end of data is the last line").isEqualTo(wire.length - 3);
        ends++;
      }
    }
    assertThat(ends).as("ends of data").isEqualTo(bare < 0 ? 1 : 0);
    for (int i = 0; i < wire.length; i++) {
      if (wire[i] == '\r' || wire[i] == '\n') {
        assertThat(Arrays.copyOfRange(wire, i, Math.min(i + 2, wire.length)))
            .as("only CRLF line ends reach the backend")
            .isEqualTo(ascii("\r\n"));
        i++;
      }
    }
    ByteArrayOutputStream unstuffed = new ByteArrayOutputStream();
    for (int i = 0; i < wire.length - (bare < 0 ? 3 : 0); i++) {
      if (!(wire[i] == '.' && lineStart(wire, i))) {
        unstuffed.write(wire[i]);
      }
    }
    if (bare < 0) {
      assertThat(unstuffed.toByteArray()).isEqualTo(message);
    } else {
      assertThat(unstuffed.size())
          .as("nothing from the bare line end on")
          .isLessThanOrEqualTo(bare);
      assertThat(Arrays.copyOf(message, unstuffed.size())).isEqualTo(unstuffed.toByteArray());
    }
  }

  /** Where the first CR or LF not in a CRLF pair is, or -1. */
  static int bareLineEnd(byte[] message) {
    for (int i = 0; i < message.length; i++) {
      if (message[i] == '\r' && i + 1 < message.length && message[i + 1] == '\n') {
        i++;
      } else if (message[i] == '\r' || message[i] == '\n') {
        return i;
      }
    }
    return -1;
  }

  // ---------------------------------------------------------------------------------------------
  // BDAT

  /**
   * Any chunks, with any sizes, LAST or not, a stray command ({@code NOOP}, or {@code RSET}, which
   * aborts the transaction) between two of them, cut off anywhere, under any size limit, whatever
   * the handler reads: the replies and the message are exactly those of RFC 3030 and the gateway's
   * rules, as the model in {@link BdatModel} has them. In particular the handler gets the
   * concatenation of the chunks up to LAST, or an error; a chunk or message over the limit is read,
   * thrown away and refused; and no byte of a chunk is ever taken for a command. What the relay
   * writes of a whole message is one message, or, with a bare CR or LF anywhere in it (a CRLF split
   * between two chunks is none), refused as after DATA.
   */
  @FuzzTest(maxDuration = "2m")
  void bdatChunks(FuzzedDataProvider data) {
    int limitIndex = data.consumeInt(0, BDAT_LIMITS.length - 1);
    Reading reading = data.pickValue(Reading.values());
    int part = data.consumeInt(0, 400);
    int cut = data.consumeInt();
    boolean sayLast = data.consumeBoolean();
    int count = data.consumeInt(1, 5);
    int stray = data.consumeInt(-1, count - 1);
    List<BdatModel.Item> script = new ArrayList<>();
    for (int i = 0; i < count; i++) {
      if (i == stray && i > 0) {
        script.add(new BdatModel.Line(data.consumeBoolean() ? "RSET" : "NOOP"));
      }
      byte[] chunk = data.consumeBytes(data.consumeInt(0, 120));
      boolean last = sayLast && i == count - 1;
      String verb = data.pickValue(new String[] {"BDAT", "bdat", "Bdat"});
      String zeros = "0".repeat(data.consumeInt(0, 2));
      String lastWord = data.pickValue(new String[] {" LAST", " last", " Last"});
      script.add(
          new BdatModel.Chunk(
              verb + " " + zeros + chunk.length + (last ? lastWord : ""), chunk, last));
    }
    script.add(new BdatModel.Line(NEXT_COMMAND.strip()));
    byte[] bdat = BdatModel.bytes(script);
    int available = cut < 0 ? bdat.length : cut % bdat.length;
    assertBdatAsModelled(script, available, limitIndex, reading, part);
  }

  /**
   * What the session answers the first {@code available} bytes of {@code script} after MAIL and
   * RCPT, under the limit {@code BDAT_LIMITS[limitIndex]}, and what its handler gets, is what
   * {@link BdatModel} says.
   */
  private static void assertBdatAsModelled(
      List<BdatModel.Item> script, int available, int limitIndex, Reading reading, int part) {
    byte[] bdat = BdatModel.bytes(script);
    handler = new Recorder(reading, part);
    MemorySession session =
        new MemorySession(
            BDAT_SERVERS[limitIndex], concat(ascii(MAIL_AND_RCPT), Arrays.copyOf(bdat, available)));
    MemorySession.End end = session.run();

    BdatModel model =
        BdatModel.run(script, available, BDAT_LIMITS[limitIndex], reading, part, List.of(OK, OK));
    assertThat(session.replies()).isEqualTo(model.replies);
    assertThat(end).isEqualTo(model.end);
    assertThat(handler.received.toByteArray()).isEqualTo(model.received.toByteArray());
    if (reading == Reading.ALL) {
      assertThat(handler.sawEnd).isEqualTo(model.sawEnd);
      if (handler.sawEnd) {
        assertRelayedAsOneMessage(handler.received.toByteArray());
      }
    }
  }

  /**
   * Any BDAT command line: never an unchecked exception; a chunk is read only for a line of the
   * form {@code BDAT <digits> [LAST]} (one space before each word, no other white space, letters in
   * any case), and then exactly as many bytes as it says (thrown away if over the limit), the
   * message ending there only with LAST; any other line is refused and the connection closed, as
   * nobody can tell where its chunk would end.
   */
  @FuzzTest(maxDuration = "2m")
  void bdatCommandLine(FuzzedDataProvider data) {
    String line = utf8RoundTrip("BDAT" + data.consumeRemainingAsString());
    if (line.contains("\r") || line.contains("\n") || line.length() > 900) {
      return; // a different command line, or one SubEthaSMTP refuses as too long
    }
    Optional<long[]> parsed = referenceBdat(line);
    int shown = 300;
    long size = parsed.map(p -> p[0]).orElse(0L);
    byte[] chunk = new byte[(int) Math.max(0, Math.min(size, shown))];
    Arrays.fill(chunk, (byte) 'x');
    byte[] input =
        concat(
            ascii(MAIL_AND_RCPT),
            utf8(line + "\r\n"),
            chunk,
            ascii(size <= shown ? NEXT_COMMAND : "")); // else the input ends inside the chunk
    handler = new Recorder(Reading.ALL, 0);
    MemorySession session = new MemorySession(BDAT_SERVERS[2], input);
    MemorySession.End end = session.run();

    List<String> replies = session.replies();
    assertThat(replies.subList(0, 2)).containsExactly(OK, OK);
    List<String> rest = replies.subList(2, replies.size());
    if (parsed.isEmpty()) {
      assertThat(rest).containsExactly("501 5.5.4 Syntax: BDAT size [LAST]", UNREADABLE_CHUNK);
      assertThat(end).isEqualTo(MemorySession.End.DROPPED);
      assertThat(handler.calls).isZero();
    } else if (size < 0) {
      assertThat(rest).containsExactly(TOO_LARGE, CHUNK_TOO_LARGE_TO_READ);
      assertThat(end).isEqualTo(MemorySession.End.DROPPED);
      assertThat(handler.calls).isZero();
    } else if (size > BDAT_LIMITS[2]) {
      // refused, and read to its size to be thrown away: the input ends inside it
      assertThat(rest).isEmpty();
      assertThat(end).isEqualTo(MemorySession.End.FAILED);
      assertThat(handler.calls).isZero();
    } else if (size > shown) {
      assertThat(rest).isEmpty();
      assertThat(end).isEqualTo(MemorySession.End.FAILED);
      assertThat(handler.sawEnd).isFalse();
    } else if (parsed.get()[1] == 1) {
      assertThat(rest).containsExactly(OK, UNKNOWN);
      assertThat(end).isEqualTo(MemorySession.End.END_OF_INPUT);
      assertThat(handler.received.toByteArray()).isEqualTo(chunk);
    } else {
      assertThat(rest)
          .containsExactly("250 2.0.0 " + size + " octets received", BdatModel.BETWEEN_CHUNKS);
      assertThat(end)
          .as("the input ends where the next chunk is due")
          .isEqualTo(MemorySession.End.FAILED);
      assertThat(handler.sawEnd).isFalse();
    }
  }

  /**
   * RFC 3030's {@code "BDAT" SP chunk-size [SP end-marker]}, the words in any ASCII case: the size
   * (-1 past 18 digits without the leading zeros: more than the gateway reads) and 1 for LAST, else
   * 0.
   */
  private static Optional<long[]> referenceBdat(String line) {
    String[] words = line.split(" ", -1);
    if (words.length < 2 || words.length > 3 || !asciiUpper(words[0]).equals("BDAT")) {
      return Optional.empty();
    }
    String digits = words[1];
    if (digits.isEmpty() || !digits.chars().allMatch(c -> c >= '0' && c <= '9')) {
      return Optional.empty();
    }
    if (words.length == 3 && !asciiUpper(words[2]).equals("LAST")) {
      return Optional.empty();
    }
    String significant = digits.replaceFirst("^0+(?=.)", "");
    long size = significant.length() > 18 ? -1 : Long.parseLong(significant);
    return Optional.of(new long[] {size, words.length == 3 ? 1 : 0});
  }

  // ---------------------------------------------------------------------------------------------
  // MAIL and RCPT parameters

  /**
   * Any MAIL line, after EHLO or HELO, through the front's rules and then SubEthaSMTP's MAIL: never
   * an unchecked exception; a sender is taken only with the parameters the gateway knows (SIZE up
   * to the limit, BODY, SMTPUTF8; anything else refused), each after one space and each keyword
   * once, exactly those declared, a non-ASCII address only with SMTPUTF8, and never with white
   * space at the end of the line; and a well-formed line with known parameters is taken.
   */
  @FuzzTest(maxDuration = "2m")
  void mailParameters(FuzzedDataProvider data) {
    boolean esmtp = data.consumeBoolean();
    FuzzedCommandLine mail = FuzzedCommandLine.of(data, "MAIL", "FROM:");
    if (mail.line().contains("\r") || mail.line().contains("\n")) {
      return; // not one command line
    }
    SmtpFront.MailParameters declared = SmtpFront.mailParameters(mail.line(), esmtp, MAIL_LIMIT);
    boolean taken = false;
    if (declared.refusal().isPresent()) {
      assertThat(declared.refusal().get()).matches("5\\d\\d 5\\.\\d\\.\\d+ [^\r\n]+");
    } else {
      handler = new Recorder(Reading.ALL, 0);
      MemorySession session = new MemorySession(MAIL_SERVER, utf8(mail.line() + "\r\n"));
      session.run();
      taken = !handler.senders.isEmpty();
      assertThat(taken).isEqualTo(session.replies().equals(List.of(OK)));
    }
    if (taken) {
      assertThat(mail.line().charAt(mail.line().length() - 1))
          .as("taken with white space at the end: %s", mail.line())
          .isGreaterThan(' ');
      String sender = handler.senders.get(0);
      assertThat(isAscii(sender) || declared.smtputf8())
          .as("non-ASCII sender <%s> without SMTPUTF8", sender)
          .isTrue();
      // words as SubEthaSMTP's trim() sees them: any control character or space between
      List<String> words = List.of(asciiUpper(mail.line()).split("[\\x00-\\x20]+"));
      assertThat(!declared.smtputf8() || words.contains("SMTPUTF8"))
          .as("SMTPUTF8 undeclared in %s", mail.line())
          .isTrue();
      assertThat(!declared.eightBitMime() || words.contains("BODY=8BITMIME"))
          .as("BODY=8BITMIME undeclared in %s", mail.line())
          .isTrue();
      if (mail.parameters() != null && !mail.parameters().isEmpty()) {
        String written = " " + String.join(" ", mail.parameters());
        assertThat(mail.line())
            .as("parameters taken only each after one space: %s", mail.line())
            .endsWith(written);
        char before = mail.line().charAt(mail.line().length() - written.length() - 1);
        assertThat(before).as("parameters taken only after one space").isGreaterThan(' ');
        List<String> keywords =
            mail.parameters().stream().map(p -> asciiUpper(p.split("=", 2)[0])).toList();
        assertThat(keywords).as("a keyword taken twice: %s", mail.line()).doesNotHaveDuplicates();
      }
    }
    if (mail.parameters() != null) {
      boolean allKnown = mail.parameters().stream().allMatch(FuzzedCommandLine::known);
      if (taken) {
        assertThat(allKnown)
            .as("unknown parameter taken: %s %s", mail.line(), mail.parameters())
            .isTrue();
        assertThat(mail.parameters().isEmpty() || esmtp).as("parameters after HELO").isTrue();
      }
      if (mail.canonical()) {
        boolean expected =
            allKnown
                && (mail.parameters().isEmpty() || esmtp)
                && (isAscii(mail.address()) || mail.has("SMTPUTF8"));
        assertThat(taken).as("well-formed %s", mail.line()).isEqualTo(expected);
        if (taken) {
          assertThat(declared.smtputf8()).isEqualTo(mail.has("SMTPUTF8"));
          assertThat(declared.eightBitMime()).isEqualTo(mail.has("BODY=8BITMIME"));
          assertThat(handler.senders).containsExactly(mail.address());
        }
      }
    }
  }

  /**
   * Any RCPT line, in a transaction with or without SMTPUTF8, through the front's rules and then
   * SubEthaSMTP's RCPT: never an unchecked exception; a recipient is taken only without parameters
   * (the gateway offers none), if not ASCII only with SMTPUTF8, and never with white space at the
   * end of the line; a well-formed line is taken.
   */
  @FuzzTest(maxDuration = "2m")
  void rcptParameters(FuzzedDataProvider data) {
    boolean smtputf8 = data.consumeBoolean();
    FuzzedCommandLine rcpt = FuzzedCommandLine.of(data, "RCPT", "TO:");
    if (rcpt.line().contains("\r") || rcpt.line().contains("\n")) {
      return; // not one command line
    }
    Optional<String> refusal = SmtpFront.rcptRefusal(rcpt.line(), smtputf8);
    boolean taken = false;
    if (refusal.isPresent()) {
      assertThat(refusal.get()).matches("5\\d\\d 5\\.\\d\\.\\d+ [^\r\n]+");
    } else {
      handler = new Recorder(Reading.ALL, 0);
      MemorySession session =
          new MemorySession(
              MAIL_SERVER, utf8("MAIL FROM:<a@example.net>\r\n" + rcpt.line() + "\r\n"));
      session.run();
      taken = !handler.recipients.isEmpty();
      assertThat(taken).isEqualTo(session.replies().equals(List.of(OK, OK)));
    }
    if (taken) {
      assertThat(rcpt.line().charAt(rcpt.line().length() - 1))
          .as("taken with white space at the end: %s", rcpt.line())
          .isGreaterThan(' ');
      String recipient = handler.recipients.get(0);
      assertThat(isAscii(recipient) || smtputf8)
          .as("non-ASCII recipient <%s> without SMTPUTF8", recipient)
          .isTrue();
    }
    if (rcpt.parameters() != null) {
      if (taken) {
        assertThat(rcpt.parameters()).as("parameter taken: %s", rcpt.line()).isEmpty();
      }
      if (rcpt.canonical() && !rcpt.address().isEmpty()) {
        boolean expected = rcpt.parameters().isEmpty() && (isAscii(rcpt.address()) || smtputf8);
        assertThat(taken).as("well-formed %s", rcpt.line()).isEqualTo(expected);
        if (taken) {
          assertThat(handler.recipients).containsExactly(rcpt.address());
        }
      }
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Size limit

  /**
   * However the message is read (byte by byte, into any part of an array, skipped, transferred): a
   * message of at most the limit comes whole and then ends; a larger one fails with {@link
   * TooMuchDataException} before its end, and no more than the limit is ever handed out.
   */
  @FuzzTest(maxDuration = "2m")
  void sizeLimit(FuzzedDataProvider data) throws IOException {
    int limit = data.consumeInt(0, 2000);
    int length = data.consumeInt(0, 2000);
    byte[] message = new byte[length];
    for (int i = 0; i < length; i++) {
      message[i] = (byte) i;
    }
    InputStream in = new SizeLimitedInputStream(new ByteArrayInputStream(message), limit);
    ByteArrayOutputStream handedOut = new ByteArrayOutputStream();
    long consumed = 0;
    boolean ended = false;
    try {
      while (!ended && data.remainingBytes() > 0) {
        switch (data.consumeInt(0, 4)) {
          case 0 -> {
            int b = in.read();
            ended = b < 0;
            if (!ended) {
              handedOut.write(b);
              consumed++;
            }
          }
          case 1 -> {
            byte[] buffer = new byte[data.consumeInt(0, 700)];
            int offset = data.consumeInt(0, buffer.length);
            int n = in.read(buffer, offset, data.consumeInt(0, buffer.length - offset));
            ended = n < 0;
            if (n > 0) {
              handedOut.write(buffer, offset, n);
              consumed += n;
            }
          }
          case 2 -> {
            long skipped = in.skip(data.consumeInt(-10, 700));
            assertThat(skipped).isNotNegative();
            consumed += skipped;
            handedOut.write(message, (int) (consumed - skipped), (int) skipped);
          }
          case 3 -> {
            byte[] all = in.readAllBytes();
            handedOut.writeBytes(all);
            consumed += all.length;
            ended = true;
          }
          default -> {
            assertThat(in.available()).isNotNegative();
          }
        }
        assertThat(consumed).as("never more than the limit").isLessThanOrEqualTo(limit);
      }
    } catch (TooMuchDataException e) {
      assertThat(length).as("only a message over the limit is too large").isGreaterThan(limit);
      assertThat(consumed).isLessThanOrEqualTo(limit);
      return;
    }
    assertThat(handedOut.toByteArray()).isEqualTo(Arrays.copyOf(message, (int) consumed));
    if (ended) {
      assertThat(length).as("a message over the limit never just ends").isLessThanOrEqualTo(limit);
      assertThat(consumed).isEqualTo(length);
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Received header

  /**
   * Whatever the client said in HELO or EHLO, and whichever valid recipient it gave: the {@code
   * Received:} header is CRLF-ended lines, each continuation starting with a TAB, of printable
   * characters only (the recipient may be UTF-8 where SMTPUTF8 was declared), its {@code from}
   * clause one word, with one {@code ;}, before the date; each XFORWARD command is printable ASCII
   * and fits in an SMTP command line.
   */
  @FuzzTest(maxDuration = "2m")
  void receivedHeader(FuzzedDataProvider data) {
    boolean esmtp = data.consumeBoolean();
    boolean smtputf8 = data.consumeBoolean();
    boolean ipv6 = data.consumeBoolean();
    boolean throughTheCommand = data.consumeBoolean();
    String recipient = data.consumeString(80) + "@" + data.consumeString(200);
    String helo = data.consumeRemainingAsString();
    if (throughTheCommand) {
      // what SubEthaSMTP keeps of the line: our EHLO, or its HELO
      MemorySession session =
          new MemorySession(DATA_SERVER, utf8((esmtp ? "EHLO " : "HELO ") + helo + "\r\n"));
      session.run();
      Optional<String> kept = session.session().getHelo();
      if (kept.isEmpty()) {
        return; // refused: no word, or not one line
      }
      helo = kept.get();
    }
    String canonical = AddressCheck.canonical(recipient);
    List<String> recipients =
        AddressCheck.problem(canonical).isEmpty() && (smtputf8 || isAscii(canonical))
            ? List.of(canonical)
            : List.of();
    Trace trace =
        new Trace(
            address(ipv6),
            Optional.of(helo),
            esmtp,
            Optional.empty(),
            smtputf8,
            "4f2a9c.1",
            "mx.example.com");

    String header =
        trace.receivedHeader(recipients, ZonedDateTime.of(2025, 1, 2, 3, 4, 5, 0, ZoneOffset.UTC));
    assertThat(header).startsWith("Received: from ").endsWith("\r\n");
    String[] lines = header.substring(0, header.length() - 2).split("\r\n", -1);
    for (int i = 0; i < lines.length; i++) {
      String line = lines[i];
      assertThat(line.chars()).as("line %d", i).noneMatch(c -> c == '\r' || c == '\n');
      if (i > 0) {
        assertThat(line).startsWith("\t");
      }
      assertThat(line.substring(i > 0 ? 1 : 0).codePoints())
          .as("printable: %s", line)
          .allMatch(
              c ->
                  (c >= 0x20 && c < 0x7f) || (smtputf8 && c >= 0xa0 && !Character.isISOControl(c)));
    }
    String from = lines[0].substring("Received: from ".length());
    String word = from.substring(0, from.indexOf(' '));
    assertThat(word).isEqualTo(Trace.heloToken(helo)).doesNotContain(";", "(", ")");
    assertThat(word).matches("[A-Za-z0-9._?-]{0,255}|\\[[0-9A-Fa-f:.IPv6]+]");
    assertThat(from.substring(word.length())).startsWith(" ([").endsWith("])");
    assertThat(header.chars().filter(c -> c == ';')).hasSize(1);

    for (String command : trace.xforward(Set.of("NAME", "ADDR", "PROTO", "HELO"))) {
      assertThat(command).startsWith("XFORWARD ");
      assertThat(command.length() + 2).isLessThanOrEqualTo(512);
      assertThat(command.chars()).allMatch(c -> c >= 0x20 && c < 0x7f);
    }
  }

  private static InetAddress address(boolean ipv6) {
    try {
      return InetAddress.getByName(ipv6 ? "2001:db8::25" : "192.0.2.25");
    } catch (UnknownHostException e) {
      throw new AssertionError("a literal needs no lookup", e);
    }
  }

  // ---------------------------------------------------------------------------------------------
  // The handler and the server

  /** What the fuzzed message handler does with the message. */
  enum Reading {
    /** Reads all of it and accepts it, as the relay does. */
    ALL,
    /** Reads at most {@code part} bytes and accepts the message. */
    PART_THEN_ACCEPT,
    /** Reads at most {@code part} bytes and refuses the message. */
    PART_THEN_REFUSE
  }

  /** Records what the session hands the message handler. */
  static final class Recorder implements MessageHandler {
    final Reading reading;
    final int part;
    final ByteArrayOutputStream received = new ByteArrayOutputStream();
    int calls;
    boolean sawEnd;
    IOException failure;

    Recorder(Reading reading, int part) {
      this.reading = reading;
      this.part = part;
    }

    final List<String> senders = new ArrayList<>();
    final List<String> recipients = new ArrayList<>();

    @Override
    public void from(String from) {
      senders.add(from);
    }

    @Override
    public void recipient(String recipient) {
      recipients.add(recipient);
    }

    @Override
    public String data(InputStream data) throws RejectException, IOException {
      calls++;
      try {
        if (reading == Reading.ALL) {
          data.transferTo(received);
          sawEnd = true;
        } else {
          byte[] buffer = new byte[64];
          int got = 0;
          int n = 0;
          while (got < part
              && (n = data.read(buffer, 0, Math.min(buffer.length, part - got))) > 0) {
            received.write(buffer, 0, n);
            got += n;
          }
          sawEnd = n < 0;
        }
      } catch (IOException e) {
        failure = e;
        throw e;
      }
      if (reading == Reading.PART_THEN_REFUSE) {
        throw new RejectException(554, "5.6.0 Refused by the test");
      }
      return null;
    }

    @Override
    public void done() {}
  }

  /** SubEthaSMTP with the gateway's own BDAT, DATA and EHLO, as {@link SmtpFront} installs them. */
  private static SMTPServer server(int maxMessageSize) {
    SMTPServer server =
        SMTPServer.port(0)
            .hostName("mx.example.com")
            .maxMessageSize(maxMessageSize)
            .messageHandlerFactory(context -> handler)
            .build();
    CommandHandler commands = server.getCommandHandler();
    commands.addCommand(new BdatCommand());
    commands.addCommand(new DataCommand());
    commands.addCommand(new EhloCommand());
    return server;
  }

  // ---------------------------------------------------------------------------------------------
  // The findings, as plain tests

  /** Found by {@link #dataBody}: the lines of a refused message were run as commands. */
  @Test
  void restOfARefusedMessageIsNeverTakenForCommands() {
    handler = new Recorder(Reading.PART_THEN_REFUSE, 0);
    MemorySession session =
        new MemorySession(
            DATA_SERVER, ascii(MAIL_AND_RCPT + "DATA\r\nline one\r\nNOOP\r\n.\r\n" + NEXT_COMMAND));
    assertThat(session.run()).isEqualTo(MemorySession.End.END_OF_INPUT);
    assertThat(session.replies()).containsExactly(OK, OK, DATA_GO_AHEAD, REFUSED, UNKNOWN);
  }

  /** Found by {@link #dataBody}: SubEthaSMTP's unstuffing kept the doubled dot of a first line. */
  @Test
  void firstLineStartingWithADotArrivesAsTheClientWroteIt() {
    handler = new Recorder(Reading.ALL, 0);
    MemorySession session =
        new MemorySession(
            DATA_SERVER, ascii(MAIL_AND_RCPT + "DATA\r\n..first\r\n..second\r\n.\r\n"));
    assertThat(session.run()).isEqualTo(MemorySession.End.END_OF_INPUT);
    assertThat(handler.received.toString(StandardCharsets.US_ASCII))
        .isEqualTo(".first\r\n.second\r\n");
  }

  /** Found by {@link #bdatChunks}: the rest of a refused chunk was run as commands. */
  @Test
  void restOfARefusedChunkedMessageIsNeverTakenForCommands() {
    handler = new Recorder(Reading.PART_THEN_REFUSE, 0);
    MemorySession session =
        new MemorySession(
            BDAT_SERVERS[2],
            ascii(MAIL_AND_RCPT + "BDAT 10\r\nNOOP\r\nNOOPBDAT 6 LAST\r\nXYZZ\r\n" + NEXT_COMMAND));
    assertThat(session.run()).isEqualTo(MemorySession.End.END_OF_INPUT);
    assertThat(session.replies())
        .containsExactly(OK, OK, "250 2.0.0 10 octets received", REFUSED, UNKNOWN);
  }

  /**
   * {@link #bdatChunks}'s two ways a transaction ends before LAST with the session going on: RSET
   * (then a new message), and a later chunk over the limit (read and thrown away, then the next
   * chunk outside a transaction), whatever the handler reads.
   */
  @Test
  void transactionEndedBeforeLastAsModelled() {
    byte[] noops = ascii("NOOP\r\n".repeat(10));
    BdatModel.Chunk first = new BdatModel.Chunk("BDAT 60", noops, false);
    BdatModel.Chunk large = new BdatModel.Chunk("BDAT 252", ascii("NOOP\r\n".repeat(42)), false);
    BdatModel.Chunk last = new BdatModel.Chunk("BDAT 60 LAST", noops, true);
    BdatModel.Line next = new BdatModel.Line(NEXT_COMMAND.strip());
    List<BdatModel.Item> rset = List.of(first, new BdatModel.Line("RSET"), last, next);
    List<BdatModel.Item> overTheLimit = List.of(first, large, last, next); // 312 > 300
    for (Reading reading : Reading.values()) {
      for (List<BdatModel.Item> script : List.of(rset, overTheLimit)) {
        assertBdatAsModelled(script, BdatModel.bytes(script).length, 1, reading, 30);
      }
    }
    assertThat(
            BdatModel.run(rset, BdatModel.bytes(rset).length, 300, Reading.ALL, 0, List.of())
                .replies)
        .containsExactly(
            "250 2.0.0 60 octets received", OK, "503 5.5.1 Error: need MAIL command", UNKNOWN);
    assertThat(
            BdatModel.run(
                    overTheLimit,
                    BdatModel.bytes(overTheLimit).length,
                    300,
                    Reading.ALL,
                    0,
                    List.of())
                .replies)
        .containsExactly(
            "250 2.0.0 60 octets received",
            "552 5.3.4 Message size exceeds fixed limit",
            "503 5.5.1 Error: need MAIL command",
            UNKNOWN);
  }

  /** Found by {@link #sizeLimit}: skipped bytes were not counted. */
  @Test
  void skippingPastTheLimitIsTooMuchData() {
    InputStream in = new SizeLimitedInputStream(new ByteArrayInputStream(new byte[100]), 10);
    assertThatThrownBy(() -> in.skip(50)).isInstanceOf(TooMuchDataException.class);
  }

  /**
   * Found by {@link #mailParameters}: the front cut the line with {@code strip()}, SubEthaSMTP with
   * {@code trim()}, so the rules checked another sender (and none after {@code MAIL\u0001FROM:}).
   */
  @Test
  void theRulesReadTheLineAsSubEthaSmtpDoes() {
    assertThat(SmtpFront.mailParameters("MAIL FROM:\u3000", true, 1000).refusal())
        .hasValue("553 5.6.7 Non-ASCII sender address needs SMTPUTF8");
    assertThat(
            SmtpFront.mailParameters("MAIL\u0001FROM:<a@example.net> RET=HDRS", true, 1000)
                .refusal())
        .hasValue("555 5.5.4 Unsupported MAIL parameter");
    assertThat(SmtpFront.rcptRefusal("RCPT\u0001TO:<b@example.com> NOTIFY=NEVER", false))
        .hasValue("555 5.5.4 Unsupported RCPT parameter");
  }

  /** Found by {@link #mailParameters}: Java's upper case made {@code \u017fize} (long s) SIZE. */
  @Test
  void keywordsAreAsciiWhateverJavaMakesOfTheirCase() {
    assertThat(
            SmtpFront.mailParameters("MAIL FROM:<a@example.net> \u017fmtputf8", true, 1000)
                .refusal())
        .hasValue("555 5.5.4 Unsupported MAIL parameter");
    assertThat(
            SmtpFront.mailParameters("MAIL FROM:<a@example.net> body=8b\u0131tmime", true, 1000)
                .refusal())
        .hasValue("555 5.5.4 Unsupported MAIL parameter");
  }

  /**
   * Found by {@link #mailParameters}: SubEthaSMTP reads SIZE only after a space, so a SIZE over the
   * limit after a tab was taken (a tab before a parameter is now a syntax error); and reads it as
   * an {@code int}, so one over 2^31 at the end of the line, even as the path, threw {@link
   * NumberFormatException} out of the session.
   */
  @Test
  void sizeOverTheLimitIsRefusedHoweverItIsWritten() {
    String tooLarge = "552 5.3.4 Message size exceeds fixed limit";
    assertThat(
            SmtpFront.mailParameters("MAIL FROM:<a@example.net>\tSIZE=1001", true, 1000).refusal())
        .hasValueSatisfying(reply -> assertThat(reply).startsWith("501 5.5.4 "));
    assertThat(
            SmtpFront.mailParameters("MAIL FROM:<a@example.net> SIZE=3572246322", true, 1000)
                .refusal())
        .hasValue(tooLarge);
    assertThat(
            SmtpFront.mailParameters(
                    "MAIL FROM:<a@example.net> SIZE=99999999999999999999", true, 1000)
                .refusal())
        .hasValue(tooLarge);
    assertThat(SmtpFront.mailParameters("MAIL FROM: SIZE=090950404504", true, 1000).refusal())
        .hasValue(tooLarge);
    assertThat(
            SmtpFront.mailParameters("MAIL FROM:<a@example.net> SIZE=1000", true, 1000).refusal())
        .isEmpty();
  }

  static String asciiUpper(String text) {
    StringBuilder upper = new StringBuilder(text.length());
    text.chars().forEach(c -> upper.append(c >= 'a' && c <= 'z' ? (char) (c - 32) : (char) c));
    return upper.toString();
  }

  private static boolean isAscii(String text) {
    return text.chars().allMatch(c -> c < 0x80);
  }

  private static String utf8RoundTrip(String text) {
    return new String(utf8(text), StandardCharsets.UTF_8);
  }

  static byte[] ascii(String text) {
    return text.getBytes(StandardCharsets.US_ASCII);
  }

  static byte[] utf8(String text) {
    return text.getBytes(StandardCharsets.UTF_8);
  }

  static byte[] concat(byte[]... parts) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    for (byte[] part : parts) {
      out.writeBytes(part);
    }
    return out.toByteArray();
  }
}
