//! Layers of the MediaPipe networks (BlazeFace, iris landmarks) on channel-major maps,
//! `(C, N, H, W)`: a 1x1 convolution over a whole batch is then one matrix product without
//! copies, a depthwise tap one broadcast multiply, and pooling still works plane by plane.
//! These networks are hundreds of small operations; candle's general convolution (im2col and
//! a copy in and out of NCHW per layer, grouped convolutions one group at a time) spent most
//! of their time moving data.

use candle_core::{Module, Tensor};
use candle_nn::VarBuilder;

use crate::error::Result;

/// A k x k convolution with stride k (no overlap, no padding) from TFLite's OHWI weights as
/// stored by the converters (OIHW): a 1x1 convolution when k = 1, a 2x2 stride-2 reduction,
/// or a head that reads a whole k x k map.
pub(crate) struct PatchConv {
    /// `(out, in * k * k)`, inputs ordered channel, row, column.
    weight: Tensor,
    /// `(out, 1)`.
    bias: Tensor,
    k: usize,
}

impl PatchConv {
    pub(crate) fn new(cin: usize, cout: usize, k: usize, vb: VarBuilder) -> Result<Self> {
        Ok(Self {
            weight: vb
                .get((cout, cin, k, k), "weight")?
                .reshape((cout, cin * k * k))?,
            bias: vb.get(cout, "bias")?.reshape((cout, 1))?,
            k,
        })
    }

    /// `(C, N, H, W)` -> `(out, N * (H / k) * (W / k))`.
    pub(crate) fn flat(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        let (c, n, h, w) = x.dims4()?;
        let k = self.k;
        let patches = if k == 1 {
            x.reshape((c, ()))?
        } else {
            x.reshape((c, n, h / k, k, w / k, k))?
                .permute((0, 3, 5, 1, 2, 4))?
                .contiguous()?
                .reshape((c * k * k, ()))?
        };
        self.weight.matmul(&patches)?.broadcast_add(&self.bias)
    }
}

impl Module for PatchConv {
    fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        let (_, n, h, w) = x.dims4()?;
        self.flat(x)?.reshape(((), n, h / self.k, w / self.k))
    }
}

/// A 3x3 depthwise convolution, stride 1 or 2, TensorFlow "same" padding, as shifted
/// multiply-adds.
pub(crate) struct Depthwise3x3 {
    /// `(9, C, 1, 1, 1)`: the kernel tap (row-major), then the channel.
    taps: Tensor,
    bias: Tensor,
    pub(crate) stride: usize,
}

impl Depthwise3x3 {
    pub(crate) fn new(channels: usize, stride: usize, vb: VarBuilder) -> Result<Self> {
        let w = vb.get((channels, 1, 3, 3), "weight")?;
        let taps = w
            .reshape((channels, 9))?
            .t()?
            .contiguous()?
            .reshape((9, channels, 1, 1, 1))?;
        let bias = vb.get(channels, "bias")?.reshape((channels, 1, 1, 1))?;
        Ok(Self { taps, bias, stride })
    }
}

impl Module for Depthwise3x3 {
    fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        let (c, n, h, w) = x.dims4()?;
        let mut out = self.bias.clone();
        if self.stride == 1 {
            let padded = x.pad_with_zeros(2, 1, 1)?.pad_with_zeros(3, 1, 1)?;
            for dy in 0..3 {
                for dx in 0..3 {
                    let shifted = padded.narrow(2, dy, h)?.narrow(3, dx, w)?;
                    out = shifted
                        .broadcast_mul(&self.taps.get(3 * dy + dx)?)?
                        .broadcast_add(&out)?;
                }
            }
            return Ok(out);
        }
        // Stride 2 on an even size: "same" pads one row and column after the map only.
        // Output (i, j) reads padded rows 2i + dy and columns 2j + dx: split the padded map
        // into its four (row, column) parity phases once, then each tap is a plain shift.
        let (oh, ow) = (h / 2, w / 2);
        let padded = x
            .pad_with_zeros(2, 0, 2)?
            .pad_with_zeros(3, 0, 2)?
            .reshape((c, n, oh + 1, 2, ow + 1, 2))?;
        let mut phases = Vec::with_capacity(4);
        for ry in 0..2 {
            for rx in 0..2 {
                phases.push(
                    padded
                        .narrow(3, ry, 1)?
                        .narrow(5, rx, 1)?
                        .contiguous()?
                        .reshape((c, n, oh + 1, ow + 1))?,
                );
            }
        }
        for dy in 0..3 {
            for dx in 0..3 {
                let phase = &phases[2 * (dy % 2) + dx % 2];
                let shifted = phase.narrow(2, dy / 2, oh)?.narrow(3, dx / 2, ow)?;
                out = shifted
                    .broadcast_mul(&self.taps.get(3 * dy + dx)?)?
                    .broadcast_add(&out)?;
            }
        }
        Ok(out)
    }
}

