package io.github.rcptproxy.gateway.ops;

import static org.assertj.core.api.Assertions.assertThat;

import io.github.rcptproxy.gateway.HostPort;
import io.github.rcptproxy.gateway.RunningGateway;
import io.github.rcptproxy.gateway.TestGateway;
import io.github.rcptproxy.testing.ScriptedSmtpServer;
import io.github.rcptproxy.testing.SmtpClient;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import org.junit.jupiter.api.Test;

/** The gateway's verdict cache, Prometheus endpoint, health endpoint and summary line. */
class GatewayMetricsTest {

  @Test
  void cachedVerdictsMetricsAndHealthAreServed() throws Exception {
    try (ScriptedSmtpServer backend =
            ScriptedSmtpServer.start(
                ScriptedSmtpServer.dialogue(
                    a -> a.startsWith("alice") ? "250 2.1.5 Ok\r\n" : "550 5.1.1 unknown\r\n"));
        RunningGateway gateway =
            TestGateway.start(
                backend.port(),
                "example.com",
                TestGateway.noDisconnect()
                    .andThen(
                        s ->
                            s.verifier(
                                    v ->
                                        v.cache(
                                            Duration.ofSeconds(3600),
                                            Duration.ofSeconds(60),
                                            100_000))
                                .metricsListen(new HostPort("127.0.0.1", 0))))) {
      try (SmtpClient client = new SmtpClient("127.0.0.1", gateway.port())) {
        client.readReply();
        client.send("EHLO client.test");
        client.send("MAIL FROM:<you@example.net>");
        for (int i = 0; i < 3; i++) {
          assertThat(client.send("RCPT TO:<alice@example.com>")).startsWith("250");
          assertThat(client.send("RCPT TO:<nobody@example.com>")).startsWith("550");
        }
      }
      // alice, nobody and alice again as the control after nobody's refusal; the rest cached
      assertThat(backend.count("RCPT TO")).isEqualTo(3);

      HttpClient http = HttpClient.newHttpClient();
      String base = "http://127.0.0.1:" + gateway.metricsPort().orElseThrow();
      HttpResponse<String> metrics =
          http.send(
              HttpRequest.newBuilder(URI.create(base + "/metrics")).build(),
              HttpResponse.BodyHandlers.ofString());
      assertThat(metrics.statusCode()).isEqualTo(200);
      assertThat(metrics.body())
          .contains("rcptproxy_verdicts_total{reason=\"none\",verdict=\"accepted\"} 3.0")
          .contains("rcptproxy_verdicts_total{reason=\"none\",verdict=\"rejected\"} 3.0")
          .contains("rcptproxy_cache_hits_total 4.0")
          .contains("rcptproxy_sessions{state=\"idle\"} 1.0")
          .contains("rcptproxy_verification_latency_seconds{source=\"cache\",quantile=\"0.99\"}");

      HttpResponse<String> health =
          http.send(
              HttpRequest.newBuilder(URI.create(base + "/health")).build(),
              HttpResponse.BodyHandlers.ofString());
      assertThat(health.statusCode()).isEqualTo(200);
      assertThat(health.body()).startsWith("UP");

      assertThat(gateway.summary())
          .contains("verified 6: 3 accepted, 3 rejected, 0 unverified")
          .contains("cache 4 hits, 2 misses")
          .contains("backend UP");

      backend.close();
      gateway.verifier().invalidateAll();
      try (SmtpClient client = new SmtpClient("127.0.0.1", gateway.port())) {
        client.readReply();
        client.send("EHLO client.test");
        client.send("MAIL FROM:<you@example.net>");
        client.send("RCPT TO:<alice@example.com>");
      }
      HttpResponse<String> down =
          http.send(
              HttpRequest.newBuilder(URI.create(base + "/health")).build(),
              HttpResponse.BodyHandlers.ofString());
      assertThat(down.statusCode()).isEqualTo(503);
      assertThat(down.body()).startsWith("DOWN BACKEND_UNAVAILABLE");
    }
  }
}
