// Makes sure strace is here for the strace fault-injection tiers (npm run
// test:kill, test:faults): installs Debian's `strace` with apt-get when it is
// missing and that is possible (root, apt-get). Never fails the run: when it
// cannot install, it says why, and the strace tests skip with that reason.
import { execFileSync } from 'node:child_process';

function works(command, args, env = process.env) {
  try {
    execFileSync(command, args, { stdio: 'ignore', env });
    return true;
  } catch {
    return false;
  }
}

if (process.platform !== 'linux') {
  console.log('ensure-strace: not Linux: the strace tiers will be skipped');
} else if (works('strace', ['-V'])) {
  // Nothing to do.
} else if (process.getuid?.() !== 0) {
  console.log('ensure-strace: strace is missing and installing it needs root: the strace tiers will be skipped');
} else if (!works('sh', ['-c', 'command -v apt-get'])) {
  console.log('ensure-strace: strace is missing and there is no apt-get: the strace tiers will be skipped');
} else {
  console.log('ensure-strace: installing strace with apt-get');
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  if (!works('apt-get', ['install', '-y', 'strace'], env)) {
    works('apt-get', ['update'], env);
    if (!works('apt-get', ['install', '-y', 'strace'], env)) {
      console.log('ensure-strace: apt-get could not install strace: the strace tiers will be skipped');
    }
  }
}