/// PReLU with one slope per channel.
pub(crate) struct Prelu {
    /// `(C, 1, 1, 1)`.
    alpha: Tensor,
}

impl Prelu {
    pub(crate) fn new(channels: usize, vb: VarBuilder) -> Result<Self> {
        let alpha = vb.get(channels, "alpha")?.reshape((channels, 1, 1, 1))?;
        Ok(Self { alpha })
    }
}

impl Module for Prelu {
    fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        x.relu()? + x.minimum(0f32)?.broadcast_mul(&self.alpha)?
    }
}

/// `x` with `extra` zero channels appended (the residual path of a widening block).
pub(crate) fn pad_channels(x: Tensor, extra: usize) -> candle_core::Result<Tensor> {
    if extra == 0 {
        Ok(x)
    } else {
        x.pad_with_zeros(0, 0, extra)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{DType, Device};
    use candle_nn::{Init, VarMap};

    const RANDN: Init = Init::Randn {
        mean: 0.0,
        stdev: 1.0,
    };

    /// The layers against candle's own NCHW convolutions on random weights.
    #[test]
    fn layers_match_candles_convolutions() {
        let dev = Device::Cpu;
        let map = VarMap::new();
        let vb = VarBuilder::from_varmap(&map, DType::F32, &dev);
        let (c, o, n, h) = (6usize, 5usize, 2usize, 8usize);
        let x = Tensor::randn(0f32, 1.0, (n, c, h, h), &dev).unwrap();
        let cnhw = x.transpose(0, 1).unwrap().contiguous().unwrap();
        let back = |t: Tensor| t.transpose(0, 1).unwrap();
        let close = |a: &Tensor, b: &Tensor| {
            let d = (a - b).unwrap().abs().unwrap().max_all().unwrap();
            d.to_scalar::<f32>().unwrap()
        };
        for k in [1usize, 2] {
            let w = vb
                .get_with_hints((o, c, k, k), &format!("p{k}.weight"), RANDN)
                .unwrap();
            let b = vb.get_with_hints(o, &format!("p{k}.bias"), RANDN).unwrap();
            let conv = PatchConv::new(c, o, k, vb.pp(format!("p{k}"))).unwrap();
            let want = x
                .conv2d(&w, 0, k, 1, 1)
                .unwrap()
                .broadcast_add(&b.reshape((1, o, 1, 1)).unwrap())
                .unwrap();
            let got = back(conv.forward(&cnhw).unwrap());
            assert!(close(&got, &want) < 1e-5, "patch conv k={k}");
        }
        for stride in [1usize, 2] {
            let w = vb
                .get_with_hints((c, 1, 3, 3), &format!("d{stride}.weight"), RANDN)
                .unwrap();
            let b = vb
                .get_with_hints(c, &format!("d{stride}.bias"), RANDN)
                .unwrap();
            let dw = Depthwise3x3::new(c, stride, vb.pp(format!("d{stride}"))).unwrap();
            // "same": symmetric for stride 1, one extra row and column after for stride 2.
            let padded = if stride == 1 {
                x.pad_with_zeros(2, 1, 1)
                    .unwrap()
                    .pad_with_zeros(3, 1, 1)
                    .unwrap()
            } else {
                x.pad_with_zeros(2, 0, 1)
                    .unwrap()
                    .pad_with_zeros(3, 0, 1)
                    .unwrap()
            };
            let want = padded
                .conv2d(&w, 0, stride, 1, c)
                .unwrap()
                .broadcast_add(&b.reshape((1, c, 1, 1)).unwrap())
                .unwrap();
            let got = back(dw.forward(&cnhw).unwrap());
            assert_eq!(got.dims(), want.dims());
            assert!(close(&got, &want) < 1e-5, "depthwise stride {stride}");
        }
    }
}
