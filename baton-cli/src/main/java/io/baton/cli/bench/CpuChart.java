package io.baton.cli.bench;

import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Font;
import java.awt.FontMetrics;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.Stroke;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import javax.imageio.ImageIO;

/**
 * Draws the PNG chart of the report with plain java.awt, headless: balancer-node CPU per request
 * (y, log scale, µs) against response size (x, log scale), one line per system, one panel per
 * connection mode. Direct baselines run no balancer; their line is CPU 0's noise floor, drawn
 * dashed. Values below the floor of the axis are drawn on it. Stateless.
 */
final class CpuChart {
  private static final int PANEL_WIDTH = 620;
  private static final int HEIGHT = 560;
  private static final int LEFT = 80;
  private static final int RIGHT = 24;
  private static final int TOP = 70;
  private static final int BOTTOM = 150;
  private static final double FLOOR_US = 0.1;
  private static final Color[] COLORS = {
    new Color(0x55, 0x55, 0x55), new Color(0xD6, 0x27, 0x28), new Color(0x2C, 0xA0, 0x2C),
    new Color(0x1F, 0x77, 0xB4), new Color(0x99, 0x99, 0x99), new Color(0x94, 0x67, 0xBD),
  };

  private CpuChart() {}

  static void write(
      List<ConfigResult> results,
      List<SystemKind> systems,
      List<ConnectionMode> modes,
      List<ResponseSize> sizes,
      String subtitle,
      Path file)
      throws IOException {
    System.setProperty("java.awt.headless", "true");
    BufferedImage image =
        new BufferedImage(PANEL_WIDTH * modes.size(), HEIGHT, BufferedImage.TYPE_INT_RGB);
    Graphics2D g = image.createGraphics();
    try {
      g.setRenderingHint(RenderingHints.KEY_ANTIALIASING, RenderingHints.VALUE_ANTIALIAS_ON);
      g.setRenderingHint(
          RenderingHints.KEY_TEXT_ANTIALIASING, RenderingHints.VALUE_TEXT_ANTIALIAS_ON);
      g.setColor(Color.WHITE);
      g.fillRect(0, 0, image.getWidth(), image.getHeight());
      double[] range = yRange(results);
      for (int i = 0; i < modes.size(); i++) {
        panel(g, i * PANEL_WIDTH, results, systems, modes.get(i), sizes, range);
      }
      g.setColor(Color.BLACK);
      g.setFont(new Font(Font.SANS_SERIF, Font.BOLD, 16));
      g.drawString(
          "Balancer-node CPU per request (CPU 0 busy time, µs, log scale) vs response size",
          LEFT,
          26);
      g.setFont(new Font(Font.SANS_SERIF, Font.PLAIN, 12));
      g.drawString(subtitle, LEFT, 46);
      legend(g, systems, HEIGHT - 60);
    } finally {
      g.dispose();
    }
    if (!ImageIO.write(image, "png", file.toFile()))
      throw new IOException("no PNG writer in this JDK");
  }

