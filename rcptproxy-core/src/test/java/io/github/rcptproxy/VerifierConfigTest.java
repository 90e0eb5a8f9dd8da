package io.github.rcptproxy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.Test;

class VerifierConfigTest {

  @Test
  void defaultsAreTheOriginalSinksExceptTheProbeAndHelo() {
    VerifierConfig config = VerifierConfig.builder().backend("192.0.2.25").build();

    assertThat(config.backendHost()).hasValue("192.0.2.25");
    assertThat(config.backendPort()).isEqualTo(25);
    assertThat(config.heloName()).isEmpty(); // this host's fully qualified name, else its address
    assertThat(config.probeSender()).isEmpty(); // <>: passes sender verification
    assertThat(config.idleTimeout()).isEqualTo(Duration.ofSeconds(300));
    assertThat(config.maxSessionAge()).isEqualTo(Duration.ofSeconds(1800));
    assertThat(config.deadline()).isEqualTo(Duration.ofMillis(3000));
    assertThat(config.probeMethod()).isEqualTo(ProbeMethod.VRFY); // where honest, else RCPT
    assertThat(config.transactionPerVerification()).isFalse();
    assertThat(config.maxRejectionsPerSession()).isEqualTo(8);
    assertThat(config.maxRecipientsPerTransaction()).isLessThan(1000);
  }

  @Test
  void noBackendIsAllowed() {
    assertThat(VerifierConfig.builder().build().backendHost()).isEmpty();
  }

  @Test
  void nullReversePathIsAllowedAsProbeSender() {
    assertThat(VerifierConfig.builder().probeSender("").build().probeSender()).isEmpty();
  }

  @Test
  void toBuilderCopiesEveryValue() {
    VerifierConfig config =
        VerifierConfig.builder()
            .backend("backend.example", 2525)
            .heloName("gw.example")
            .probeSender("probe@gw.example")
            .idleTimeout(Duration.ofSeconds(10))
            .maxSessionAge(Duration.ofSeconds(20))
            .deadline(Duration.ofSeconds(1))
            .connectTimeout(Duration.ofMillis(500))
            .maxSessions(3)
            .probeMethod(ProbeMethod.VRFY)
            .transactionPerVerification(true)
            .maxRejectionsPerSession(4)
            .maxRecipientsPerTransaction(50)
            .maxVrfyPerSession(70)
            .build();

    assertThat(config.toBuilder().build()).usingRecursiveComparison().isEqualTo(config);
  }

  @Test
  void refusesBadValuesNamingThem() {
    refuses(b -> b.backend(" ", 25), "backend host");
    refuses(b -> b.backend("a b", 25), "backend host");
    refuses(b -> b.backend("host", 0), "backend port");
    refuses(b -> b.backend("host", 65536), "backend port");
    refuses(b -> b.heloName("bad name"), "HELO name");
    refuses(b -> b.heloName("evil\r\nRSET"), "HELO name");
    refuses(b -> b.probeSender("no-at-sign"), "probe sender");
    refuses(b -> b.probeSender("x@y\r\nDATA"), "probe sender");
    refuses(b -> b.probeSender("jörg@example.com"), "probe sender must be ASCII");
    refuses(b -> b.idleTimeout(Duration.ZERO), "idle timeout");
    refuses(b -> b.maxSessionAge(Duration.ofSeconds(-1)), "max session age");
    refuses(b -> b.deadline(Duration.ZERO), "deadline");
    refuses(b -> b.connectTimeout(Duration.ZERO), "connect timeout");
    refuses(b -> b.maxSessions(0), "max sessions cannot be less than 1");
    refuses(b -> b.maxRejectionsPerSession(0), "max rejections");
    refuses(b -> b.maxRecipientsPerTransaction(1001), "max recipients");
    refuses(b -> b.maxVrfyPerSession(0), "max VRFY");
  }

  @Test
  void sharedFindingsAreForAVerifierWithoutASharedCacheAndTurnNoCachingOn() {
    VerdictCache store = new MapCache();
    refuses(
        b -> b.sharedCache(store, Duration.ofHours(1), Duration.ofMinutes(5)).sharedFindings(store),
        "shared findings are for a verifier without a shared cache");
    VerifierConfig config = VerifierConfig.builder().sharedFindings(store).build();
    assertThat(config.sharedFindings()).containsSame(store);
    assertThat(config.cacheEnabled()).isFalse();
    assertThat(config.toBuilder().noSharedFindings().build().sharedFindings()).isEmpty();
  }

