#!/usr/bin/env ruby
# Expect: no warning — a Ruby program with threads at work forks 20 children; each computes and returns.
#
#   ruby_fork.rb [FORKS]
#
# Three threads allocate and pass the GVL nonstop while the main thread forks FORKS children (default 20) with
# `fork do ... end`. A child's block ends in ruby_stop -> exit(): the exit-handler registry's lock is the only
# lock exit() itself takes, and no Ruby thread registers exit handlers, so it is free at every fork (a note, never
# a warning). The children also take Ruby's VM lock, which the threads used; Ruby takes it only while holding the
# GVL, which the forking thread holds across fork(): no possible deadlock either (shim/runtimes.h). Natively every
# child exits 0, always; under forkhazard too, and the run does not fail.
forks = (ARGV[0] || 20).to_i
threads = 3.times.map { Thread.new { loop { Array.new(100) { 'x' * 10 }; Thread.pass } } }
puts 'ground-truth: expect=none'
forks.times do
  pid = fork { [1, 2, 3].sum }
  Process.wait(pid)
  puts "child #{pid} exited with status #{$?.exitstatus}"
end
threads.each(&:kill)
