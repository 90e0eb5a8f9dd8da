package io.github.rcptproxy.benchmarks;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

/**
 * {@link RcptMultiplexer} with a thread per client connection instead of one event loop: each
 * client's thread reads its commands from a blocking socket, answers EHLO, MAIL and QUIT itself,
 * and has each RCPT asked on a persistent Postfix connection it holds for as long as the client is
 * connected, waiting for the reply: asked by the thread itself, blocking on the connection, or
 * handed to a multiplexer's event loop that owns the connections. Against the multiplexer's own
 * row, what a thread per connection costs, the Postfix side being the same.
 */
final class ThreadedRcptProxy implements AutoCloseable {
  /** One Postfix connection, in one open transaction: its reply line to each RCPT. */
  private interface Connection extends AutoCloseable {
    String ask(String rcpt) throws IOException, InterruptedException;

    @Override
    default void close() {}
  }

  private final ServerSocket server;
  private final List<Connection> all;
  private final BlockingQueue<Connection> connections;

  private final ExecutorService threads =
      Executors.newCachedThreadPool(
          task -> {
            Thread thread = new Thread(task, "threaded-rcpt-proxy");
            thread.setDaemon(true);
            return thread;
          });

  private ThreadedRcptProxy(List<Connection> connections) throws IOException {
    all = List.copyOf(connections);
    this.connections = new ArrayBlockingQueue<>(connections.size(), false, connections);
    server = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
  }

  /**
   * A proxy with {@code connections} of its own to {@code targetPort} on loopback, until closed.
   */
  static ThreadedRcptProxy start(int targetPort, int connections) throws IOException {
    List<Connection> own = new ArrayList<>();
    for (int i = 0; i < connections; i++) {
      own.add(new Session(new RawSmtp(targetPort)));
    }
    return new ThreadedRcptProxy(own).start();
  }

  /** A proxy whose threads hand each RCPT to {@code loop}'s connections, until closed. */
  static ThreadedRcptProxy handingTo(RcptMultiplexer loop, int connections) throws IOException {
    List<Connection> handed = new ArrayList<>();
    for (int i = 0; i < connections; i++) {
      int connection = i;
      handed.add(
          rcpt -> {
            CompletableFuture<String> reply = new CompletableFuture<>();
            loop.ask(connection, rcpt, reply::complete);
            try {
              return reply.get();
            } catch (ExecutionException e) {
              throw new IOException(e.getCause());
            }
          });
    }
    return new ThreadedRcptProxy(handed).start();
  }

  private ThreadedRcptProxy start() {
    threads.execute(this::acceptAll);
    return this;
  }

  int port() {
    return server.getLocalPort();
  }

  private void acceptAll() {
    while (!server.isClosed()) {
      try {
        Socket client = server.accept();
        threads.execute(() -> serve(client));
      } catch (IOException closed) {
        return;
      }
    }
  }

  /** One client's session, on a Postfix connection of its own until it leaves. */
  private void serve(Socket client) {
    Connection connection = null;
    try (client) {
      connection = connections.take();
      client.setTcpNoDelay(true);
      BufferedReader in =
          new BufferedReader(
              new InputStreamReader(client.getInputStream(), StandardCharsets.US_ASCII));
      OutputStream out = client.getOutputStream();
      send(out, "220 threaded proxy ESMTP");
      for (String line = in.readLine(); line != null; line = in.readLine()) {
        String verb = RcptMultiplexer.verb(line);
        if (verb.equals("QUIT")) {
          send(out, "221 Bye");
          return;
        }
        send(out, verb.equals("RCPT") ? connection.ask(line) : "250 Ok");
      }
    } catch (IOException | InterruptedException e) {
      // the client left or the proxy closed
    } finally {
      if (connection != null) {
        connections.add(connection);
      }
    }
  }

  private static void send(OutputStream out, String line) throws IOException {
    out.write((line + "\r\n").getBytes(StandardCharsets.US_ASCII));
  }

  /** A Postfix connection of the proxy's own, asked by the thread that holds it. */
  private static final class Session implements Connection {
    private final RawSmtp smtp;
    private int rcpts;

    Session(RawSmtp smtp) throws IOException {
      this.smtp = smtp;
      smtp.expectCommand("EHLO threaded.test", '2');
      smtp.expectCommand(RcptMultiplexer.MAIL, '2');
    }

    /** The reply line to {@code rcpt}, after a new transaction where one is due. */
    @Override
    public String ask(String rcpt) throws IOException {
      if (rcpts++ == RcptMultiplexer.RCPTS_PER_TRANSACTION) {
        smtp.expectCommand("RSET", '2');
        smtp.expectCommand(RcptMultiplexer.MAIL, '2');
        rcpts = 1;
      }
      return smtp.lastLine(rcpt);
    }

    @Override
    public void close() {
      smtp.close();
    }
  }

  @Override
  public void close() throws IOException {
    server.close();
    threads.shutdownNow();
    for (Connection connection : all) {
      connection.close();
    }
  }
}