  /** A store in memory, for settings that need one. */
  private static final class MapCache implements VerdictCache {
    private final Map<String, CachedVerdict> entries = new ConcurrentHashMap<>();

    @Override
    public Optional<CachedVerdict> get(String key) {
      return Optional.ofNullable(entries.get(key));
    }

    @Override
    public void put(String key, CachedVerdict verdict) {
      entries.put(key, verdict);
    }

    @Override
    public void invalidate(String key) {
      entries.remove(key);
    }

    @Override
    public void invalidateAll() {
      entries.clear();
    }
  }

  private static void refuses(UnaryOperator<VerifierConfig.Builder> change, String message) {
    assertThatThrownBy(() -> change.apply(VerifierConfig.builder()).build())
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining(message);
  }

  @Test
  void authIsRefusedWithoutRequiredTlsUnlessAllowed() {
    assertThatThrownBy(() -> VerifierConfig.builder().auth("probe", "pw").build())
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("auth needs tls REQUIRED or VERIFY")
        .hasMessageNotContaining("pw");
    assertThatThrownBy(
            () ->
                VerifierConfig.builder().tls(BackendTls.OPPORTUNISTIC).auth("probe", "pw").build())
        .hasMessageContaining("auth needs tls");
    assertThat(
            VerifierConfig.builder()
                .auth("probe", "pw")
                .authWithoutTls(true)
                .build()
                .authWithoutTls())
        .isTrue();
    assertThat(VerifierConfig.builder().tls(BackendTls.REQUIRED).auth("probe", "pw").build().tls())
        .isEqualTo(BackendTls.REQUIRED);
  }

  @Test
  void authValuesAreChecked() {
    assertThatThrownBy(
            () -> VerifierConfig.builder().tls(BackendTls.REQUIRED).auth("", "pw").build())
        .hasMessageContaining("auth user must not be empty");
    assertThatThrownBy(
            () -> VerifierConfig.builder().tls(BackendTls.REQUIRED).auth("probe", "").build())
        .hasMessageContaining("auth password must not be empty");
    assertThatThrownBy(
            () -> VerifierConfig.builder().tls(BackendTls.REQUIRED).auth("pro\nbe", "pw").build())
        .hasMessageContaining("must not contain NUL, CR or LF");
    assertThatThrownBy(() -> VerifierConfig.builder().authWithoutTls(true).build())
        .hasMessageContaining("authWithoutTls is set but no auth");
  }

  @Test
  void thePasswordIsNeverInToString() {
    VerifierConfig config =
        VerifierConfig.builder()
            .backend("192.0.2.25")
            .tls(BackendTls.REQUIRED)
            .auth("probe@example.com", "Tr0ub4dor&3")
            .build();
    assertThat(config.toString())
        .contains("tls=REQUIRED", "auth=probe@example.com")
        .doesNotContain("Tr0ub4dor&3");
    assertThat(config.toBuilder().build().authPassword()).hasValue("Tr0ub4dor&3");
  }

  @Test
  void aTrustIsRefusedUnlessTlsVerifies() throws Exception {
    assertThatThrownBy(
            () ->
                VerifierConfig.builder()
                    .tls(BackendTls.REQUIRED)
                    .trust(javax.net.ssl.SSLContext.getDefault())
                    .build())
        .hasMessageContaining("tls trust (a CA) is used only with tls VERIFY");
  }

  @Test
  void anUnreadableOrEmptyPemIsRefusedNamingTheFile() throws Exception {
    java.nio.file.Path empty = java.nio.file.Files.createTempFile("ca", ".pem");
    assertThatThrownBy(
            () -> VerifierConfig.builder().tls(BackendTls.VERIFY).trustPem(empty).build())
        .hasMessageContaining("tls trust PEM file " + empty);
    java.nio.file.Path missing = empty.resolveSibling("no-such-ca.pem");
    assertThatThrownBy(
            () -> VerifierConfig.builder().tls(BackendTls.VERIFY).trustPem(missing).build())
        .hasMessageContaining("tls trust PEM file " + missing);
  }

  @Test
  void lmtpIsAProtocolChoice() {
    VerifierConfig config = VerifierConfig.builder().protocol(BackendProtocol.LMTP).build();
    assertThat(config.protocol()).isEqualTo(BackendProtocol.LMTP);
    assertThat(config.toString()).contains("protocol=LMTP");
    assertThat(VerifierConfig.builder().build().protocol()).isEqualTo(BackendProtocol.SMTP);
  }
}
