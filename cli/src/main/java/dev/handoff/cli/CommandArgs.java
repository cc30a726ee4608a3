package dev.handoff.cli;

import java.util.ArrayList;
import java.util.List;
import picocli.CommandLine.Model.ArgSpec;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Model.OptionSpec;
import picocli.CommandLine.Model.PositionalParamSpec;

/**
 * A command's arguments and options, kept in the order they are declared (as fields, each built
 * where it is declared) until {@link #addTo} puts them in the command's model in that order: the
 * order of its man page.
 */
public final class CommandArgs {
  private final List<ArgSpec> declared = new ArrayList<>();

  /** Builds an option and keeps it. */
  public OptionSpec option(OptionSpec.Builder builder) {
    OptionSpec option = builder.build();
    declared.add(option);
    return option;
  }

  /** Builds a positional argument and keeps it. */
  public PositionalParamSpec positional(PositionalParamSpec.Builder builder) {
    PositionalParamSpec positional = builder.build();
    declared.add(positional);
    return positional;
  }

  /** Adds what was kept to a command's model, in the order it was declared. */
  public void addTo(CommandSpec spec) {
    for (ArgSpec arg : declared) {
      if (arg instanceof OptionSpec option) {
        spec.addOption(option);
      } else {
        spec.addPositional((PositionalParamSpec) arg);
      }
    }
  }
}
