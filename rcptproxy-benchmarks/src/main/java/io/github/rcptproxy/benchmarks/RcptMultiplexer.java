package io.github.rcptproxy.benchmarks;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.Channels;
import java.nio.channels.SelectionKey;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.concurrent.ConcurrentLinkedQueue;

/**
 * The ceiling of an event-loop gateway asking by RCPT: one thread serves every client and a few
 * backend connections over non-blocking sockets, answers EHLO, MAIL and QUIT itself, and passes
 * each client's RCPT to the backend connection that client is given, in one open transaction, with
 * whatever other clients' RCPTs came in the same wake-up (one pipelined write); each reply goes
 * back to the client whose RCPT it answers. No verification logic, no limits, no TLS, no DATA: what
 * the cheapest possible front and hand-off would cost, not a gateway.
 */
final class RcptMultiplexer extends NioLoop {
  /** RCPTs per backend transaction before RSET and a new MAIL: under Postfix's limit of 1,000. */
  static final int RCPTS_PER_TRANSACTION = 500;

  /** The benchmark clients' own sender, so that Postfix sees the same transactions as direct. */
  static final String MAIL = "MAIL FROM:<bench@client.test>";

  private final List<Backend> backends = new ArrayList<>();
  private final ByteBuffer buffer = ByteBuffer.allocateDirect(64 * 1024);
  private int accepted;

  /** RCPTs handed in by other threads ({@link #ask}), for the loop to send. */
  private final ConcurrentLinkedQueue<Runnable> handedIn = new ConcurrentLinkedQueue<>();

  /** Where a backend's reply to one RCPT goes. */
  interface Replies {
    void reply(String line) throws IOException;
  }

  private RcptMultiplexer(int targetPort, int connections) throws IOException {
    super("rcpt-multiplexer");
    for (int i = 0; i < connections; i++) {
      backends.add(new Backend(targetPort));
    }
  }

  /** A multiplexer with {@code connections} to {@code targetPort} on loopback, until closed. */
  static RcptMultiplexer start(int targetPort, int connections) throws IOException {
    RcptMultiplexer multiplexer = new RcptMultiplexer(targetPort, connections);
    multiplexer.startLoop();
    return multiplexer;
  }

  @Override
  void accepted(SocketChannel channel) throws IOException {
    channel.socket().setTcpNoDelay(true);
    channel.configureBlocking(false);
    Client client = new Client(channel, backends.get(accepted++ % backends.size()));
    channel.register(selector, SelectionKey.OP_READ, client);
    client.reply("220 multiplexer ESMTP");
  }

  @Override
  void readable(SelectionKey key) throws IOException {
    ((Side) key.attachment()).readable();
  }

  /**
   * Hands an RCPT from another thread to the loop, for backend connection {@code connection}; the
   * loop sends it with the rest of its next wake-up's and gives the reply line to {@code to}.
   */
  void ask(int connection, String rcpt, Replies to) {
    handedIn.add(() -> backends.get(connection).ask(rcpt, to));
    selector.wakeup();
  }

  /** This wake-up's RCPTs, its clients' and those handed in, one write per backend connection. */
  @Override
  void served() throws IOException {
    for (Runnable ask = handedIn.poll(); ask != null; ask = handedIn.poll()) {
      ask.run();
    }
    for (Backend backend : backends) {
      backend.flush();
    }
  }

  /** A command line's verb, upper case: its first four characters. */
  static String verb(String line) {
    return line.length() < 4 ? line : line.substring(0, 4).toUpperCase(Locale.ROOT);
  }

  /** One side's lines as they come, split at CRLF. */
  private abstract class Side {
    final SocketChannel channel;
    private final StringBuilder partial = new StringBuilder();

    Side(SocketChannel channel) {
      this.channel = channel;
    }

    void readable() throws IOException {
      if (!readOrClose(channel, buffer)) {
        return;
      }
      while (buffer.hasRemaining()) {
        char c = (char) (buffer.get() & 0xff);
        if (c == '\n') {
          int end = partial.length() > 0 && partial.charAt(partial.length() - 1) == '\r' ? 1 : 0;
          line(partial.substring(0, partial.length() - end));
          partial.setLength(0);
        } else {
          partial.append(c);
        }
      }
    }

    abstract void line(String line) throws IOException;

    void write(ByteBuffer bytes) throws IOException {
      writeWhole(channel, bytes);
    }
  }

  private final class Client extends Side {
    private final Backend backend;

    Client(SocketChannel channel, Backend backend) {
      super(channel);
      this.backend = backend;
    }

    @Override
    void line(String line) throws IOException {
      switch (verb(line)) {
        case "RCPT" -> backend.ask(line, this::reply);
        case "QUIT" -> {
          reply("221 Bye");
          channel.close();
        }
        default -> reply("250 Ok");
      }
    }

    void reply(String line) throws IOException {
      if (channel.isOpen()) {
        write(ByteBuffer.wrap((line + "\r\n").getBytes(StandardCharsets.US_ASCII)));
      }
    }
  }

  /** One backend connection in one open transaction, and whom its next replies are for. */
  private final class Backend extends Side {
    /**
     * Whom each reply still due is for, in order; empty for the multiplexer's own RSET and MAIL.
     */
    private final ArrayDeque<Optional<Replies>> waiting = new ArrayDeque<>();

    private final StringBuilder out = new StringBuilder();
    private int rcpts;

    Backend(int port) throws IOException {
      super(SocketChannel.open(new InetSocketAddress(InetAddress.getLoopbackAddress(), port)));
      channel.socket().setTcpNoDelay(true);
      BufferedReader in =
          new BufferedReader(
              new InputStreamReader(Channels.newInputStream(channel), StandardCharsets.US_ASCII));
      expect(in, '2');
      write(ByteBuffer.wrap("EHLO multiplexer.test\r\n".getBytes(StandardCharsets.US_ASCII)));
      expect(in, '2');
      write(ByteBuffer.wrap((MAIL + "\r\n").getBytes(StandardCharsets.US_ASCII)));
      expect(in, '2');
      channel.configureBlocking(false);
      channel.register(selector, SelectionKey.OP_READ, this);
    }

    private static void expect(BufferedReader in, char code) throws IOException {
      String line;
      do {
        line = in.readLine();
        if (line == null || line.charAt(0) != code) {
          throw new IOException("backend answered " + line);
        }
      } while (line.length() > 3 && line.charAt(3) == '-');
    }

    void ask(String rcpt, Replies to) {
      if (rcpts++ == RCPTS_PER_TRANSACTION) {
        out.append("RSET\r\n").append(MAIL).append("\r\n");
        waiting.add(Optional.empty());
        waiting.add(Optional.empty());
        rcpts = 1;
      }
      out.append(rcpt).append("\r\n");
      waiting.add(Optional.of(to));
    }

    /** This wake-up's RCPTs, in one write. */
    void flush() throws IOException {
      if (out.length() > 0) {
        write(ByteBuffer.wrap(out.toString().getBytes(StandardCharsets.US_ASCII)));
        out.setLength(0);
      }
    }

    @Override
    void line(String line) throws IOException {
      if (line.length() > 3 && line.charAt(3) == '-') {
        return;
      }
      Optional<Replies> to = waiting.poll();
      if (to != null && to.isPresent()) {
        to.get().reply(line);
      }
    }
  }

  @Override
  public void close() throws IOException {
    super.close();
    for (Backend backend : backends) {
      backend.channel.close();
    }
  }
}
