/**
 * A progress bar with an accessible name. react-bootstrap puts extra props of a plain
 * <ProgressBar> on its wrapper, not on the element with role="progressbar", which then has no
 * name (axe: aria-progressbar-name); as a child bar, the props land on that element.
 */
import ProgressBar from 'react-bootstrap/ProgressBar';

export function NamedProgressBar({ now, name, id, variant, animated = false, className }: { now: number; name: string; id?: string; variant?: string; animated?: boolean; className?: string }) {
  return (
    <ProgressBar className={className}>
      <ProgressBar id={id} now={now} variant={variant} animated={animated} aria-label={name} aria-valuetext={`${now} %`} />
    </ProgressBar>
  );
}
