/**
 * The error function in double precision (relative error ≲ 1e-13 on both
 * erf and erfc, so the tails of the normal CDF keep their digits), and the
 * exact GELU built on it: GELU(x) = x·Φ(x), Φ(x) = erfc(−x/√2)/2, as
 * torch.nn.GELU() with approximate='none'.
 *
 * |z| < 2: erf from its series with all terms positive,
 * erf(z) = 2/√π·e^{−z²}·Σₙ (2z²)ⁿ·z/(1·3·…·(2n+1)), ≤ 31 terms.
 * z ≥ 2: erfc from its continued fraction
 * erfc(z) = e^{−z²}/√π · 1/(z + ½/(z + 1/(z + (3/2)/(z + …)))),
 * evaluated bottom-up with enough terms for the z at hand.
 */
const TWO_OVER_SQRT_PI = 1.1283791670955126;
const INV_SQRT_PI = 0.5641895835477563;
const INV_SQRT_2PI = 0.3989422804014327;

function erfSeries(z: number): number {
  const z2 = z * z, t = 2 * z2;
  let term = z, s = z;
  for (let n = 1; n < 64; n++) {
    term *= t / (2 * n + 1);
    s += term;
    if (term <= s * 1e-17) break;
  }
  return TWO_OVER_SQRT_PI * Math.exp(-z2) * s;
}

/** erfc(z) for z ≥ 2. */
function erfcFraction(z: number): number {
  const terms = z < 2.5 ? 56 : z < 3.5 ? 32 : z < 6 ? 20 : 10;
  let f = z;
  for (let n = terms; n >= 1; n--) f = z + (0.5 * n) / f;
  return (Math.exp(-z * z) * INV_SQRT_PI) / f;
}

export function erf(x: number): number {
  const z = Math.abs(x);
  if (z < 2) return x < 0 ? -erfSeries(z) : erfSeries(z);
  if (!(z < 27)) return Number.isNaN(x) ? NaN : x < 0 ? -1 : 1; // erfc underflows beyond 27
  const r = 1 - erfcFraction(z);
  return x < 0 ? -r : r;
}

export function erfc(x: number): number {
  if (Number.isNaN(x)) return NaN;
  const z = Math.abs(x);
  let c: number;
  if (z < 2) c = 1 - erfSeries(z);
  else c = z < 27 ? erfcFraction(z) : 0;
  return x < 0 ? 2 - c : c;
}

/** Φ(x), the standard normal CDF. */
export function normalCdf(x: number): number {
  return 0.5 * erfc(-x * Math.SQRT1_2);
}

/** GELU(x) = x·Φ(x). */
export function gelu(x: number): number {
  return x * normalCdf(x);
}

/** GELU'(x) = Φ(x) + x·φ(x). */
export function geluDerivative(x: number): number {
  return normalCdf(x) + x * INV_SQRT_2PI * Math.exp(-0.5 * x * x);
}
