#!/usr/bin/env bash
# Writes the generated parts of docs/CLI.md: each command's synopsis, arguments, options and exit
# codes, as the build writes them from the commands' own definitions (proxy/target/cli/proxy.md,
# app/target/cli/app.md, next to the man pages). Run it after `mvn -DskipTests package` whenever
# an option changes; CliDocsIT fails while docs/CLI.md says something else.
#   scripts/cli-docs.sh
set -euo pipefail
cd "$(dirname "$(readlink -f "$0")")/.."
for role in proxy app; do
  if [[ ! -f $role/target/cli/$role.md ]]; then
    echo "cli-docs: $role/target/cli/$role.md is missing: run mvn -DskipTests package first" >&2
    exit 1
  fi
done
perl -0pi -e '
  for my $role ("proxy", "app") {
    open(my $f, "<", "$role/target/cli/$role.md") or die "$role.md: $!";
    my $text = do { local $/; <$f> };
    s/(<!-- BEGIN generated: $role .*?-->\n).*?(<!-- END generated: $role -->)/$1\n$text\n$2/s
      or die "docs/CLI.md has no generated part for $role\n";
  }' docs/CLI.md
echo "cli-docs: docs/CLI.md updated"
