package dev.handoff.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * Every relative link in the repository's Markdown files leads somewhere: the file or directory
 * exists, and an anchor ({@code FILE.md#section}, {@code #section}) names a heading of that file,
 * spelt as GitHub spells heading anchors. Links inside code (fenced blocks, backticks) are text,
 * not links; links with a scheme (https:, mailto:) are not followed.
 */
class DocumentLinksIT {
  /** [text](target) and ![alt](target); the target ends at a space (a title) or ')'. */
  private static final Pattern LINK = Pattern.compile("!?\\[[^\\]]*\\]\\(([^)\\s]+)[^)]*\\)");
  private static final Pattern SCHEME = Pattern.compile("^[a-zA-Z][a-zA-Z0-9+.-]*:");
  private final Map<Path, Set<String>> anchors = new HashMap<>();

  @Test
  void everyRelativeLinkInTheMarkdownFilesResolves() throws IOException {
    List<Path> documents = markdownFiles();
    assertTrue(documents.contains(Daemon.ROOT.resolve("README.md")), "found " + documents);
    List<String> broken = new ArrayList<>();
    int checked = 0;
    for (Path doc : documents) {
      for (String target : links(Files.readString(doc))) {
        if (SCHEME.matcher(target).find()) {
          continue;
        }
        checked++;
        String problem = problem(doc, target);
        if (problem != null) {
          broken.add(Daemon.ROOT.relativize(doc) + ": (" + target + ") " + problem);
        }
      }
    }
    assertEquals(List.of(), broken, "broken relative links");
    assertTrue(checked > 20, "the check saw the documents' links: " + checked);
  }

  @Test
  void headingAnchorsAreSpeltAsGitHubSpellsThem() {
    assertEquals(Set.of("an-http-server-behind-the-proxy-examples", "proxy-options-port-socket",
            "proxy-options-port-socket-1"),
        headingAnchors("## An HTTP server behind the proxy (examples/)\n"
            + "### `proxy [OPTIONS] PORT SOCKET`\n```\n# not a heading\n```\n"
            + "### proxy [options] PORT SOCKET\n"));
  }

  @Test
  void aMissingFileAndAMissingAnchorAreBroken() throws IOException {
    Path readme = Daemon.ROOT.resolve("README.md");
    assertTrue(problem(readme, "docs/NO-SUCH-FILE.md") != null);
    assertTrue(problem(readme, "#no-such-heading") != null);
    assertEquals(null, problem(readme, "docs/"));
  }

  private static List<Path> markdownFiles() throws IOException {
    try (Stream<Path> walk = Files.walk(Daemon.ROOT)) {
      return walk.filter(p -> p.toString().endsWith(".md") && Files.isRegularFile(p))
          .filter(p -> {
            for (Path part : Daemon.ROOT.relativize(p)) {
              String name = part.toString();
              if (name.equals("target") || name.equals("node_modules") || name.startsWith(".")) {
                return false;
              }
            }
            return true;
          })
          .sorted().toList();
    }
  }

  /** The link targets of a Markdown text, outside fenced code blocks and inline code. */
  private static List<String> links(String text) {
    List<String> out = new ArrayList<>();
    for (String line : prose(text)) {
      Matcher m = LINK.matcher(line.replaceAll("`[^`]*`", ""));
      while (m.find()) {
        out.add(m.group(1));
      }
    }
    return out;
  }

  /** The lines of a Markdown text outside fenced code blocks. */
  private static List<String> prose(String text) {
    List<String> out = new ArrayList<>();
    boolean fenced = false;
    for (String line : text.split("\n", -1)) {
      if (line.stripLeading().startsWith("```")) {
        fenced = !fenced;
      } else if (!fenced) {
        out.add(line);
      }
    }
    return out;
  }

  /** Why a link from {@code doc} to {@code target} leads nowhere, or null if it resolves. */
  private String problem(Path doc, String target) throws IOException {
    int hash = target.indexOf('#');
    String path = hash < 0 ? target : target.substring(0, hash);
    Path file = path.isEmpty() ? doc : doc.getParent().resolve(path).normalize();
    if (!Files.exists(file)) {
      return "no such file";
    }
    if (hash < 0) {
      return null;
    }
    if (!file.toString().endsWith(".md") || Files.isDirectory(file)) {
      return "an anchor into a file that is not Markdown";
    }
    Set<String> names = anchors.get(file);
    if (names == null) {
      names = headingAnchors(Files.readString(file));
      anchors.put(file, names);
    }
    return names.contains(target.substring(hash + 1)) ? null : "no such heading";
  }

  /**
   * GitHub's anchors for the headings of a Markdown text: lower case, inline-code marks and
   * punctuation dropped (letters, digits, spaces, '-' and '_' kept), spaces as '-'; a repeated
   * anchor gets -1, -2, ... in order.
   */
  static Set<String> headingAnchors(String text) {
    Set<String> out = new HashSet<>();
    Map<String, Integer> seen = new HashMap<>();
    for (String line : prose(text)) {
      Matcher m = Pattern.compile("^#{1,6}\\s+(.*?)\\s*#*\\s*$").matcher(line);
      if (!m.matches()) {
        continue;
      }
      String slug = m.group(1).toLowerCase(Locale.ROOT)
          .replaceAll("[^\\p{L}\\p{N} _-]", "").replace(' ', '-');
      int n = seen.merge(slug, 1, Integer::sum) - 1;
      out.add(n == 0 ? slug : slug + "-" + n);
    }
    return out;
  }
}
