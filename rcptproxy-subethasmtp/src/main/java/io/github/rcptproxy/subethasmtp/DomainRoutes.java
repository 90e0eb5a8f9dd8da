package io.github.rcptproxy.subethasmtp;

import io.github.rcptproxy.RecipientVerifier;
import io.github.rcptproxy.policy.DomainTable;
import java.util.Objects;
import java.util.Optional;

/**
 * Which verifier and policy answer for which recipient domain: the Java form of the original's
 * several sink instances side by side. Patterns are an exact domain ({@code example.com}), every
 * subdomain of one ({@code *.example.com}, not {@code example.com} itself), or {@code *} for any
 * domain; matching is case-insensitive and the most specific pattern wins, as in {@link
 * DomainTable}, which the Postfix policy server uses too. Recipients in a domain no pattern matches
 * are refused ({@code 550 5.7.1 Relaying denied}) unless {@link Builder#acceptOtherDomains} says
 * otherwise. Immutable.
 */
public final class DomainRoutes {

  /** One verifier with the policy for its answers. */
  public record Route(RecipientVerifier verifier, RecipientPolicy policy) {
    public Route {
      Objects.requireNonNull(verifier, "verifier");
      Objects.requireNonNull(policy, "policy");
    }
  }

  private final DomainTable<Route> routes;
  private final boolean acceptOtherDomains;
  private final int disconnectAfterRejections;

  private DomainRoutes(Builder b) {
    this.routes = b.routes.build();
    this.acceptOtherDomains = b.acceptOtherDomains;
    this.disconnectAfterRejections = b.disconnectAfterRejections;
  }

  public static Builder builder() {
    return new Builder();
  }

  /** Every domain to one verifier. */
  public static DomainRoutes all(RecipientVerifier verifier, RecipientPolicy policy) {
    return builder().route("*", verifier, policy).build();
  }

  /** The route for a recipient domain, most specific pattern first. */
  public Optional<Route> find(String domain) {
    return routes.find(domain);
  }

  public boolean acceptOtherDomains() {
    return acceptOtherDomains;
  }

  /**
   * The strictest of the routes' {@code disconnectAfterRejections} (0 if none hangs up): the limit
   * for recipients refused where no route answers (another domain, a malformed address).
   */
  int disconnectAfterRejections() {
    return disconnectAfterRejections;
  }

  /** Collects routes; {@link #build()} checks them. Not thread-safe. */
  public static final class Builder {
    private final DomainTable.Builder<Route> routes = DomainTable.builder();
    private boolean acceptOtherDomains;
    private int disconnectAfterRejections;

    private Builder() {}

    /**
     * Sends recipients in domains matching {@code pattern} to {@code verifier}, answered by {@code
     * policy}.
     */
    public Builder route(String pattern, RecipientVerifier verifier, RecipientPolicy policy) {
      routes.put(pattern, new Route(verifier, policy));
      int limit = policy.disconnectAfterRejections();
      if (limit > 0 && (disconnectAfterRejections == 0 || limit < disconnectAfterRejections)) {
        disconnectAfterRejections = limit;
      }
      return this;
    }

    /**
     * Accept (unverified) recipients in domains no route matches; default false: relaying denied.
     */
    public Builder acceptOtherDomains(boolean acceptOtherDomains) {
      this.acceptOtherDomains = acceptOtherDomains;
      return this;
    }

    /**
     * @throws IllegalArgumentException without a route
     */
    public DomainRoutes build() {
      return new DomainRoutes(this);
    }
  }
}
