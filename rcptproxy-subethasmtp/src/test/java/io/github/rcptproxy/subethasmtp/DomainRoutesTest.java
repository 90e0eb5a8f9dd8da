package io.github.rcptproxy.subethasmtp;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.github.rcptproxy.RecipientVerifier;
import io.github.rcptproxy.VerifierConfig;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

class DomainRoutesTest {
  private final RecipientVerifier exact =
      RecipientVerifier.create(VerifierConfig.builder().build());
  private final RecipientVerifier wildcard =
      RecipientVerifier.create(VerifierConfig.builder().build());
  private final RecipientVerifier fallback =
      RecipientVerifier.create(VerifierConfig.builder().build());
  private final RecipientPolicy policy = RecipientPolicy.defaults();

  @AfterEach
  void close() {
    exact.close();
    wildcard.close();
    fallback.close();
  }

  @Test
  void mostSpecificPatternWins() {
    DomainRoutes routes =
        DomainRoutes.builder()
            .route("mail.example.com", exact, policy)
            .route("*.example.com", wildcard, policy)
            .route("*", fallback, policy)
            .build();

    assertThat(routes.find("MAIL.Example.com"))
        .hasValueSatisfying(r -> assertThat(r.verifier()).isSameAs(exact));
    assertThat(routes.find("a.b.example.com"))
        .hasValueSatisfying(r -> assertThat(r.verifier()).isSameAs(wildcard));
    assertThat(routes.find("example.com"))
        .hasValueSatisfying(r -> assertThat(r.verifier()).isSameAs(fallback));
    assertThat(routes.find("other.test"))
        .hasValueSatisfying(r -> assertThat(r.verifier()).isSameAs(fallback));
  }

  @Test
  void wildcardDoesNotMatchTheApexAndUnroutedDomainsAreEmpty() {
    DomainRoutes routes = DomainRoutes.builder().route("*.example.com", wildcard, policy).build();

    assertThat(routes.find("example.com")).isEmpty();
    assertThat(routes.find("badexample.com")).isEmpty();
    assertThat(routes.acceptOtherDomains()).isFalse();
  }

  @Test
  void internationalDomainsMatchTheirALabels() {
    DomainRoutes routes = DomainRoutes.builder().route("bücher.example", exact, policy).build();

    assertThat(routes.find("xn--bcher-kva.example")).isPresent();
    assertThat(routes.find("BÜCHER.example")).isPresent();
  }

  @Test
  void refusesBadOrDuplicatePatterns() {
    assertThatThrownBy(() -> DomainRoutes.builder().route("exa mple.com", exact, policy))
        .hasMessageContaining("domain pattern");
    assertThatThrownBy(() -> DomainRoutes.builder().route("a.*.com", exact, policy))
        .hasMessageContaining("domain pattern");
    assertThatThrownBy(
            () ->
                DomainRoutes.builder()
                    .route("example.com", exact, policy)
                    .route("EXAMPLE.com", wildcard, policy))
        .hasMessageContaining("routed twice");
    assertThatThrownBy(() -> DomainRoutes.builder().build())
        .hasMessageContaining("at least one route");
  }
}
