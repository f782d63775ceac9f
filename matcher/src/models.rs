//! The pretrained networks: where their converted weights live and the sha256 each file
//! must have. The manifest is compiled in, so a swapped weight file is refused at load.

use std::path::{Path, PathBuf};

use candle_core::{DType, Device};
use candle_nn::VarBuilder;
use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::error::{MatcherError, Result};

const MANIFEST: &str = include_str!("../models/manifest.json");

/// Environment variable naming the directory that holds the `.safetensors` files.
pub const MODELS_DIR_ENV: &str = "MATCHER_MODELS_DIR";

/// One converted weight file, as pinned in `models/manifest.json`.
#[derive(Debug, Clone, Deserialize)]
pub struct ModelEntry {
    pub file: String,
    pub sha256: String,
    pub bytes: u64,
    pub licence: String,
    pub source: String,
    pub converter: String,
    pub committed: bool,
}

#[derive(Deserialize)]
struct Manifest {
    models: Vec<ModelEntry>,
}

/// The pinned entries of the compiled-in manifest.
pub fn manifest() -> Result<Vec<ModelEntry>> {
    serde_json::from_str::<Manifest>(MANIFEST)
        .map(|m| m.models)
        .map_err(|e| MatcherError::Model {
            name: "manifest.json".into(),
            reason: e.to_string(),
        })
}

/// A directory of converted weights whose files are checked against the manifest.
#[derive(Debug, Clone)]
pub struct ModelStore {
    dir: PathBuf,
}

impl ModelStore {
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    /// `$MATCHER_MODELS_DIR`, else the `models/` directory of this crate's source tree.
    pub fn from_env() -> Self {
        match std::env::var_os(MODELS_DIR_ENV) {
            Some(dir) => Self::new(dir),
            None => Self::new(Path::new(env!("CARGO_MANIFEST_DIR")).join("models")),
        }
    }

    /// The path of `file` after checking its size and sha256 against the manifest.
    pub fn verified_path(&self, file: &str) -> Result<PathBuf> {
        let entry = manifest()?
            .into_iter()
            .find(|e| e.file == file)
            .ok_or_else(|| MatcherError::Model {
                name: file.into(),
                reason: "not listed in models/manifest.json".into(),
            })?;
        let path = self.dir.join(file);
        let bytes = std::fs::read(&path).map_err(|e| MatcherError::Model {
            name: file.into(),
            reason: format!(
                "cannot read {} ({e}); see matcher/models/README.md to create it",
                path.display()
            ),
        })?;
        let digest = Sha256::digest(&bytes);
        let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
        if bytes.len() as u64 != entry.bytes || hex != entry.sha256 {
            return Err(MatcherError::Model {
                name: file.into(),
                reason: format!(
                    "sha256 {hex} does not match the manifest's {}",
                    entry.sha256
                ),
            });
        }
        Ok(path)
    }

    /// The weights of `file`, checked against the manifest, memory-mapped for candle on the
    /// CPU.
    pub fn var_builder(&self, file: &str) -> Result<VarBuilder<'static>> {
        Self::map_verified(&self.verified_path(file)?)
    }

    /// Memory-maps weights at a path that [`Self::verified_path`] returned, for a caller
    /// that also reads the file itself.
    pub(crate) fn map_verified(path: &Path) -> Result<VarBuilder<'static>> {
        // SAFETY: the file was checked against its pinned sha256 by `verified_path` and the
        // matcher never writes to it; a concurrent external modification would be a
        // deployment error.
        let vb = unsafe { VarBuilder::from_mmaped_safetensors(&[path], DType::F32, &Device::Cpu)? };
        Ok(vb)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifest_lists_licences_and_hashes() {
        let entries = manifest().unwrap();
        assert!(entries.len() >= 2);
        for e in &entries {
            assert_eq!(e.sha256.len(), 64, "{}", e.file);
            assert!(!e.licence.is_empty());
        }
    }

    #[test]
    fn committed_weights_match_their_hashes() {
        let store = ModelStore::new(Path::new(env!("CARGO_MANIFEST_DIR")).join("models"));
        for e in manifest().unwrap().iter().filter(|e| e.committed) {
            store.verified_path(&e.file).unwrap();
        }
    }

    #[test]
    fn a_tampered_file_is_refused() {
        let dir = std::env::temp_dir().join(format!("matcher-models-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = "shape_predictor_5_face_landmarks.safetensors";
        std::fs::write(dir.join(file), b"not the weights").unwrap();
        let err = ModelStore::new(&dir).verified_path(file).unwrap_err();
        assert!(err.to_string().contains("sha256"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
