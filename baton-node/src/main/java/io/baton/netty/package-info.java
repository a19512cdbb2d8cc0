/**
 * Netty workarounds every role shares (see each class for the bug it works around and how to tell
 * when it can go).
 */
package io.baton.netty;
