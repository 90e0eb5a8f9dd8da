package io.github.rcptproxy.benchmarks;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SelectionKey;
import java.nio.channels.SocketChannel;

/**
 * A bare TCP hop: each client connection gets one to the target, and one thread forwards the bytes
 * both ways over non-blocking sockets, many connections per wake-up. No SMTP, no verification: a
 * proxy that opens a backend session per client connection, at its cheapest.
 */
final class ByteRelay extends NioLoop {
  private final InetSocketAddress target;
  private final ByteBuffer buffer = ByteBuffer.allocateDirect(64 * 1024);

  private ByteRelay(int targetPort) throws IOException {
    super("byte-relay");
    target = new InetSocketAddress(InetAddress.getLoopbackAddress(), targetPort);
  }

  /** A relay to {@code targetPort} on loopback, forwarding until closed. */
  static ByteRelay start(int targetPort) throws IOException {
    ByteRelay relay = new ByteRelay(targetPort);
    relay.startLoop();
    return relay;
  }

  @Override
  void accepted(SocketChannel client) throws IOException {
    SocketChannel backend = SocketChannel.open(target);
    for (SocketChannel channel : new SocketChannel[] {client, backend}) {
      channel.socket().setTcpNoDelay(true);
      channel.configureBlocking(false);
    }
    client.register(selector, SelectionKey.OP_READ, backend);
    backend.register(selector, SelectionKey.OP_READ, client);
  }

  /** What one side sent, written whole to the other. */
  @Override
  void readable(SelectionKey key) throws IOException {
    SocketChannel from = (SocketChannel) key.channel();
    SocketChannel to = (SocketChannel) key.attachment();
    if (readOrClose(from, buffer)) {
      writeWhole(to, buffer);
    } else {
      to.close();
    }
  }
}
