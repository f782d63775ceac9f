//! Layers of the MediaPipe networks (BlazeFace, iris landmarks) on channel-major maps,
//! `(C, N, H, W)`: a 1x1 convolution over a whole batch is then one matrix product without
//! copies, a depthwise tap one broadcast multiply, and pooling still works plane by plane.
//! These networks are hundreds of small operations; candle's general convolution (im2col and
//! a copy in and out of NCHW per layer, grouped convolutions one group at a time) spent most
//! of their time moving data.

use candle_core::{CpuStorage, CustomOp1, Layout, Module, Shape, Tensor};
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

/// A k x k stride-2 convolution of an NCHW input already padded as the network wants it, to
/// a channel-major output: the patches are gathered row by row into one `(C * k * k, N * OH *
/// OW)` matrix and multiplied once. candle's convolution gathers them element by element and
/// its NCHW result would need a transpose.
pub(crate) struct StemConv {
    /// `(out, in * k * k)`, inputs ordered channel, row, column.
    weight: Tensor,
    /// `(out, 1)`.
    bias: Tensor,
    k: usize,
}

impl StemConv {
    pub(crate) fn new(cin: usize, cout: usize, k: usize, vb: VarBuilder) -> Result<Self> {
        Ok(Self {
            weight: vb
                .get((cout, cin, k, k), "weight")?
                .reshape((cout, cin * k * k))?,
            bias: vb.get(cout, "bias")?.reshape((cout, 1))?,
            k,
        })
    }
}

impl Module for StemConv {
    fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        let (n, c, h, w) = x.dims4()?;
        let k = self.k;
        let (oh, ow) = ((h - k) / 2 + 1, (w - k) / 2 + 1);
        let data = x.flatten_all()?.to_vec1::<f32>()?;
        let mut patches: Vec<f32> = Vec::with_capacity(c * k * k * n * oh * ow);
        for ci in 0..c {
            for ky in 0..k {
                for kx in 0..k {
                    for ni in 0..n {
                        let plane = &data[(ni * c + ci) * h * w..(ni * c + ci + 1) * h * w];
                        for oy in 0..oh {
                            let row = &plane[(2 * oy + ky) * w..(2 * oy + ky + 1) * w];
                            patches.extend(row[kx..].iter().step_by(2).take(ow));
                        }
                    }
                }
            }
        }
        let patches = Tensor::from_vec(patches, (c * k * k, n * oh * ow), x.device())?;
        self.weight
            .matmul(&patches)?
            .broadcast_add(&self.bias)?
            .reshape(((), n, oh, ow))
    }
}

/// A 3x3 depthwise convolution, stride 1 or 2, TensorFlow "same" padding (stride 1: one row
/// and column on every side; stride 2 on an even size: one after the map only), as one pass
/// over each plane: candle has no depthwise kernel (its grouped convolution runs one group at
/// a time), and nine shifted multiply-adds cost eighteen passes over the map.
pub(crate) struct Depthwise3x3 {
    /// Per channel: 9 taps (row-major) then the bias.
    weights: Vec<f32>,
    pub(crate) stride: usize,
}

impl Depthwise3x3 {
    pub(crate) fn new(channels: usize, stride: usize, vb: VarBuilder) -> Result<Self> {
        let w = vb
            .get((channels, 1, 3, 3), "weight")?
            .reshape((channels, 9))?;
        let b = vb.get(channels, "bias")?.reshape((channels, 1))?;
        let weights = Tensor::cat(&[w, b], 1)?.flatten_all()?.to_vec1::<f32>()?;
        Ok(Self { weights, stride })
    }
}

impl Module for Depthwise3x3 {
    fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        x.apply_op1_no_bwd(self)
    }
}

