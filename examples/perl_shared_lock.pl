#!/usr/bin/perl
# Expect: deadlock — the child locks a threads::shared variable that a Perl thread held across fork().
#
# Perl's threads::shared builds `lock()` from a pthread mutex and a condition variable: a locker waits on the
# condvar (under the mutex) until the owner field is free. A worker thread holds lock($counter) when the main
# thread forks; in the child the owner field still names the vanished worker, so the child's lock() waits on the
# condvar forever. The vanished worker used the very mutex of that wait: the fork's doing, an error. Natively
# alarm(4) ends the child (status 14); under forkhazard the wait is reported before it blocks and the child ends
# with 66. (Its counterpart: a child waiting on a condvar of its own, that no vanished thread touched, is a note.)
use strict;
use warnings;
use threads;
use threads::shared;
use POSIX ();

$| = 1;
my $counter :shared = 0;
my $holding :shared = 0;
my $worker = threads->create(sub {
  lock($counter);
  $holding = 1;
  select(undef, undef, undef, 0.3);    # still holding the lock at the fork (the child is judged before it blocks)
  $counter++;
  return;
});
select(undef, undef, undef, 0.01) until $holding;
print "ground-truth: expect=deadlock call=pthread_cond_wait\n";
my $pid = fork();
die "fork: $!" unless defined $pid;
if ($pid == 0) {
  alarm 4;    # natively the lock below never returns
  { lock($counter); $counter++; }
  POSIX::_exit(0);
}
waitpid($pid, 0);
if ($? & 127) {
  printf "child %d killed by signal %d\n", $pid, $? & 127;
} else {
  printf "child %d exited with status %d\n", $pid, $? >> 8;
}
$worker->join;
