package io.baton.routing;

/**
 * Raised inside {@link ClientHelloParser} when the bytes break the TLS grammar; the parser turns it
 * into {@link ClientHelloParser.NotTls}. No stack trace: garbage from clients must be cheap.
 */
final class MalformedHelloException extends Exception {
  MalformedHelloException(String reason) {
    super(reason, null, false, false);
  }
}
