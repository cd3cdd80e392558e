#!/usr/bin/perl
# Expect: no warning — a Perl program with ithreads parked on a shared condition forks 20 children.
#
#   perl_ithreads_fork.pl [FORKS]
#
# Three ithreads wait (cond_wait) on a shared variable that nothing signals before the forks; the main thread
# forks FORKS children (default 20), each of which computes and calls Perl's exit (exit(): free the interpreter,
# which takes threads::shared's and threads' own mutexes, which the ithreads used while they started). The
# ithreads are parked on a condition never signalled, so no fork of this flow can catch them holding those
# mutexes, and the exit-handler registry was never used by them: notes at most, the run does not fail. Natively
# every child exits 0, always.
use strict;
use warnings;
use threads;
use threads::shared;

my $forks = $ARGV[0] // 20;
my $go :shared = 0;
my @workers = map { threads->create(sub { lock($go); cond_wait($go) until $go; return 1 }) } 1 .. 3;
sleep 1;    # the workers park on $go
print "ground-truth: expect=none\n";
for (1 .. $forks) {
  my $pid = fork();
  die "fork: $!" unless defined $pid;
  if ($pid == 0) {
    my $sum = 0;
    $sum += $_ for 1 .. 10;
    exit(0);
  }
  waitpid($pid, 0);
  print "child $pid exited with status ", $? >> 8, "\n";
}
{
  lock($go);
  $go = 1;
  cond_broadcast($go);
}
$_->join for @workers;
