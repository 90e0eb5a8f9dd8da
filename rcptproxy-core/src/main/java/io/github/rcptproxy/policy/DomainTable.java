package io.github.rcptproxy.policy;

import java.net.IDN;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;

/**
 * Values by recipient domain pattern: which route answers for which domain, in the SubEthaSMTP
 * adapter and the Postfix policy server alike. Patterns are an exact domain ({@code example.com}),
 * every subdomain of one ({@code *.example.com}, not {@code example.com} itself), or {@code *} for
 * any domain; matching is case-insensitive, internationalised names match their A-labels, and the
 * most specific pattern wins. Immutable.
 *
 * @param <V> what a pattern leads to
 */
public final class DomainTable<V> {
  private final Map<String, V> values;

  private DomainTable(Map<String, V> values) {
    this.values = Map.copyOf(values);
  }

  public static <V> Builder<V> builder() {
    return new Builder<>();
  }

  /** The value for a recipient domain, most specific pattern first; empty if none matches. */
  public Optional<V> find(String domain) {
    String name = normalise(domain);
    V exact = values.get(name);
    if (exact != null) {
      return Optional.of(exact);
    }
    for (int dot = name.indexOf('.'); dot >= 0; dot = name.indexOf('.', dot + 1)) {
      V wildcard = values.get("*" + name.substring(dot));
      if (wildcard != null) {
        return Optional.of(wildcard);
      }
    }
    return Optional.ofNullable(values.get("*"));
  }

  /** The patterns, normalised (lower case, A-labels). */
  public Set<String> patterns() {
    return values.keySet();
  }

  @Override
  public String toString() {
    return values.keySet().toString();
  }

  private static String normalise(String domain) {
    String lower = domain.toLowerCase(Locale.ROOT);
    try {
      return IDN.toASCII(lower);
    } catch (IllegalArgumentException e) {
      return lower;
    }
  }

  /** Collects patterns; {@link #build()} checks there is one. Not thread-safe. */
  public static final class Builder<V> {
    private final Map<String, V> values = new LinkedHashMap<>();

    private Builder() {}

    /**
     * Leads domains matching {@code pattern} to {@code value}.
     *
     * @throws IllegalArgumentException when the pattern is not a domain, {@code *.domain} or {@code
     *     *}, or is there already
     */
    public Builder<V> put(String pattern, V value) {
      Objects.requireNonNull(pattern, "pattern");
      Objects.requireNonNull(value, "value");
      // java.net.IDN is IDNA2003, which maps these away (straße to strasse) where Postfix's
      // IDNA2008 keeps them (xn--strae-oqa): routed so, the domain Postfix relays would not match.
      int deviation =
          pattern
              .codePoints()
              .filter(c -> c == 0xDF || c == 0x3C2 || c == 0x200C || c == 0x200D)
              .findFirst()
              .orElse(-1);
      if (deviation >= 0) {
        throw new IllegalArgumentException(
            String.format(
                "domain pattern '%s' contains U+%04X, which IDNA2003 and IDNA2008 (Postfix) read"
                    + " differently: write the domain's A-label (xn--...) instead",
                pattern, deviation));
      }
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
      if (values.putIfAbsent(key, value) != null) {
        throw new IllegalArgumentException("domain pattern '" + pattern + "' is routed twice");
      }
      return this;
    }

    /**
     * @throws IllegalArgumentException without a pattern
     */
    public DomainTable<V> build() {
      if (values.isEmpty()) {
        throw new IllegalArgumentException("at least one route is needed");
      }
      return new DomainTable<>(values);
    }
  }
}
