package dev.handoff.cli;

import picocli.CommandLine.IVersionProvider;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;

/** Reports the version written into the jar's manifest by the build. */
public final class ManifestVersionProvider implements IVersionProvider {
  @Spec CommandSpec spec;

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
