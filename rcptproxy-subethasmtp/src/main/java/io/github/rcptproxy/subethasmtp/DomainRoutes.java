package io.github.rcptproxy.subethasmtp;

import io.github.rcptproxy.RecipientVerifier;
import java.net.IDN;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;

/**
 * Which verifier and policy answer for which recipient domain: the Java form of the original's
 * several sink instances side by side. Patterns are an exact domain ({@code example.com}), every
 * subdomain of one ({@code *.example.com}, not {@code example.com} itself), or {@code *} for any
 * domain; matching is case-insensitive and the most specific pattern wins. Recipients in a domain
 * no pattern matches are refused ({@code 550 5.7.1 Relaying denied}) unless {@link
 * Builder#acceptOtherDomains} says otherwise. Immutable.
 */
public final class DomainRoutes {

  /** One verifier with the policy for its answers. */
  public record Route(RecipientVerifier verifier, RecipientPolicy policy) {
    public Route {
      Objects.requireNonNull(verifier, "verifier");
      Objects.requireNonNull(policy, "policy");
    }
  }

  private final Map<String, Route> routes;
  private final boolean acceptOtherDomains;

  private DomainRoutes(Map<String, Route> routes, boolean acceptOtherDomains) {
    this.routes = Map.copyOf(routes);
    this.acceptOtherDomains = acceptOtherDomains;
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
    String name = normalise(domain);
    Route exact = routes.get(name);
    if (exact != null) {
      return Optional.of(exact);
    }
    for (int dot = name.indexOf('.'); dot >= 0; dot = name.indexOf('.', dot + 1)) {
      Route wildcard = routes.get("*" + name.substring(dot));
      if (wildcard != null) {
        return Optional.of(wildcard);
      }
    }
    return Optional.ofNullable(routes.get("*"));
  }

  public boolean acceptOtherDomains() {
    return acceptOtherDomains;
  }

  private static String normalise(String domain) {
    String lower = domain.toLowerCase(Locale.ROOT);
    try {
      return IDN.toASCII(lower);
    } catch (IllegalArgumentException e) {
      return lower;
    }
  }

  /** Collects routes; {@link #build()} checks them. Not thread-safe. */
  public static final class Builder {
    private final Map<String, Route> routes = new LinkedHashMap<>();
    private boolean acceptOtherDomains;

    private Builder() {}

    /**
     * Sends recipients in domains matching {@code pattern} to {@code verifier}, answered by {@code
     * policy}.
     */
    public Builder route(String pattern, RecipientVerifier verifier, RecipientPolicy policy) {
      Objects.requireNonNull(pattern, "pattern");
      String key =
          pattern.equals("*")
              ? "*"
              : pattern.startsWith("*.")
                  ? "*." + normalise(pattern.substring(2))
                  : normalise(pattern);
      if (!key.matches(
          "\\*|(\\*\\.)?[a-z0-9]([a-z0-9-]*[a-z0-9])?(\\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*")) {
        throw new IllegalArgumentException(
            "domain pattern must be a domain, *.domain or *, was '" + pattern + "'");
      }
      if (routes.putIfAbsent(key, new Route(verifier, policy)) != null) {
        throw new IllegalArgumentException("domain pattern '" + pattern + "' is routed twice");
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

    public DomainRoutes build() {
      if (routes.isEmpty()) {
        throw new IllegalArgumentException("at least one route is needed");
      }
      return new DomainRoutes(routes, acceptOtherDomains);
    }
  }
}
