import type { ComponentChildren } from 'preact';
import { useEffect, useState } from 'preact/hooks';

export type Route = { page: 'models' } | { page: 'model'; name: string } | { page: 'flags' } | { page: 'missing'; path: string };

/** The path the UI is served under ('/' unless the server is mounted under a prefix): the page's <base href>. */
function basePath(): string {
  return new URL(document.baseURI).pathname;
}

export function parseRoute(pathname: string): Route {
  const base = basePath();
  const path = pathname.startsWith(base) ? pathname.slice(base.length) : pathname.replace(/^\//, '');
  if (path === '') return { page: 'models' };
  if (path === 'flags' || path === 'flags/') return { page: 'flags' };
  const model = /^models\/([^/]+)\/?$/.exec(path);
  if (model !== null) return { page: 'model', name: decodeURIComponent(model[1]!) };
  return { page: 'missing', path };
}

/** A link target inside the UI (`models/digits`, `flags?model=digits`). */
export function href(path: string): string {
  return basePath() + path.replace(/^\//, '');
}

export function navigate(path: string, options: { replace?: boolean } = {}): void {
  if (options.replace) history.replaceState(null, '', href(path));
  else history.pushState(null, '', href(path));
  dispatchEvent(new PopStateEvent('popstate'));
}

/** The current route; re-renders on back/forward and on `navigate`. */
export function useLocation(): { route: Route; search: URLSearchParams } {
  const read = () => ({ route: parseRoute(location.pathname), search: new URLSearchParams(location.search) });
  const [state, setState] = useState(read);
  useEffect(() => {
    const update = () => setState(read());
    addEventListener('popstate', update);
    return () => removeEventListener('popstate', update);
  }, []);
  return state;
}

interface LinkProps {
  to: string;
  children: ComponentChildren;
  class?: string;
  'aria-current'?: 'page' | undefined;
}

/** An in-app link: a real <a href> (open in a new tab, copy the address), navigated without a reload. */
export function Link({ to, children, class: className, 'aria-current': current }: LinkProps) {
  return (
    <a
      class={className}
      aria-current={current}
      href={href(to)}
      onClick={(event) => {
        if (event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
        event.preventDefault();
        navigate(to);
      }}
    >
      {children}
    </a>
  );
}
