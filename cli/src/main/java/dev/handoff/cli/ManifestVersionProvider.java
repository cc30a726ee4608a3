package dev.handoff.cli;

import picocli.CommandLine.IVersionProvider;
import picocli.CommandLine.Model.CommandSpec;

/** Reports the version written into the jar's manifest by the build. */
public final class ManifestVersionProvider implements IVersionProvider {
  private final CommandSpec spec;

  /** The version of the command {@code spec} describes, from its class's package. */
  public ManifestVersionProvider(CommandSpec spec) {
    this.spec = spec;
  }

  @Override
  public String[] getVersion() {
    Package pkg = spec.userObject().getClass().getPackage();
    String version = pkg == null ? null : pkg.getImplementationVersion();
    return new String[] {
      spec.name() + " " + (version == null ? "(unpackaged build)" : version),
      "JVM: ${java.version} (${java.vendor} ${java.vm.name} ${java.vm.version})",
    };
  }
}
