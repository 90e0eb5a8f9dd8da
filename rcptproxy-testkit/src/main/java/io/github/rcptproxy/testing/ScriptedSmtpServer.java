package io.github.rcptproxy.testing;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A fake SMTP server on a loopback ephemeral port that plays a script per connection: well-behaved
 * dialogues with chosen answers, or faults (silence, slow drip, reset, garbage, endless replies).
 * It records every byte it receives, so tests can assert what never reached a backend.
 */
public final class ScriptedSmtpServer implements AutoCloseable {

  /** What the server does on one connection. */
  @FunctionalInterface
  public interface Script {
    void play(Connection connection) throws IOException, InterruptedException;
  }

  /** Answers one command line (without CRLF) with raw reply text, CRLFs included. */
  @FunctionalInterface
  public interface Answers {
    String answer(String command) throws IOException, InterruptedException;
  }

  private final ServerSocket serverSocket;
  private final ExecutorService threads =
      Executors.newCachedThreadPool(
          r -> {
            Thread t = new Thread(r, "scripted-smtp");
            t.setDaemon(true);
            return t;
          });
  private final AtomicInteger connections = new AtomicInteger();
  private final ByteArrayOutputStream received = new ByteArrayOutputStream();
  private final List<Socket> open = new CopyOnWriteArrayList<>();
  private volatile Script script;
  private volatile boolean closed;

  private ScriptedSmtpServer(Script script) throws IOException {
    this.script = script;
    this.serverSocket = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
    threads.execute(this::acceptLoop);
  }

  public static ScriptedSmtpServer start(Script script) {
    try {
      return new ScriptedSmtpServer(script);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /**
   * A server that offers STARTTLS, says {@code 220} to it, takes the ClientHello and never answers:
   * a TLS handshake that outlasts any deadline.
   */
  public static Script handshakeNeverAnswered() {
    return connection -> {
      connection.write("220 silent.test ESMTP\r\n");
      connection.readLine(); // EHLO
      connection.write("250-silent.test\r\n250 STARTTLS\r\n");
      connection.readLine(); // STARTTLS
      connection.write("220 2.0.0 Ready to start TLS\r\n");
      connection.readUntilClosed();
    };
  }

  /**
   * A well-behaved server (greeting, EHLO with PIPELINING, MAIL, DATA) whose RCPT answers come from
   * {@code rcpt}, given the address between the angle brackets; null hangs up.
   */
  public static Script dialogue(Answers rcpt) {
    return dialogue(rcpt, endOfData -> "250 2.0.0 Ok: queued\r\n");
  }

  /**
   * As {@link #dialogue(Answers)}, answering the end of each message ({@code "."}) with {@code
   * endOfData}.
   */
  public static Script dialogue(Answers rcpt, Answers endOfData) {
    return connection -> {
      connection.write("220 fake.test ESMTP\r\n");
      String line;
      while ((line = connection.readLine()) != null) {
        String upper = line.toUpperCase();
        String reply;
        if (upper.startsWith("EHLO")) {
          reply = "250-fake.test\r\n250-PIPELINING\r\n250 ENHANCEDSTATUSCODES\r\n";
        } else if (upper.startsWith("HELO")
            || upper.startsWith("MAIL")
            || upper.startsWith("RSET")) {
          reply = "250 2.0.0 Ok\r\n";
        } else if (upper.startsWith("RCPT TO:")) {
          reply = rcpt.answer(line.substring(line.indexOf('<') + 1, line.lastIndexOf('>')));
        } else if (upper.equals("DATA")) {
          connection.write("354 End data with <CR><LF>.<CR><LF>\r\n");
          for (String data = connection.readLine();
              data != null && !data.equals(".");
              data = connection.readLine()) {
            // the message is recorded in received()
          }
          reply = endOfData.answer(".");
        } else if (upper.startsWith("QUIT")) {
          connection.write("221 2.0.0 Bye\r\n");
          return;
        } else {
          reply = "502 5.5.2 Error: command not recognized\r\n";
        }
        if (reply == null) {
          return; // hang up
        }
        connection.write(reply);
      }
    };
  }

  /** How often {@code text} occurs in everything received so far. */
  public int count(String text) {
    String all = received();
    int count = 0;
    for (int at = all.indexOf(text); at >= 0; at = all.indexOf(text, at + 1)) {
      count++;
    }
    return count;
  }

  public int port() {
    return serverSocket.getLocalPort();
  }

  /** Changes what later connections get. */
  public void play(Script next) {
    this.script = next;
  }

  public int connections() {
    return connections.get();
  }

  /** Everything received so far on every connection, as ISO-8859-1 text. */
  public String received() {
    synchronized (received) {
      return received.toString(StandardCharsets.ISO_8859_1);
    }
  }

  /** Closes every open connection abruptly, as a backend restart would. */
  public void dropConnections() throws IOException {
    for (Socket socket : open) {
      socket.close();
    }
  }

  @Override
  public void close() throws IOException {
    closed = true;
    serverSocket.close();
    dropConnections();
    threads.shutdownNow();
  }

  private void acceptLoop() {
    while (!serverSocket.isClosed()) {
      try {
        Socket socket = serverSocket.accept();
        if (closed) {
          socket.close(); // accepted in the instant of closing: refuse it like a closed port would
          return;
        }
        connections.incrementAndGet();
        open.add(socket);
        Script current = script;
        threads.execute(
            () -> {
              try (socket) {
                current.play(new Connection(socket));
              } catch (IOException | InterruptedException e) {
                // the client went away, or the test is over
              } finally {
                open.remove(socket);
              }
            });
      } catch (IOException e) {
        return;
      }
    }
  }

  /** The server's side of one connection. */
  public final class Connection {
    private final Socket socket;
    private final InputStream in;
    private final OutputStream out;

    Connection(Socket socket) throws IOException {
      this.socket = socket;
      this.in = socket.getInputStream();
      this.out = socket.getOutputStream();
    }

    public void write(String text) throws IOException {
      write(text.getBytes(StandardCharsets.ISO_8859_1));
    }

    public void write(byte[] bytes) throws IOException {
      out.write(bytes);
      out.flush();
    }

    /** Reads one line up to LF, returns it without CR LF; null at end of stream. */
    public String readLine() throws IOException {
      ByteArrayOutputStream line = new ByteArrayOutputStream();
      int b;
      while ((b = in.read()) >= 0) {
        synchronized (received) {
          received.write(b);
        }
        if (b == '\n') {
          String text = line.toString(StandardCharsets.ISO_8859_1);
          return text.endsWith("\r") ? text.substring(0, text.length() - 1) : text;
        }
        line.write(b);
      }
      return null;
    }

    /** Reads and records until the client hangs up: a server that says nothing more. */
    public void readUntilClosed() throws IOException {
      while (readLine() != null) {
        // keep reading
      }
    }

    /** Closes with a TCP reset instead of an orderly close. */
    public void reset() throws IOException {
      socket.setSoLinger(true, 0);
      socket.close();
    }
  }
}
