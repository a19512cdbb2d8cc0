package io.baton.routing;

/**
 * Raised inside {@link HttpHeadParser} when the head breaks the grammar; the parser turns it into
 * {@link HttpHeadParser.Malformed}. Carries no stack trace: garbage from clients is routine, not a
 * bug, and must be cheap.
 */
final class MalformedHeadException extends Exception {
  MalformedHeadException(String reason) {
    super(reason, null, false, false);
  }
}
