package io.github.rcptproxy.benchmarks;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
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
  private final ServerSocket server;
  private final BlockingQueue<Backend> backends;

  /** The event loop the RCPTs are handed to, or null where each thread asks itself. */
  private final RcptMultiplexer loop;

  private final ExecutorService threads =
      Executors.newCachedThreadPool(
          task -> {
            Thread thread = new Thread(task, "threaded-rcpt-proxy");
            thread.setDaemon(true);
            return thread;
          });

  private ThreadedRcptProxy(int targetPort, int connections, RcptMultiplexer loop)
      throws IOException {
    this.loop = loop;
    backends = new ArrayBlockingQueue<>(connections);
    for (int i = 0; i < connections; i++) {
      backends.add(
          loop != null
              ? new Backend(i)
              : new Backend(new Socket(InetAddress.getLoopbackAddress(), targetPort)));
    }
    server = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
  }

  /** A proxy with {@code connections} to {@code targetPort} on loopback, until closed. */
  static ThreadedRcptProxy start(int targetPort, int connections) throws IOException {
    return start(new ThreadedRcptProxy(targetPort, connections, null));
  }

  /** A proxy whose threads hand each RCPT to {@code loop}'s connections, until closed. */
  static ThreadedRcptProxy handingTo(RcptMultiplexer loop, int connections) throws IOException {
    return start(new ThreadedRcptProxy(0, connections, loop));
  }

  private static ThreadedRcptProxy start(ThreadedRcptProxy proxy) {
    proxy.threads.execute(proxy::acceptAll);
    return proxy;
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

  /** One client's session, on a backend connection of its own until it leaves. */
  private void serve(Socket client) {
    Backend backend = null;
    try (client) {
      backend = backends.take();
      client.setTcpNoDelay(true);
      BufferedReader in = Backend.reader(client);
      OutputStream out = client.getOutputStream();
      Backend.send(out, "220 threaded proxy ESMTP");
      for (String line = in.readLine(); line != null; line = in.readLine()) {
        String verb = line.length() < 4 ? line : line.substring(0, 4).toUpperCase();
        if (verb.equals("QUIT")) {
          Backend.send(out, "221 Bye");
          return;
        }
        Backend.send(out, verb.equals("RCPT") ? ask(backend, line) : "250 Ok");
      }
    } catch (IOException | InterruptedException e) {
      // the client left or the proxy closed
    } finally {
      if (backend != null) {
        backends.add(backend);
      }
    }
  }

  private String ask(Backend backend, String rcpt) throws IOException, InterruptedException {
    if (loop == null) {
      return backend.ask(rcpt);
    }
    CompletableFuture<String> reply = new CompletableFuture<>();
    loop.ask(backend.connection, rcpt, reply::complete);
    try {
      return reply.get();
    } catch (ExecutionException e) {
      throw new IOException(e.getCause());
    }
  }

  /** One Postfix connection in one open transaction (or the number of a loop's). */
  private static final class Backend {
    private final Socket socket;
    private final BufferedReader in;
    private final OutputStream out;
    private final int connection;
    private int rcpts;

    Backend(int loopConnection) {
      socket = null;
      in = null;
      out = null;
      connection = loopConnection;
    }

    Backend(Socket socket) throws IOException {
      this.socket = socket;
      connection = -1;
      socket.setTcpNoDelay(true);
      in = reader(socket);
      out = socket.getOutputStream();
      expect('2');
      command("EHLO threaded.test", '2');
      command(RcptMultiplexer.MAIL, '2');
    }

    static BufferedReader reader(Socket socket) throws IOException {
      return new BufferedReader(
          new InputStreamReader(socket.getInputStream(), StandardCharsets.US_ASCII));
    }

    static void send(OutputStream out, String line) throws IOException {
      out.write((line + "\r\n").getBytes(StandardCharsets.US_ASCII));
    }

    /** The backend's final reply line to {@code rcpt}, after a new transaction where it is due. */
    String ask(String rcpt) throws IOException {
      if (rcpts++ == RcptMultiplexer.RCPTS_PER_TRANSACTION) {
        command("RSET", '2');
        command(RcptMultiplexer.MAIL, '2');
        rcpts = 1;
      }
      send(out, rcpt);
      return reply();
    }

    private void command(String command, char code) throws IOException {
      send(out, command);
      expect(code);
    }

    private void expect(char code) throws IOException {
      String reply = reply();
      if (reply.charAt(0) != code) {
        throw new IOException("backend answered " + reply);
      }
    }

    private String reply() throws IOException {
      String line;
      do {
        line = in.readLine();
        if (line == null) {
          throw new IOException("backend closed the connection");
        }
      } while (line.length() > 3 && line.charAt(3) == '-');
      return line;
    }
  }

  @Override
  public void close() throws IOException {
    server.close();
    threads.shutdownNow();
    for (Backend backend : backends) {
      if (backend.socket != null) {
        backend.socket.close();
      }
    }
  }
}
