package io.github.rcptproxy;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The one form of an address: only forms that name the same mailbox (as a Postfix front takes and
 * delivers them, measured with Postfix 3.7) are changed; anything doubtful is left for the syntax
 * check to refuse.
 */
class CanonicalAddressTest {
  @ParameterizedTest(name = "{0} -> {1}")
  @CsvSource(
      delimiter = '|',
      value = {
        "user@example.com|user@example.com",
        "<user@example.com>|user@example.com",
        "user@example.com.|user@example.com",
        "user@Example.COM.|user@example.com",
        "User@EXAMPLE.com|User@example.com", // a local part keeps its case
        "user@example.com..|user@example.com..", // Postfix refuses it; so does the check
        "user@.|user@.",
        "\"user\"@example.com|user@example.com",
        "\"first.last\"@example.com|first.last@example.com",
        "\"user 9\"@example.com|\"user 9\"@example.com", // needs its quotes: left for the check
        "\".user\"@example.com|\".user\"@example.com",
        "@relay.example:user@example.com|user@example.com",
        "@a.example,@b.example:user@example.com.|user@example.com",
        "@:user@example.com|@:user@example.com",
        "@a..b:user@example.com|@a..b:user@example.com",
        "user@ｅｘａｍｐｌｅ.com|user@example.com",
        "user@example。com|user@example.com",
        "user@bücher.example.|user@xn--bcher-kva.example",
        "user@[192.0.2.1]|user@[192.0.2.1]",
        "user|user",
        "@example.com|@example.com",
        "user@|user@",
      })
  void eachFormHasOneCanonicalForm(String given, String canonical) {
    assertThat(AddressCheck.canonical(given)).isEqualTo(canonical);
    assertThat(AddressCheck.canonical(canonical)).as("idempotent").isEqualTo(canonical);
  }

  /** What Postfix hands a policy service (measured): the local part unquoted. */
  @ParameterizedTest(name = "{0} -> {1}")
  @CsvSource(
      delimiter = '|',
      value = {
        "user3@example.test|user3@example.test",
        "user1@example.test.|user1@example.test",
        "user2@EXAMPLE.TEST|user2@example.test",
        "user 9@example.test|\"user 9\"@example.test",
        "a\"b@example.test|\"a\\\"b\"@example.test",
      })
  void postfixsInternalFormIsQuotedWhereItNeedsIt(String given, String canonical) {
    assertThat(AddressCheck.canonicalFromPostfix(given)).isEqualTo(canonical);
  }
}
