import { Link } from 'react-router';

export function NotFound() {
  return (
    <section aria-labelledby="not-found-title">
      <h1 id="not-found-title" className="h3">
        No such page
      </h1>
      <p>
        Nothing lives at this address. Go to <Link to="/datasets">your datasets</Link>.
      </p>
    </section>
  );
}
