package io.github.rcptproxy.postfix;

import java.util.Map;

/**
 * One policy request: the attributes the server uses, and the first thing wrong with it (null if
 * nothing). A request with a problem is never acted on.
 */
record PolicyRequest(Map<String, String> attributes, String problem) {

  String get(String name) {
    return attributes.getOrDefault(name, "");
  }
}
