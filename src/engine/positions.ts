/** Sinusoidal positional encodings ("Attention is all you need"), a constant table rather than a parameter. */
import { Tensor, ShapeError } from './tensor.js';

/**
 * [maxLen, dim]: pe[p, 2i] = sin(p / 10000^(2i/dim)), pe[p, 2i+1] = cos(the same angle),
 * as the PyTorch tutorials build it. Computed in double, stored as float32.
 */
export function sinusoidalPositions(maxLen: number, dim: number): Tensor {
  if (!Number.isInteger(maxLen) || maxLen < 0 || !Number.isInteger(dim) || dim < 0) {
    throw new ShapeError(`sinusoidalPositions: maxLen and dim must be non-negative integers, got ${maxLen} and ${dim}`);
  }
  const data = new Float32Array(maxLen * dim);
  for (let i = 0; 2 * i < dim; i++) {
    const rate = Math.exp((-Math.log(10000) * (2 * i)) / dim);
    for (let p = 0; p < maxLen; p++) {
      const angle = p * rate;
      data[p * dim + 2 * i] = Math.sin(angle);
      if (2 * i + 1 < dim) data[p * dim + 2 * i + 1] = Math.cos(angle);
    }
  }
  return new Tensor(data, [maxLen, dim]);
}
