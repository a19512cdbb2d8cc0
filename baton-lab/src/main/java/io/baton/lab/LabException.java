package io.baton.lab;

/**
 * Building, using or tearing down a lab failed. Unchecked: a lab is test and demo scaffolding, and
 * a failure there means the run cannot go on, so callers rarely have anything to recover.
 */
public class LabException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  public LabException(String message) {
    super(message);
  }

  public LabException(String message, Throwable cause) {
    super(message, cause);
  }
}
