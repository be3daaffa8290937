/**
 * erf(x): W. J. Cody's rational Chebyshev approximations (1969; the 1987 Fortran SPECFUN routine
 * CALERF, https://www.netlib.org/specfun/erf), term for term as mathjs translates it, so results are
 * identical to `mathjs.erf` without depending on mathjs. Relative error below 6·10⁻¹⁹ on each interval
 * before Float64 rounding. Used by reference/stats.ts (normal CDF and p-values).
 *
 * Three intervals of y = |x|:
 *   y ≤ 0.46875:   erf(y)  = y·P₀(y²)/Q₀(y²)
 *   y ≤ 4:         erfc(y) = e^{−y²}·P₁(y)/Q₁(y)
 *   y > 4:         erfc(y) = e^{−y²}/y·(1/√π + y⁻²·P₂(y⁻²)/Q₂(y⁻²))
 * e^{−y²} is computed as e^{−ŷ²}·e^{−(y−ŷ)(y+ŷ)} with ŷ = ⌊16y⌋/16, which keeps its relative error small.
 */

const THRESH = 0.46875;
const SQRPI = 5.6418958354775628695e-1; // 1/√π
const P = [
  [3.1611237438705656, 1.13864154151050156e2, 3.77485237685302021e2, 3.20937758913846947e3, 1.85777706184603153e-1],
  [5.64188496988670089e-1, 8.88314979438837594, 6.61191906371416295e1, 2.98635138197400131e2, 8.8195222124176909e2, 1.71204761263407058e3, 2.05107837782607147e3, 1.23033935479799725e3, 2.15311535474403846e-8],
  [3.05326634961232344e-1, 3.60344899949804439e-1, 1.25781726111229246e-1, 1.60837851487422766e-2, 6.58749161529837803e-4, 1.63153871373020978e-2],
];
const Q = [
  [2.36012909523441209e1, 2.44024637934444173e2, 1.28261652607737228e3, 2.84423683343917062e3],
  [1.57449261107098347e1, 1.17693950891312499e2, 5.37181101862009858e2, 1.62138957456669019e3, 3.29079923573345963e3, 4.36261909014324716e3, 3.43936767414372164e3, 1.23033935480374942e3],
  [2.56852019228982242, 1.87295284992346047, 5.27905102951428412e-1, 6.05183413124413191e-2, 2.33520497626869185e-3],
];

/** erf(x) = 2/√π ∫₀ˣ e^{−t²} dt (Cody's approximation; see the module comment). */
export function erf(x: number): number {
  const y = Math.abs(x);
  if (y >= 2 ** 53) return Math.sign(x);
  if (y <= THRESH) return Math.sign(x) * erfSmall(y);
  return Math.sign(x) * (1 - (y <= 4 ? erfcMid(y) : erfcLarge(y)));
}

/** erf(y) for 0 ≤ y ≤ 0.46875: y·P₀(y²)/Q₀(y²). */
function erfSmall(y: number): number {
  const ysq = y * y;
  let num = P[0][4] * ysq;
  let den = ysq;
  for (let i = 0; i < 3; i++) {
    num = (num + P[0][i]) * ysq;
    den = (den + Q[0][i]) * ysq;
  }
  return (y * (num + P[0][3])) / (den + Q[0][3]);
}

/** erfc(y) for 0.46875 < y ≤ 4: e^{−y²}·P₁(y)/Q₁(y). */
function erfcMid(y: number): number {
  let num = P[1][8] * y;
  let den = y;
  for (let i = 0; i < 7; i++) {
    num = (num + P[1][i]) * y;
    den = (den + Q[1][i]) * y;
  }
  return expMinusSquare(y) * ((num + P[1][7]) / (den + Q[1][7]));
}

/** erfc(y) for y > 4: e^{−y²}/y·(1/√π + y⁻²·P₂(y⁻²)/Q₂(y⁻²)). */
function erfcLarge(y: number): number {
  const z = 1 / (y * y);
  let num = P[2][5] * z;
  let den = z;
  for (let i = 0; i < 4; i++) {
    num = (num + P[2][i]) * z;
    den = (den + Q[2][i]) * z;
  }
  const r = (z * (num + P[2][4])) / (den + Q[2][4]);
  return expMinusSquare(y) * ((SQRPI - r) / y);
}

/** e^{−y²} as e^{−ŷ²}·e^{−(y−ŷ)(y+ŷ)}, ŷ = ⌊16y⌋/16 (Cody's splitting). */
function expMinusSquare(y: number): number {
  const yHat = Math.trunc(y * 16) / 16;
  return Math.exp(-yHat * yHat) * Math.exp(-(y - yHat) * (y + yHat));
}
