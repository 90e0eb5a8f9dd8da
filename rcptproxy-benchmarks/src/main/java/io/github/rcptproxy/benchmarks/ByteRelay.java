package io.github.rcptproxy.benchmarks;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;

/**
 * A bare TCP hop: each client connection gets one to the target, and one thread forwards the bytes
 * both ways over non-blocking sockets, many connections per wake-up. No SMTP, no verification: what
 * any proxy between the clients and the backend costs at the least on the same machine.
 */
final class ByteRelay implements AutoCloseable {
  private final ServerSocketChannel server;
  private final Selector selector;
  private final InetSocketAddress target;
  private final ByteBuffer buffer = ByteBuffer.allocateDirect(64 * 1024);
  private final Thread loop;

  private ByteRelay(int targetPort) throws IOException {
    target = new InetSocketAddress(InetAddress.getLoopbackAddress(), targetPort);
    selector = Selector.open();
    server = ServerSocketChannel.open();
    server.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
    server.configureBlocking(false);
    server.register(selector, SelectionKey.OP_ACCEPT);
    loop = new Thread(this::run, "byte-relay");
    loop.setDaemon(true);
  }

  /** A relay to {@code targetPort} on loopback, forwarding until closed. */
  static ByteRelay start(int targetPort) throws IOException {
    ByteRelay relay = new ByteRelay(targetPort);
    relay.loop.start();
    return relay;
  }

  int port() {
    return server.socket().getLocalPort();
  }

  private void run() {
    try {
      while (selector.isOpen()) {
        selector.select();
        if (!selector.isOpen()) {
          return;
        }
        for (SelectionKey key : selector.selectedKeys()) {
          if (key.isValid() && key.isAcceptable()) {
            accept();
          } else if (key.isValid() && key.isReadable()) {
            forward(key);
          }
        }
        selector.selectedKeys().clear();
      }
    } catch (IOException e) {
      if (selector.isOpen()) {
        throw new UncheckedIOException(e);
      }
    }
  }

  private void accept() throws IOException {
    SocketChannel client = server.accept();
    if (client == null) {
      return;
    }
    SocketChannel backend = SocketChannel.open(target);
    for (SocketChannel channel : new SocketChannel[] {client, backend}) {
      channel.socket().setTcpNoDelay(true);
      channel.configureBlocking(false);
    }
    client.register(selector, SelectionKey.OP_READ, backend);
    backend.register(selector, SelectionKey.OP_READ, client);
  }

  /** What one side sent, written whole to the other (SMTP lines: a write seldom waits). */
  private void forward(SelectionKey key) throws IOException {
    SocketChannel from = (SocketChannel) key.channel();
    SocketChannel to = (SocketChannel) key.attachment();
    buffer.clear();
    int read;
    try {
      read = from.read(buffer);
    } catch (IOException reset) {
      read = -1;
    }
    if (read < 0) {
      from.close();
      to.close();
      return;
    }
    buffer.flip();
    while (buffer.hasRemaining()) {
      if (to.write(buffer) == 0) {
        Thread.onSpinWait();
      }
    }
  }

  @Override
  public void close() throws IOException {
    selector.close();
    server.close();
  }
}
