#!/usr/bin/perl
# Starts a command the way systemd's socket activation does, for tests and trying it out without
# systemd: binds a listening TCP socket, puts it on descriptor 3, sets LISTEN_FDS=1 and
# LISTEN_PID to the pid the command will have (exec keeps it), and execs the command.
#   scripts/socket-activate.pl ADDR:PORT COMMAND [ARGS...]
use strict;
use warnings;
use IO::Socket::INET;
use POSIX qw(dup2);
use Fcntl qw(F_SETFD);

my $listen = shift @ARGV or die "usage: socket-activate.pl ADDR:PORT COMMAND [ARGS...]\n";
@ARGV or die "usage: socket-activate.pl ADDR:PORT COMMAND [ARGS...]\n";
my $server = IO::Socket::INET->new(LocalAddr => $listen, Listen => 1024, ReuseAddr => 1)
  or die "listen on $listen: $!\n";
if (fileno($server) != 3) {
  dup2(fileno($server), 3) or die "dup2: $!\n";
}
open(my $fd3, "<&=", 3) or die "fd 3: $!\n"; # keep it open across exec:
fcntl($fd3, F_SETFD, 0) or die "fcntl: $!\n";
$ENV{LISTEN_FDS} = "1";
$ENV{LISTEN_PID} = "$$";
exec { $ARGV[0] } @ARGV or die "exec $ARGV[0]: $!\n";
