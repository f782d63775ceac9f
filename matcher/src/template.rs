//! Biometric templates: an L2-normalised embedding tagged with the model that made it,
//! and their versioned binary encoding.
//!
//! Layout (little-endian): `b"MTPL"`, format version `u8` (= 1), model id length `u8`,
//! model id (ASCII), model version `u16`, dimension `u16`, then `dim` `f32` values.

use crate::error::{MatcherError, Result};

const MAGIC: &[u8; 4] = b"MTPL";
const FORMAT_VERSION: u8 = 1;
/// How far from 1 the length of a normalised f32 vector may be (a few units in the last
/// place of the values summed).
const UNIT_TOLERANCE: f64 = 1e-6;

/// Which network produced an embedding. Templates of different models never compare.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ModelId {
    pub name: String,
    pub version: u16,
}

impl ModelId {
    pub fn new(name: &str, version: u16) -> Self {
        Self {
            name: name.to_owned(),
            version,
        }
    }
}

impl std::fmt::Display for ModelId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}@{}", self.name, self.version)
    }
}

/// An L2-normalised embedding of one face or voice sample.
#[derive(Debug, Clone, PartialEq)]
pub struct Template {
    model: ModelId,
    embedding: Vec<f32>,
}

impl Template {
    /// Normalises `embedding` to unit length (one already of unit length within f32's
    /// precision is kept as it is). Fails on empty, non-finite or zero vectors.
    pub fn new(model: ModelId, embedding: Vec<f32>) -> Result<Self> {
        if embedding.is_empty() || embedding.len() > usize::from(u16::MAX) {
            return Err(MatcherError::InvalidTemplate(format!(
                "dimension {} out of range",
                embedding.len()
            )));
        }
        if model.name.is_empty() || model.name.len() > 255 || !model.name.is_ascii() {
            return Err(MatcherError::InvalidTemplate(
                "model id must be 1-255 ASCII bytes".into(),
            ));
        }
        if embedding.iter().any(|v| !v.is_finite()) {
            return Err(MatcherError::InvalidTemplate("non-finite value".into()));
        }
        let norm = embedding
            .iter()
            .map(|v| f64::from(*v) * f64::from(*v))
            .sum::<f64>()
            .sqrt();
        if norm == 0.0 {
            return Err(MatcherError::InvalidTemplate("zero vector".into()));
        }
        // A vector of unit length as far as f32 tells is kept as it is, so that a stored
        // template reads back exactly as it was written, however often.
        if (norm - 1.0).abs() <= UNIT_TOLERANCE {
            return Ok(Self { model, embedding });
        }
        let embedding = embedding
            .into_iter()
            .map(|v| (f64::from(v) / norm) as f32)
            .collect();
        Ok(Self { model, embedding })
    }

    pub fn model(&self) -> &ModelId {
        &self.model
    }

    pub fn embedding(&self) -> &[f32] {
        &self.embedding
    }

    pub fn dim(&self) -> usize {
        self.embedding.len()
    }

    /// Cosine similarity in [-1, 1]. Comparing templates of different models is an error.
    pub fn cosine(&self, other: &Template) -> Result<f32> {
        if self.model != other.model || self.dim() != other.dim() {
            return Err(MatcherError::ModelMismatch(
                self.model.to_string(),
                other.model.to_string(),
            ));
        }
        Ok(dot(&self.embedding, &other.embedding).clamp(-1.0, 1.0))
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(4 + 2 + self.model.name.len() + 4 + 4 * self.dim());
        out.extend_from_slice(MAGIC);
        out.push(FORMAT_VERSION);
        // Lengths were checked in `new`.
        out.push(self.model.name.len() as u8);
        out.extend_from_slice(self.model.name.as_bytes());
        out.extend_from_slice(&self.model.version.to_le_bytes());
        out.extend_from_slice(&(self.dim() as u16).to_le_bytes());
        for v in &self.embedding {
            out.extend_from_slice(&v.to_le_bytes());
        }
        out
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        let bad = |why: &str| MatcherError::InvalidTemplate(why.to_owned());
        let rest = bytes.strip_prefix(MAGIC).ok_or_else(|| bad("bad magic"))?;
        let (&format, rest) = rest.split_first().ok_or_else(|| bad("truncated"))?;
        if format != FORMAT_VERSION {
            return Err(bad(&format!("unsupported format version {format}")));
        }
        let (&name_len, rest) = rest.split_first().ok_or_else(|| bad("truncated"))?;
        let (name, rest) = rest
            .split_at_checked(usize::from(name_len))
            .ok_or_else(|| bad("truncated model id"))?;
        let name = std::str::from_utf8(name).map_err(|_| bad("model id is not text"))?;
        let (version, rest) = rest.split_at_checked(2).ok_or_else(|| bad("truncated"))?;
        let (dim, rest) = rest.split_at_checked(2).ok_or_else(|| bad("truncated"))?;
        let version = u16::from_le_bytes([version[0], version[1]]);
        let dim = usize::from(u16::from_le_bytes([dim[0], dim[1]]));
        if rest.len() != 4 * dim {
            return Err(bad(&format!(
                "expected {} value bytes, found {}",
                4 * dim,
                rest.len()
            )));
        }
        let embedding = rest
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
        Template::new(ModelId::new(name, version), embedding)
    }
}

