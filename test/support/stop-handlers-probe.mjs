// Preloaded into a `bin/keyway` child (NODE_OPTIONS=--import=…) by tests that must send a signal at
// a precise moment of start-up: writes the line below to stderr once the first SIGTERM handler is
// installed, which `bin/keyway` does before it loads (or builds) the server. A signal sent on that
// line lands while the server is still loading, before it listens. (Plain JavaScript: Node loads it
// before anything that could compile TypeScript.)
process.on('newListener', function announce(event) {
  if (event !== 'SIGTERM') return;
  process.off('newListener', announce);
  // 'newListener' fires just before the handler is added: the line goes out once it has been.
  process.nextTick(() => process.stderr.write('keyway-test: stop handlers installed\n'));
});
