package io.baton.linux;

import java.lang.reflect.Field;
import java.lang.reflect.Modifier;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.extension.AfterAllCallback;
import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.ExtensionConfigurationException;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * The JUnit side of {@link PrivateNamespace}: one {@link PrivateNetns} per test class, created
 * before the class's own {@code @BeforeAll} methods run (so they may use it) and closed after its
 * {@code @AfterAll} methods, even when they fail. The namespace is handed to the class through its
 * {@code static PrivateNetns} fields, the way {@code @TempDir} hands over a directory.
 *
 * <p>Called by the JUnit engine on its own thread; test classes run one at a time.
 */
final class PrivateNamespaceExtension implements BeforeAllCallback, AfterAllCallback {
  private static final ExtensionContext.Namespace STORE =
      ExtensionContext.Namespace.create(PrivateNamespaceExtension.class);
  private static final String KEY = "netns";

  @Override
  public void beforeAll(ExtensionContext context) throws Exception {
    Class<?> testClass = context.getRequiredTestClass();
    List<Field> fields = namespaceFields(testClass);
    if (fields.isEmpty()) {
      throw new ExtensionConfigurationException(
          testClass.getName()
              + " is annotated @PrivateNamespace but has no static PrivateNetns field to receive it");
    }
    PrivateNetns ns = PrivateNetns.create();
    context.getStore(STORE).put(KEY, ns);
    for (Field f : fields) {
      f.setAccessible(true);
      f.set(null, ns);
    }
  }

  @Override
  public void afterAll(ExtensionContext context) throws Exception {
    PrivateNetns ns = context.getStore(STORE).remove(KEY, PrivateNetns.class);
    for (Field f : namespaceFields(context.getRequiredTestClass())) {
      f.setAccessible(true);
      f.set(null, null);
    }
    if (ns != null) ns.close();
  }

  private static List<Field> namespaceFields(Class<?> testClass) {
    List<Field> found = new ArrayList<>();
    for (Class<?> c = testClass; c != null && c != Object.class; c = c.getSuperclass()) {
      for (Field f : c.getDeclaredFields()) {
        int m = f.getModifiers();
        if (f.getType() == PrivateNetns.class && Modifier.isStatic(m) && !Modifier.isFinal(m))
          found.add(f);
      }
    }
    return found;
  }
}
