import { useEffect, useRef } from 'preact/hooks';
import { FlagsPage } from './flags-page.js';
import { ModelList } from './model-list.js';
import { ModelPage } from './model-page.js';
import { Link, useLocation, type Route } from './router.js';
import { SignIn } from './sign-in.js';

function title(route: Route): string {
  switch (route.page) {
    case 'models':
      return 'Models';
    case 'model':
      return route.name;
    case 'flags':
      return 'Flags';
    case 'missing':
      return 'Not found';
  }
}

export function App() {
  const { route, search } = useLocation();
  const main = useRef<HTMLElement>(null);
  const first = useRef(true);
  useEffect(() => {
    document.title = `${title(route)} · Slipway`;
    // After an in-app navigation, move focus to the new page so keyboard and screen reader users land on it.
    if (first.current) first.current = false;
    else main.current?.querySelector<HTMLElement>('h1')?.focus();
  }, [route.page, route.page === 'model' ? route.name : '']);

  return (
    <>
      <a class="skip-link" href="#main">
        Skip to content
      </a>
      <header class="site-header">
        <Link to="" class="brand">
          Slipway
        </Link>
        <nav aria-label="Main">
          <Link to="" aria-current={route.page === 'models' || route.page === 'model' ? 'page' : undefined}>
            Models
          </Link>
          <Link to="flags" aria-current={route.page === 'flags' ? 'page' : undefined}>
            Flags
          </Link>
          <a href="docs">API docs</a>
        </nav>
        <SignIn />
      </header>
      <main id="main" ref={main}>
        {route.page === 'models' && <ModelList />}
        {route.page === 'model' && <ModelPage key={route.name} name={route.name} view={search.get('view') ?? undefined} />}
        {route.page === 'flags' && <FlagsPage model={search.get('model') ?? undefined} label={search.get('label') ?? undefined} />}
        {route.page === 'missing' && (
          <section>
            <h1 tabIndex={-1}>Not found</h1>
            <p>
              There is no page at <code>/{route.path}</code>. <Link to="">See the models</Link>.
            </p>
          </section>
        )}
      </main>
    </>
  );
}
