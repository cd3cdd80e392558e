#!/usr/bin/env node
// Expect: no report — child_process.spawnSync 20 times and execFileSync once while worker threads are busy.
//
// Two worker_threads spin and a few asynchronous fs operations are in flight on libuv's thread pool while the
// main thread starts /bin/true 20 times with spawnSync and once with execFileSync. libuv forks the
// multithreaded process and the child only resets signals and descriptors before exec: nothing is reported and
// every run exits 0.
'use strict';
const { Worker } = require('worker_threads');
const childProcess = require('child_process');
const fs = require('fs');

const RUNS = 20;
const WORKERS = 2;

const spinner = `
  const { parentPort } = require('worker_threads');
  let stop = false, x = 1;
  parentPort.on('message', () => { stop = true; });
  parentPort.postMessage('started');
  function spin() {
    for (let i = 0; i < 1e6; i++) x = (x * 1103515245 + 12345) % 2147483648;
    if (!stop) setImmediate(spin); else parentPort.close();
  }
  spin();
`;

async function main() {
  const workers = [];
  for (let i = 0; i < WORKERS; i++) {
    const worker = new Worker(spinner, { eval: true });
    await new Promise((resolve) => worker.once('message', resolve));
    workers.push(worker);
  }
  // Asynchronous fs work on the thread pool, started before the spawns and still running during them.
  const inFlight = [];
  for (let i = 0; i < 4; i++) {
    inFlight.push(fs.promises.readFile('/proc/self/status'));
    inFlight.push(fs.promises.readdir('/usr/lib'));
    inFlight.push(fs.promises.stat('/bin/true'));
  }
  process.stdout.write('ground-truth: expect=none\n');
  let clean = 0;
  for (let i = 0; i < RUNS; i++) {
    const result = childProcess.spawnSync('/bin/true');
    if (result.status === 0) clean++;
  }
  let execFileOk = false;
  try {
    childProcess.execFileSync('/bin/true');
    execFileOk = true;
  } catch (error) {
    process.stdout.write(`execFileSync failed: ${error.message}\n`);
  }
  await Promise.all(inFlight);
  for (const worker of workers) worker.postMessage('stop');
  await Promise.all(workers.map((worker) => new Promise((resolve) => worker.once('exit', resolve))));
  process.stdout.write(`${clean} of ${RUNS} spawnSync runs exited 0; execFileSync ${execFileOk ? 'ok' : 'failed'}\n`);
  process.exitCode = clean === RUNS && execFileOk ? 0 : 1;
}

main();
