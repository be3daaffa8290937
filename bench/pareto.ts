/**
 * The quality-versus-time Pareto front: the configurations no other configuration beats on both
 * time and error. A point p is dominated when some q has q.time ≤ p.time and q.error ≤ p.error with at
 * least one strict; the front is every non-dominated point, sorted by time (so error decreases along it).
 * Points with a non-finite coordinate are ignored; exact duplicates are kept once.
 */
export interface ParetoPoint {
  readonly time: number;
  readonly error: number;
}

export function paretoFront<P extends ParetoPoint>(points: readonly P[]): P[] {
  const finite = points.filter((p) => Number.isFinite(p.time) && Number.isFinite(p.error));
  // Sort by time, then error: a point is on the front iff its error is strictly below every earlier one's.
  const sorted = [...finite].sort((a, b) => a.time - b.time || a.error - b.error);
  const front: P[] = [];
  let best = Infinity;
  for (const p of sorted) {
    if (p.error < best) {
      front.push(p);
      best = p.error;
    }
  }
  return front;
}

/** True when `p` is dominated by some point of `points` (the definition, for tests). */
export function isDominated(p: ParetoPoint, points: readonly ParetoPoint[]): boolean {
  return points.some((q) => q.time <= p.time && q.error <= p.error && (q.time < p.time || q.error < p.error));
}
