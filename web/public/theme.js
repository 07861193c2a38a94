// The console's theme, set before the first paint (index.html loads this file in <head>, a
// separate file because the engine's Content-Security-Policy forbids inline scripts): dark when
// the user chose Dark in the masthead, or chose nothing (System) and the browser prefers dark.
// PatternFly 5's dark theme is the class pf-v5-theme-dark on <html>. src/theme.tsx keeps it up
// to date afterwards; both read the choice from localStorage "georep.theme".
(function () {
  var choice = 'system';
  try {
    var stored = window.localStorage.getItem('georep.theme');
    if (stored === 'light' || stored === 'dark') choice = stored;
  } catch (e) {
    /* storage refused (a private window): follow the browser */
  }
  var dark = choice === 'dark' ||
    (choice === 'system' && !!window.matchMedia && window.matchMedia('(prefers-color-scheme: dark)').matches);
  var root = document.documentElement;
  if (dark) root.classList.add('pf-v5-theme-dark');
  root.style.colorScheme = dark ? 'dark' : 'light';
})();
