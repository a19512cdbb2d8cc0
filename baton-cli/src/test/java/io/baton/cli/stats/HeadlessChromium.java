package io.baton.cli.stats;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.baton.lab.Host;
import java.io.ByteArrayOutputStream;
import java.io.FileInputStream;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Base64;
import java.util.List;

/**
 * Debian's Chromium, headless, driven over the DevTools protocol through a pipe ({@code
 * --remote-debugging-pipe}: fds 3 and 4, NUL-terminated JSON messages, here two FIFOs), so it can
 * run in a lab host's namespace and still be driven from the test. One page; its DOM is read with
 * {@code Runtime.evaluate}. Confined to the test's thread.
 */
final class HeadlessChromium implements AutoCloseable {
  private static final ObjectMapper JSON = new ObjectMapper();

  private final Process process;
  private final OutputStream toBrowser;
  private final InputStream fromBrowser;
  private final String session;
  private int nextId = 1;

  private HeadlessChromium(
      Process process, OutputStream toBrowser, InputStream fromBrowser, String session) {
    this.process = process;
    this.toBrowser = toBrowser;
    this.fromBrowser = fromBrowser;
    this.session = session;
  }

  /** Starts Chromium in {@code host}'s namespace with one page open at {@code url}. */
  static HeadlessChromium open(Host host, Path dir, String url) throws Exception {
    Path in = dir.resolve("cdp-in");
    Path out = dir.resolve("cdp-out");
    for (Path fifo : List.of(in, out)) {
      Process mk = new ProcessBuilder("mkfifo", fifo.toString()).inheritIO().start();
      if (mk.waitFor() != 0) throw new IOException("mkfifo " + fifo + " failed");
    }
    Process p =
        host.start(
            List.of(
                "sh",
                "-c",
                "exec chromium --headless=new --no-sandbox --disable-gpu --no-first-run"
                    + " --window-size=1280,900 --user-data-dir="
                    + dir.resolve("profile")
                    + " --remote-debugging-pipe 3<"
                    + in
                    + " 4>"
                    + out));
    // Opening order matches the shell's: it opens fd 3 (our writer) first, then fd 4.
    OutputStream w = new FileOutputStream(in.toFile());
    InputStream r = new FileInputStream(out.toFile());
    HeadlessChromium c = new HeadlessChromium(p, w, r, null);
    String target = c.call(null, "Target.createTarget", obj("url", url)).path("targetId").asText();
    String session =
        c.call(null, "Target.attachToTarget", obj("targetId", target).put("flatten", true))
            .path("sessionId")
            .asText();
    HeadlessChromium attached = new HeadlessChromium(p, w, r, session);
    attached.nextId = c.nextId;
    return attached;
  }

  /** The value of a JavaScript expression in the page (JSON-serialisable). */
  JsonNode eval(String expression) throws IOException {
    JsonNode result =
        call(session, "Runtime.evaluate", obj("expression", expression).put("returnByValue", true));
    if (result.has("exceptionDetails")) {
      throw new IOException("the page threw: " + result.path("exceptionDetails"));
    }
    return result.path("result").path("value");
  }

  /** Waits (at most {@code limit}) until {@code expression} is true in the page. */
  void awaitTrue(String expression, Duration limit) throws Exception {
    long deadline = System.nanoTime() + limit.toNanos();
    // Until the page has loaded, the expression may throw (no such element yet): not true yet.
    String guarded =
        "(() => { try { return !!(" + expression + "); } catch (e) { return false; } })()";
    while (!eval(guarded).asBoolean(false)) {
      if (System.nanoTime() > deadline) {
        throw new AssertionError(
            "timed out after "
                + limit
                + " waiting in the page for: "
                + expression
                + "; the page at "
                + eval("location.href").asText()
                + " says: "
                + eval("document.body ? document.body.innerText.slice(0, 600) : '(no body)'")
                    .asText());
      }
      Thread.sleep(50); // polling interval of a deadline-bounded wait
    }
  }

  /** A PNG of the page as rendered. */
  void screenshot(Path file) throws IOException {
    String data =
        call(session, "Page.captureScreenshot", obj("format", "png")).path("data").asText();
    Files.write(file, Base64.getDecoder().decode(data));
  }

  private JsonNode call(String sessionId, String method, ObjectNode params) throws IOException {
    int id = nextId++;
    ObjectNode msg = JSON.createObjectNode().put("id", id).put("method", method);
    msg.set("params", params);
    if (sessionId != null) msg.put("sessionId", sessionId);
    toBrowser.write(JSON.writeValueAsBytes(msg));
    toBrowser.write(0);
    toBrowser.flush();
    while (true) {
      JsonNode reply = JSON.readTree(readMessage());
      if (reply.path("id").asInt(-1) != id) continue; // an event, or another reply
      if (reply.has("error")) throw new IOException(method + ": " + reply.path("error"));
      return reply.path("result");
    }
  }

  private byte[] readMessage() throws IOException {
    ByteArrayOutputStream b = new ByteArrayOutputStream();
    while (true) {
      int c = fromBrowser.read();
      if (c < 0)
        throw new IOException("Chromium closed its DevTools pipe (exit " + exitText() + ")");
      if (c == 0) return b.toByteArray();
      b.write(c);
    }
  }

  private String exitText() {
    return process.isAlive() ? "still running" : String.valueOf(process.exitValue());
  }

  private static ObjectNode obj(String key, String value) {
    return JSON.createObjectNode().put(key, value);
  }

  @Override
  public void close() throws IOException {
    try {
      toBrowser.close();
      fromBrowser.close();
    } finally {
      process.destroy();
      try {
        if (!process.waitFor(10, java.util.concurrent.TimeUnit.SECONDS)) process.destroyForcibly();
      } catch (InterruptedException e) {
        process.destroyForcibly();
        Thread.currentThread().interrupt();
      }
    }
  }
}
