// The console's theme: System (follow the browser's prefers-color-scheme, the default), Light or
// Dark, chosen in the masthead and remembered in localStorage ("georep.theme"). PatternFly 5's
// dark theme is the class pf-v5-theme-dark on <html>; public/theme.js sets it before the first
// paint, this module keeps it up to date (a choice, or the system's preference changing).
import { useSyncExternalStore } from 'react';
import { ToggleGroup, ToggleGroupItem } from '@patternfly/react-core';
import DesktopIcon from '@patternfly/react-icons/dist/esm/icons/desktop-icon';
import SunIcon from '@patternfly/react-icons/dist/esm/icons/sun-icon';
import MoonIcon from '@patternfly/react-icons/dist/esm/icons/moon-icon';

export type ThemeChoice = 'system' | 'light' | 'dark';
const KEY = 'georep.theme';
const media = typeof window !== 'undefined' && window.matchMedia ? window.matchMedia('(prefers-color-scheme: dark)') : null;

function readChoice(): ThemeChoice {
  try {
    const v = localStorage.getItem(KEY);
    return v === 'light' || v === 'dark' ? v : 'system';
  } catch {
    return 'system';
  }
}

let choice: ThemeChoice = readChoice();
const listeners = new Set<() => void>();

function isDark(c: ThemeChoice) {
  return c === 'dark' || (c === 'system' && !!media?.matches);
}

function apply() {
  const dark = isDark(choice);
  document.documentElement.classList.toggle('pf-v5-theme-dark', dark);
  document.documentElement.style.colorScheme = dark ? 'dark' : 'light';
  for (const l of listeners) l();
}

apply();
media?.addEventListener('change', () => {
  if (choice === 'system') apply();
});
// Another tab of the console chose a theme.
window.addEventListener('storage', (e) => {
  if (e.key === KEY) {
    choice = readChoice();
    apply();
  }
});

export function setTheme(c: ThemeChoice) {
  choice = c;
  try {
    if (c === 'system') localStorage.removeItem(KEY);
    else localStorage.setItem(KEY, c);
  } catch {
    /* not remembered, still applied */
  }
  apply();
}

function subscribe(l: () => void) {
  listeners.add(l);
  return () => {
    listeners.delete(l);
  };
}

export function useTheme(): { choice: ThemeChoice; dark: boolean } {
  const c = useSyncExternalStore(subscribe, () => choice);
  const dark = useSyncExternalStore(subscribe, () => isDark(choice));
  return { choice: c, dark };
}

// The masthead's theme switch: three buttons, the chosen one pressed.
export function ThemeToggle() {
  const { choice: current } = useTheme();
  const item = (c: ThemeChoice, text: string, icon: React.ReactNode) => (
    <ToggleGroupItem key={c} icon={icon} text={text} buttonId={`theme-${c}`} isSelected={current === c}
      onChange={() => setTheme(c)} />
  );
  return (
    <ToggleGroup isCompact aria-label="Theme" className="georep-theme-toggle">
      {item('system', 'System', <DesktopIcon />)}
      {item('light', 'Light', <SunIcon />)}
      {item('dark', 'Dark', <MoonIcon />)}
    </ToggleGroup>
  );
}
