package io.github.rcptproxy.gateway.ops;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import io.github.rcptproxy.Health;
import io.github.rcptproxy.RecipientVerifier;
import io.github.rcptproxy.gateway.HostPort;
import io.github.rcptproxy.gateway.UsageException;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.function.Supplier;

/**
 * {@code GET /metrics} (Prometheus text format) and {@code GET /health} (200 or 503), nothing else.
 */
public final class MetricsEndpoint implements AutoCloseable {
  private final HttpServer server;

  /**
   * @param fleet a line on the gateway's fleet for /health (empty without one); a fleet that falls
   *     back to local state does not make the gateway unhealthy, it says so
   */
  public MetricsEndpoint(
      HostPort listen,
      PrometheusMeterRegistry registry,
      RecipientVerifier verifier,
      Supplier<String> fleet) {
    try {
      server = HttpServer.create(new InetSocketAddress(listen.host(), listen.port()), 16);
    } catch (IOException e) {
      throw new UsageException(
          "cannot serve metrics on " + listen.host() + ":" + listen.port() + ": " + e.getMessage());
    }
    server.createContext(
        "/metrics",
        exchange -> reply(exchange, 200, "text/plain; version=0.0.4", registry.scrape()));
    server.createContext(
        "/health",
        exchange -> {
          Health health = verifier.health();
          boolean up =
              health.status() == Health.Status.UP || health.status() == Health.Status.UNKNOWN;
          reply(
              exchange,
              up ? 200 : 503,
              "text/plain",
              health.status()
                  + health.lastError().map(e -> " " + e).orElse("")
                  + "\n"
                  + (fleet.get().isEmpty() ? "" : fleet.get() + "\n"));
        });
    server.start();
  }

  public int port() {
    return server.getAddress().getPort();
  }

  private static void reply(HttpExchange exchange, int status, String type, String body)
      throws IOException {
    byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
    exchange.getResponseHeaders().set("Content-Type", type);
    exchange.sendResponseHeaders(status, bytes.length);
    try (OutputStream out = exchange.getResponseBody()) {
      out.write(bytes);
    }
  }

  @Override
  public void close() {
    server.stop(0);
  }
}
