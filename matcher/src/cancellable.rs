//! Cancellable templates (ISO/IEC 24745): a template is stored only after a secret
//! orthogonal transform, and probes are transformed the same way before they are compared.
//! An orthogonal matrix keeps every inner product, so cosine scores, thresholds and error
//! rates are exactly those of the untransformed templates; but a gallery transformed with
//! one secret cannot be compared with templates of another system (or of the same system
//! after the secret is renewed): the same face scores about as low as strangers do.
//!
//! The matrix is a deterministic function of the secret: Gaussian entries drawn from
//! SHA-256 in counter mode, orthonormalised by modified Gram-Schmidt in f64.

use crate::{MatcherError, Result, Template};
use sha2::{Digest, Sha256};

/// A secret orthogonal transform of templates of one dimension.
pub struct Transform {
    dim: usize,
    /// Row-major `dim` x `dim`, orthonormal rows.
    rows: Vec<f64>,
}

/// Uniform numbers in (0, 1) from SHA-256(secret || counter).
struct Stream<'a> {
    secret: &'a [u8],
    counter: u64,
    block: [u8; 32],
    used: usize,
}

impl Stream<'_> {
    fn next_uniform(&mut self) -> f64 {
        if self.used + 8 > self.block.len() {
            let mut h = Sha256::new();
            h.update(self.secret);
            h.update(self.counter.to_be_bytes());
            self.block = h.finalize().into();
            self.counter += 1;
            self.used = 0;
        }
        let mut b = [0u8; 8];
        b.copy_from_slice(&self.block[self.used..self.used + 8]);
        self.used += 8;
        // 53 random bits, shifted off zero.
        ((u64::from_be_bytes(b) >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    }

    /// A standard normal number (Box-Muller).
    fn next_gaussian(&mut self) -> f64 {
        let (u, v) = (self.next_uniform(), self.next_uniform());
        (-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos()
    }
}

impl Transform {
    /// The transform of `dim`-dimensional templates that `secret` determines.
    pub fn from_secret(secret: &[u8], dim: usize) -> Transform {
        let mut stream = Stream {
            secret,
            counter: 0,
            block: [0; 32],
            used: 32,
        };
        let mut rows: Vec<f64> = (0..dim * dim).map(|_| stream.next_gaussian()).collect();
        // Modified Gram-Schmidt: a random Gaussian matrix has independent rows (with
        // probability one), so none vanishes.
        for i in 0..dim {
            for j in 0..i {
                let d: f64 = (0..dim)
                    .map(|k| rows[i * dim + k] * rows[j * dim + k])
                    .sum();
                for k in 0..dim {
                    rows[i * dim + k] -= d * rows[j * dim + k];
                }
            }
            let norm = (0..dim)
                .map(|k| rows[i * dim + k] * rows[i * dim + k])
                .sum::<f64>()
                .sqrt();
            for k in 0..dim {
                rows[i * dim + k] /= norm;
            }
        }
        Transform { dim, rows }
    }

    pub fn dim(&self) -> usize {
        self.dim
    }

    fn check(&self, t: &Template) -> Result<()> {
        if t.dim() == self.dim {
            Ok(())
        } else {
            Err(MatcherError::InvalidTemplate(format!(
                "a {}-dimensional template for a {}-dimensional transform",
                t.dim(),
                self.dim
            )))
        }
    }

    /// The protected template: Q t.
    pub fn apply(&self, t: &Template) -> Result<Template> {
        self.check(t)?;
        let e = t.embedding();
        let out = (0..self.dim)
            .map(|i| {
                let row = &self.rows[i * self.dim..(i + 1) * self.dim];
                row.iter()
                    .zip(e)
                    .map(|(q, x)| q * f64::from(*x))
                    .sum::<f64>() as f32
            })
            .collect();
        Template::new(t.model().clone(), out)
    }

    /// The template a protected one came from: Q^T t (to move it to another transform).
    pub fn invert(&self, t: &Template) -> Result<Template> {
        self.check(t)?;
        let e = t.embedding();
        let mut out = vec![0f64; self.dim];
        for (i, x) in e.iter().enumerate() {
            let row = &self.rows[i * self.dim..(i + 1) * self.dim];
            for (o, q) in out.iter_mut().zip(row) {
                *o += q * f64::from(*x);
            }
        }
        Template::new(
            t.model().clone(),
            out.into_iter().map(|v| v as f32).collect(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::template::ModelId;

    fn template(seed: u64, dim: usize) -> Template {
        let secret = seed.to_be_bytes();
        let mut s = Stream {
            secret: &secret,
            counter: 0,
            block: [0; 32],
            used: 32,
        };
        let v: Vec<f32> = (0..dim).map(|_| s.next_gaussian() as f32).collect();
        let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        Template::new(
            ModelId::new("test", 1),
            v.into_iter().map(|x| x / norm).collect(),
        )
        .unwrap()
    }

    #[test]
    fn scores_are_kept_exactly_and_another_secret_unlinks() {
        let q = Transform::from_secret(b"deployment one", 128);
        let other = Transform::from_secret(b"deployment two", 128);
        let mut worst: f32 = 0.0;
        let mut cross: Vec<f32> = Vec::new();
        for i in 0..40u64 {
            let (a, b) = (template(i, 128), template(1000 + i, 128));
            let before = a.cosine(&b).unwrap();
            let after = q.apply(&a).unwrap().cosine(&q.apply(&b).unwrap()).unwrap();
            worst = worst.max((before - after).abs());
            // The same template under two secrets: as unrelated as two strangers.
            cross.push(
                q.apply(&a)
                    .unwrap()
                    .cosine(&other.apply(&a).unwrap())
                    .unwrap(),
            );
            let back = q.invert(&q.apply(&a).unwrap()).unwrap();
            assert!((back.cosine(&a).unwrap() - 1.0).abs() < 1e-5);
        }
        assert!(worst < 1e-5, "cosines move by {worst}");
        let mean = cross.iter().sum::<f32>() / cross.len() as f32;
        assert!(
            mean.abs() < 0.05 && cross.iter().all(|c| c.abs() < 0.4),
            "{cross:?}"
        );
        // Deterministic in the secret.
        let again = Transform::from_secret(b"deployment one", 128);
        let a = template(7, 128);
        assert_eq!(
            q.apply(&a).unwrap().embedding(),
            again.apply(&a).unwrap().embedding()
        );
        assert!(q.apply(&template(1, 256)).is_err());
    }
}
