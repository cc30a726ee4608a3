package dev.handoff.proxy.upgrade;

import dev.handoff.proxy.config.ConfigException;
import dev.handoff.proxy.config.ConfigFile;
import java.nio.file.Path;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What SIGHUP does: checks the configuration file again, if there is one (an unusable one is
 * logged and nothing else happens); then, with {@code --control}, has the {@link Reloader} start
 * a successor to take over; without, logs what a restart would change.
 */
public final class Hangup implements Runnable {
  private static final Logger log = LoggerFactory.getLogger(Hangup.class);

  private final Reloader reloader;
  private final Path configFile;
  private final byte[] readAtStart;

  /**
   * @param reloader what starts a successor ({@code --control}); null: none
   * @param configFile the {@code --config} file; null: none
   * @param readAtStart that file's bytes as read at start; null without a file
   */
  public Hangup(Reloader reloader, Path configFile, byte[] readAtStart) {
    this.reloader = reloader;
    this.configFile = configFile;
    this.readAtStart = readAtStart;
  }

  /**
   * SIGHUP: with a configuration file, checks it again (an unusable one is logged and nothing else
   * happens); then, with {@code --control}, starts a successor to take over, one at a time.
   */
  @Override
  public void run() {
    if (reloader != null && reloader.busy()) {
      return; // logged
    }
    String found = "no configuration file to check (the same options, the jar found now)";
    if (configFile != null) {
      found = recheck(reloader != null);
      if (found == null) {
        return; // unusable, logged
      }
    }
    if (reloader != null) {
      reloader.reload(found);
    } else if (configFile == null) {
      log.info("SIGHUP received: nothing to reload (the proxy has no configuration file; options"
          + " are read at start; with --control PATH, SIGHUP starts a new proxy that takes over);"
          + " carrying on");
    }
  }

  /**
   * SIGHUP with a configuration file: checks it again. Without {@code --control}, logs what a
   * restart would change and returns null; with it, returns what was found, for the reload's log
   * line. An unusable file is logged and gives null.
   */
  private String recheck(boolean reloading) {
    try {
      ConfigFile.load(configFile);
      byte[] now = java.nio.file.Files.readAllBytes(configFile);
      boolean same = java.util.Arrays.equals(now, readAtStart);
      if (reloading) {
        return configFile + (same ? " is unchanged" : " has changed") + " and is valid";
      }
      if (same) {
        log.info("SIGHUP received: {} is unchanged; carrying on (with --control PATH, SIGHUP"
            + " starts a new proxy that takes over)", configFile);
      } else {
        log.warn("SIGHUP received: {} has changed and is valid; it applies at the next start or"
            + " --take-over (with --control PATH, SIGHUP starts a new proxy that takes over);"
            + " carrying on as configured", configFile);
      }
    } catch (ConfigException | java.io.IOException e) {
      log.warn("SIGHUP received: {} is not usable now: {}; carrying on as configured{}",
          configFile, e.getMessage(), reloading ? ", no new proxy started" : "");
    }
    return null;
  }
}
