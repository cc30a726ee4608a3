package dev.handoff.cli;

import picocli.CommandLine;
import picocli.CommandLine.IParameterExceptionHandler;
import picocli.CommandLine.ParameterException;

/** Prints a usage error as one line, as Unix tools do, instead of the whole help. */
public final class UsageErrorHandler implements IParameterExceptionHandler {
  @Override
  public int handleParseException(ParameterException ex, String[] args) {
    CommandLine cmd = ex.getCommandLine();
    cmd.getErr().println(cmd.getCommandName() + ": " + ex.getMessage() + " (try '"
        + cmd.getCommandName() + " --help')");
    return ExitCodes.USAGE;
  }

  /** A command line with this handler and the project's conventions. */
  public static CommandLine commandLine(CliCommand command) {
    return new CommandLine(command.spec())
        .setParameterExceptionHandler(new UsageErrorHandler())
        .setCaseInsensitiveEnumValuesAllowed(true);
  }
}
