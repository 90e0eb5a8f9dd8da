package io.github.rcptproxy.postfix;

import static org.assertj.core.api.Assertions.assertThat;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;

/**
 * Fuzzes the policy request reader. By default each stored input runs once (in {@code mvn verify});
 * to fuzz for real: {@code JAZZER_FUZZ=1 mvn -pl rcptproxy-postfix-policy test
 * -Dtest=RequestReaderFuzzTest}.
 */
class RequestReaderFuzzTest {

  /**
   * Whatever the bytes and however they are split into reads: no exception but the documented one,
   * only kept attributes without control characters, and the same requests as in one read.
   */
  @FuzzTest(maxDuration = "2m")
  void requestReader(FuzzedDataProvider data) {
    int chunk = data.consumeInt(1, 64);
    byte[] input = data.consumeRemainingAsBytes();
    List<Object> whole = readAll(input, input.length == 0 ? 1 : input.length);
    List<Object> split = readAll(input, chunk);
    assertThat(split).isEqualTo(whole);
  }

  private static List<Object> readAll(byte[] input, int chunk) {
    RequestReader reader = new RequestReader();
    List<Object> results = new ArrayList<>();
    for (int from = 0; from < input.length; from += chunk) {
      ByteBuffer in = ByteBuffer.wrap(input, from, Math.min(chunk, input.length - from));
      try {
        PolicyRequest request;
        while ((request = reader.read(in)) != null) {
          check(request);
          results.add(request);
        }
      } catch (RequestReader.RequestTooLargeException e) {
        results.add("too large");
        return results;
      }
    }
    return results;
  }

  private static void check(PolicyRequest request) {
    assertThat(RequestReader.KEPT).containsAll(request.attributes().keySet());
    for (String value : request.attributes().values()) {
      assertThat(value.chars()).noneMatch(c -> c < ' ' || c == 0x7f);
      assertThat(value.length()).isLessThanOrEqualTo(RequestReader.MAX_LINE);
    }
    assertThat(request.problem() != null || !request.attributes().isEmpty()).isTrue();
  }
}