/// Dot product written so that the compiler vectorises it (eight independent sums).
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0f32; 8];
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let tail: f32 = ca
        .remainder()
        .iter()
        .zip(cb.remainder())
        .map(|(x, y)| x * y)
        .sum();
    for (x, y) in ca.zip(cb) {
        for i in 0..8 {
            acc[i] += x[i] * y[i];
        }
    }
    acc.iter().sum::<f32>() + tail
}

#[cfg(test)]
mod tests {
    use super::*;

    fn face(v: Vec<f32>) -> Template {
        Template::new(ModelId::new("face-test", 1), v).unwrap()
    }

    #[test]
    fn normalises_and_scores_cosine() {
        let a = face(vec![3.0, 4.0]);
        assert!((a.embedding()[0] - 0.6).abs() < 1e-6);
        let b = face(vec![4.0, 3.0]);
        assert!((a.cosine(&b).unwrap() - 0.96).abs() < 1e-6);
        assert!((a.cosine(&a).unwrap() - 1.0).abs() < 1e-6);
        let c = face(vec![-3.0, -4.0]);
        assert!((a.cosine(&c).unwrap() + 1.0).abs() < 1e-6);
    }

    #[test]
    fn round_trips_through_bytes() {
        let a = face((0..128).map(|i| i as f32 - 60.5).collect());
        let bytes = a.to_bytes();
        assert_eq!(&bytes[..4], b"MTPL");
        assert_eq!(bytes.len(), 4 + 1 + 1 + 9 + 2 + 2 + 128 * 4);
        assert_eq!(Template::from_bytes(&bytes).unwrap(), a);
    }

    /// Found by fuzzing: reading a template normalised it again, moving a value by a unit
    /// in the last place (here the sixth: 0x3ef0ad24 became 0x3ef0ad25).
    #[test]
    fn reads_back_exactly_as_written() {
        let mut written = b"MTPL\x01\x0cface-arcface\x01\x00\x08\x00".to_vec();
        for bits in [
            0x1d31_aa7b_u32,
            0,
            0,
            0,
            0x3f1f_a77e,
            0x3ef0_ad24,
            0x3f1f_e42e,
            0,
        ] {
            written.extend_from_slice(&bits.to_le_bytes());
        }
        let read = Template::from_bytes(&written).unwrap();
        assert_eq!(read.to_bytes(), written);
    }

    #[test]
    fn rejects_corrupt_bytes() {
        let bytes = face(vec![1.0, 2.0, 3.0]).to_bytes();
        assert!(Template::from_bytes(&bytes[..bytes.len() - 1]).is_err());
        assert!(Template::from_bytes(b"XXXX").is_err());
        let mut wrong_format = bytes.clone();
        wrong_format[4] = 9;
        assert!(Template::from_bytes(&wrong_format).is_err());
        let mut nan = bytes;
        let n = nan.len();
        nan[n - 4..].copy_from_slice(&f32::NAN.to_le_bytes());
        assert!(Template::from_bytes(&nan).is_err());
    }

    #[test]
    fn different_models_do_not_compare() {
        let a = face(vec![1.0, 0.0]);
        let b = Template::new(ModelId::new("voice-test", 1), vec![1.0, 0.0]).unwrap();
        let newer = Template::new(ModelId::new("face-test", 2), vec![1.0, 0.0]).unwrap();
        assert!(matches!(a.cosine(&b), Err(MatcherError::ModelMismatch(..))));
        assert!(matches!(
            a.cosine(&newer),
            Err(MatcherError::ModelMismatch(..))
        ));
    }

    #[test]
    fn rejects_degenerate_vectors() {
        assert!(Template::new(ModelId::new("m", 1), vec![]).is_err());
        assert!(Template::new(ModelId::new("m", 1), vec![0.0; 4]).is_err());
        assert!(Template::new(ModelId::new("m", 1), vec![f32::INFINITY, 1.0]).is_err());
    }

    #[test]
    fn dot_matches_naive_sum() {
        let a: Vec<f32> = (0..37).map(|i| (i as f32).sin()).collect();
        let b: Vec<f32> = (0..37).map(|i| (i as f32).cos()).collect();
        let naive: f32 = a.iter().zip(&b).map(|(x, y)| x * y).sum();
        assert!((dot(&a, &b) - naive).abs() < 1e-5);
    }
}
