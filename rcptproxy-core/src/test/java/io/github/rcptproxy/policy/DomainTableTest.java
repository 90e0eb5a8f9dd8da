package io.github.rcptproxy.policy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

class DomainTableTest {

  @Test
  void theMostSpecificPatternWinsAndAWildcardSkipsTheApex() {
    DomainTable<String> table =
        DomainTable.<String>builder()
            .put("Mail.Example.com", "exact")
            .put("*.example.com", "subdomains")
            .put("bücher.example", "idn")
            .build();

    assertThat(table.find("MAIL.example.COM")).hasValue("exact");
    assertThat(table.find("a.b.example.com")).hasValue("subdomains");
    assertThat(table.find("example.com")).isEmpty();
    assertThat(table.find("badexample.com")).isEmpty();
    assertThat(table.find("xn--bcher-kva.example")).hasValue("idn");
    assertThat(table.patterns())
        .containsExactlyInAnyOrder("mail.example.com", "*.example.com", "xn--bcher-kva.example");
    assertThat(DomainTable.<String>builder().put("*", "any").build().find("x.test"))
        .hasValue("any");
  }

  @Test
  void refusesWhatIsNotAPatternOrIsTwice() {
    DomainTable.Builder<Integer> builder = DomainTable.<Integer>builder().put("example.com", 1);

    assertThatThrownBy(() -> builder.put("exa mple.com", 2)).hasMessageContaining("domain pattern");
    assertThatThrownBy(() -> builder.put("a.*.com", 2)).hasMessageContaining("domain pattern");
    assertThatThrownBy(() -> builder.put("EXAMPLE.com", 2)).hasMessageContaining("routed twice");
    // IDNA2003 made straße.test strasse.test, which Postfix's xn--strae-oqa.test never matched
    for (String deviating :
        new String[] {"straße.test", "*.straße.test", "ς.test", "a\u200db.test"}) {
      assertThatThrownBy(() -> builder.put(deviating, 2))
          .hasMessageContaining("write the domain's A-label (xn--...)");
    }
    assertThat(builder.put("xn--strae-oqa.test", 3).build().find("xn--strae-oqa.test")).hasValue(3);
    assertThatThrownBy(() -> DomainTable.builder().build())
        .hasMessageContaining("at least one route");
  }
}