impl CustomOp1 for Depthwise3x3 {
    fn name(&self) -> &'static str {
        "depthwise3x3"
    }

    fn cpu_fwd(
        &self,
        storage: &CpuStorage,
        layout: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let (c, n, h, w) = layout.shape().dims4()?;
        let CpuStorage::F32(data) = storage else {
            candle_core::bail!("depthwise3x3: f32 maps only");
        };
        let Some((start, end)) = layout.contiguous_offsets() else {
            candle_core::bail!("depthwise3x3: contiguous maps only");
        };
        let data = &data[start..end];
        if self.weights.len() != c * 10 || (self.stride == 2 && (h % 2 != 0 || w % 2 != 0)) {
            candle_core::bail!(
                "depthwise3x3: {c} channels, {h}x{w}, stride {}",
                self.stride
            );
        }
        let s = self.stride;
        let (oh, ow) = (h / s, w / s);
        // Rows and columns of the zero-padded plane: stride 1 pads one before, stride 2 none.
        let before = usize::from(s == 1);
        let (ph, pw) = (h + 2, w + 2);
        let mut padded = vec![0f32; ph * pw];
        let mut out = vec![0f32; c * n * oh * ow];
        for (plane, dst) in out.chunks_exact_mut(oh * ow).enumerate() {
            let src = &data[plane * h * w..(plane + 1) * h * w];
            for (y, row) in src.chunks_exact(w).enumerate() {
                let at = (y + before) * pw + before;
                padded[at..at + w].copy_from_slice(row);
            }
            let k = &self.weights[(plane / n) * 10..(plane / n) * 10 + 10];
            for (oy, dst_row) in dst.chunks_exact_mut(ow).enumerate() {
                dst_row.fill(k[9]);
                for dy in 0..3 {
                    let src_row = &padded[(oy * s + dy) * pw..(oy * s + dy + 1) * pw];
                    for dx in 0..3 {
                        let tap = k[3 * dy + dx];
                        // Slices of the exact length let the compiler drop the bounds checks
                        // and vectorise the stride-1 case.
                        if s == 1 {
                            for (o, &v) in dst_row.iter_mut().zip(&src_row[dx..dx + ow]) {
                                *o += tap * v;
                            }
                        } else {
                            let src = src_row[dx..].iter().step_by(s);
                            for (o, &v) in dst_row.iter_mut().zip(src) {
                                *o += tap * v;
                            }
                        }
                    }
                }
            }
        }
        Ok((CpuStorage::F32(out), Shape::from((c, n, oh, ow))))
    }
}

/// PReLU with one slope per channel, in one pass over the map.
pub(crate) struct Prelu {
    alpha: Vec<f32>,
}

impl Prelu {
    pub(crate) fn new(channels: usize, vb: VarBuilder) -> Result<Self> {
        Ok(Self {
            alpha: vb.get(channels, "alpha")?.to_vec1::<f32>()?,
        })
    }
}

impl Module for Prelu {
    fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        x.apply_op1_no_bwd(self)
    }
}

impl CustomOp1 for Prelu {
    fn name(&self) -> &'static str {
        "prelu"
    }

    fn cpu_fwd(
        &self,
        storage: &CpuStorage,
        layout: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let CpuStorage::F32(data) = storage else {
            candle_core::bail!("prelu: f32 maps only");
        };
        let Some((start, end)) = layout.contiguous_offsets() else {
            candle_core::bail!("prelu: contiguous maps only");
        };
        let c = layout.shape().dims().first().copied().unwrap_or(0);
        if c != self.alpha.len() || c == 0 {
            candle_core::bail!("prelu: {c} channels, {} slopes", self.alpha.len());
        }
        let data = &data[start..end];
        let per_channel = data.len() / c;
        let mut out = Vec::with_capacity(data.len());
        for (plane, &a) in data.chunks_exact(per_channel).zip(&self.alpha) {
            out.extend(plane.iter().map(|&v| if v < 0.0 { a * v } else { v }));
        }
        Ok((CpuStorage::F32(out), layout.shape().clone()))
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
        for k in [3usize, 5] {
            let w = vb
                .get_with_hints((o, c, k, k), &format!("s{k}.weight"), RANDN)
                .unwrap();
            let b = vb.get_with_hints(o, &format!("s{k}.bias"), RANDN).unwrap();
            let stem = StemConv::new(c, o, k, vb.pp(format!("s{k}"))).unwrap();
            let padded = x
                .pad_with_zeros(2, 1, 2)
                .unwrap()
                .pad_with_zeros(3, 1, 2)
                .unwrap();
            let want = padded
                .conv2d(&w, 0, 2, 1, 1)
                .unwrap()
                .broadcast_add(&b.reshape((1, o, 1, 1)).unwrap())
                .unwrap();
            let got = back(stem.forward(&padded).unwrap());
            assert_eq!(got.dims(), want.dims());
            assert!(close(&got, &want) < 1e-4, "stem k={k}");
        }
        let alpha = vb.get_with_hints(c, "a.alpha", RANDN).unwrap();
        let prelu = Prelu::new(c, vb.pp("a")).unwrap();
        let want = (x.relu().unwrap()
            + x.minimum(0f32)
                .unwrap()
                .broadcast_mul(&alpha.reshape((1, c, 1, 1)).unwrap())
                .unwrap())
        .unwrap();
        assert!(
            close(&back(prelu.forward(&cnhw).unwrap()), &want) < 1e-6,
            "prelu"
        );
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
