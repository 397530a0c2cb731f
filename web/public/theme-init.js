// Applies a chosen theme before the first paint, so it does not flash. A file, not an inline
// script, so a Content-Security-Policy of script-src 'self' allows it.
try {
  const theme = localStorage.getItem('keyway.theme');
  if (theme === 'light' || theme === 'dark') document.documentElement.dataset.theme = theme;
} catch {}