  private static void panel(
      Graphics2D g,
      int x0,
      List<ConfigResult> results,
      List<SystemKind> systems,
      ConnectionMode mode,
      List<ResponseSize> sizes,
      double[] range) {
    int left = x0 + LEFT;
    int right = x0 + PANEL_WIDTH - RIGHT;
    int top = TOP;
    int bottom = HEIGHT - BOTTOM;
    g.setFont(new Font(Font.SANS_SERIF, Font.BOLD, 13));
    g.setColor(Color.BLACK);
    g.drawString(
        switch (mode) {
          case CLOSE -> "one request per connection";
          case PACED -> "one request per connection, paced";
          default -> "keep-alive";
        },
        left + 4,
        top - 6);
    g.setFont(new Font(Font.SANS_SERIF, Font.PLAIN, 11));
    FontMetrics fm = g.getFontMetrics();
    double lo = Math.log10(range[0]);
    double hi = Math.log10(range[1]);
    for (int decade = (int) lo; decade <= (int) hi; decade++) {
      int y = yOf(decade, lo, hi, top, bottom);
      g.setColor(new Color(0xE0, 0xE0, 0xE0));
      g.drawLine(left, y, right, y);
      g.setColor(Color.DARK_GRAY);
      String label =
          decade < 0
              ? String.valueOf(Math.pow(10, decade))
              : String.valueOf((long) Math.pow(10, decade));
      g.drawString(label, left - 8 - fm.stringWidth(label), y + 4);
    }
    double xlo = Math.log(sizes.getFirst().bytes()) - 0.5;
    double xhi = Math.log(sizes.getLast().bytes()) + 0.5;
    for (ResponseSize s : sizes) {
      int x = xOf(s.bytes(), xlo, xhi, left, right);
      g.setColor(new Color(0xE0, 0xE0, 0xE0));
      g.drawLine(x, top, x, bottom);
      g.setColor(Color.DARK_GRAY);
      g.drawString(s.label(), x - fm.stringWidth(s.label()) / 2, bottom + 16);
    }
    g.setColor(Color.BLACK);
    g.drawRect(left, top, right - left, bottom - top);
    g.drawString("response size", (left + right) / 2 - 35, bottom + 34);
    Stroke solid = new BasicStroke(2.2f);
    Stroke dashed =
        new BasicStroke(
            1.6f, BasicStroke.CAP_BUTT, BasicStroke.JOIN_ROUND, 1f, new float[] {6f, 4f}, 0f);
    for (SystemKind system : systems) {
      Map<Integer, Double> points = new LinkedHashMap<>();
      for (ConfigResult r : results) {
        if (r.system().equals(system.label()) && r.mode().equals(mode.label())) {
          points.put(r.sizeBytes(), Math.max(range[0], r.balancerCpuUsPerRequest().median()));
        }
      }
      g.setColor(colorOf(system));
      g.setStroke(system.hasBalancer() ? solid : dashed);
      List<int[]> xy = new ArrayList<>();
      for (var p : points.entrySet()) {
        if (Double.isNaN(p.getValue())) continue;
        xy.add(
            new int[] {
              xOf(p.getKey(), xlo, xhi, left, right),
              yOf(Math.log10(p.getValue()), lo, hi, top, bottom)
            });
      }
      for (int i = 1; i < xy.size(); i++)
        g.drawLine(xy.get(i - 1)[0], xy.get(i - 1)[1], xy.get(i)[0], xy.get(i)[1]);
      for (int[] p : xy) g.fillOval(p[0] - 4, p[1] - 4, 8, 8);
    }
    g.setStroke(new BasicStroke(1f));
  }

  private static void legend(Graphics2D g, List<SystemKind> systems, int y) {
    g.setFont(new Font(Font.SANS_SERIF, Font.PLAIN, 12));
    int x = LEFT;
    int row = 0;
    for (SystemKind s : systems) {
      g.setColor(colorOf(s));
      g.fillRect(x, y + row * 20 - 9, 22, 4);
      g.setColor(Color.BLACK);
      String text = s.label() + (s.hasBalancer() ? "" : " (no balancer: CPU 0 noise floor)");
      g.drawString(text, x + 28, y + row * 20 - 3);
      x += 28 + g.getFontMetrics().stringWidth(text) + 30;
      if (x > 1000) {
        x = LEFT;
        row++;
      }
    }
  }

  private static Color colorOf(SystemKind s) {
    return COLORS[s.ordinal() % COLORS.length];
  }

  /** [floor, ceiling] of the y axis: whole decades around every median. */
  private static double[] yRange(List<ConfigResult> results) {
    double min = Double.MAX_VALUE;
    double max = 0;
    for (ConfigResult r : results) {
      double v = r.balancerCpuUsPerRequest().median();
      if (Double.isNaN(v)) continue;
      min = Math.min(min, Math.max(FLOOR_US, v));
      max = Math.max(max, v);
    }
    if (max == 0) return new double[] {FLOOR_US, 1000};
    return new double[] {
      Math.pow(10, Math.floor(Math.log10(min))),
      Math.pow(10, Math.ceil(Math.log10(Math.max(max, min * 10))))
    };
  }

  private static int xOf(int bytes, double lo, double hi, int left, int right) {
    return (int) Math.round(left + (Math.log(bytes) - lo) / (hi - lo) * (right - left));
  }

  private static int yOf(double log10, double lo, double hi, int top, int bottom) {
    return (int) Math.round(bottom - (log10 - lo) / (hi - lo) * (bottom - top));
  }
}
