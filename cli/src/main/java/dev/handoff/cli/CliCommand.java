package dev.handoff.cli;

import java.util.concurrent.Callable;
import picocli.CommandLine.Model.CommandSpec;

/**
 * A command whose picocli model is built in code ({@link CommandSpecs}); picocli runs {@link
 * #call} once the command line has been read into the model, and {@link CliDocs} writes the
 * command's docs from the same model.
 */
public interface CliCommand extends Callable<Integer> {
  /** The command's model: its name, description, arguments, options and exit codes. */
  CommandSpec spec();
}
