//! 1:N identification: exhaustive cosine search over an in-memory gallery.
//!
//! Templates are stored contiguously (one row per enrolment) so a search is a single pass
//! of dot products, split over the available cores; each part keeps its own top k.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

use crate::error::{MatcherError, Result};
use crate::template::{ModelId, Template, dot};

/// One candidate of an identification, best first in results.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    pub index: usize,
    pub id: String,
    pub score: f32,
}

/// The enrolled templates of one model.
#[derive(Debug, Clone)]
pub struct Gallery {
    model: ModelId,
    dim: usize,
    ids: Vec<String>,
    rows: Vec<f32>,
}

/// Heap entry ordered so that the heap's top is the *worst* kept candidate.
#[derive(Clone, Copy)]
struct Kept {
    score: f32,
    index: usize,
}

impl PartialEq for Kept {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for Kept {}
impl PartialOrd for Kept {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Kept {
    fn cmp(&self, other: &Self) -> Ordering {
        // Lower score = "greater" so the max-heap pops the worst; ties keep lower indices.
        other
            .score
            .total_cmp(&self.score)
            .then(self.index.cmp(&other.index))
    }
}

impl Gallery {
    pub fn new(model: ModelId, dim: usize) -> Self {
        Self {
            model,
            dim,
            ids: Vec::new(),
            rows: Vec::new(),
        }
    }

    pub fn with_capacity(model: ModelId, dim: usize, capacity: usize) -> Self {
        Self {
            model,
            dim,
            ids: Vec::with_capacity(capacity),
            rows: Vec::with_capacity(capacity * dim),
        }
    }

    pub fn len(&self) -> usize {
        self.ids.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    pub fn model(&self) -> &ModelId {
        &self.model
    }

    fn check(&self, template: &Template) -> Result<()> {
        if template.model() != &self.model || template.dim() != self.dim {
            return Err(MatcherError::ModelMismatch(
                self.model.to_string(),
                template.model().to_string(),
            ));
        }
        Ok(())
    }

    /// Enrols a template under `id` (several templates may share an id).
    pub fn add(&mut self, id: impl Into<String>, template: &Template) -> Result<()> {
        self.check(template)?;
        self.ids.push(id.into());
        self.rows.extend_from_slice(template.embedding());
        Ok(())
    }

    /// The `k` most similar enrolments, best first.
    pub fn top_k(&self, probe: &Template, k: usize) -> Result<Vec<Candidate>> {
        self.check(probe)?;
        if k == 0 || self.is_empty() {
            return Ok(Vec::new());
        }
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
        let per_part = self.len().div_ceil(threads).max(4096);
        let query = probe.embedding();
        let parts: Vec<Vec<Kept>> = std::thread::scope(|s| {
            let handles: Vec<_> = self
                .rows
                .chunks(per_part * self.dim)
                .enumerate()
                .map(|(part, rows)| {
                    s.spawn(move || top_k_rows(rows, self.dim, query, k, part * per_part))
                })
                .collect();
            handles
                .into_iter()
                // A panic while scoring is a bug: re-raise it rather than lose candidates.
                .map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
                .collect()
        });
        let mut all: Vec<Kept> = parts.into_iter().flatten().collect();
        // Ascending in `Kept` order is best score first.
        all.sort();
        all.truncate(k);
        Ok(all
            .into_iter()
            .map(|c| Candidate {
                index: c.index,
                id: self.ids[c.index].clone(),
                score: c.score,
            })
            .collect())
    }
}

fn top_k_rows(rows: &[f32], dim: usize, query: &[f32], k: usize, offset: usize) -> Vec<Kept> {
    let mut heap: BinaryHeap<Kept> = BinaryHeap::with_capacity(k + 1);
    for (i, row) in rows.chunks_exact(dim).enumerate() {
        let score = dot(row, query);
        if heap.len() < k {
            heap.push(Kept {
                score,
                index: offset + i,
            });
        } else if heap.peek().is_some_and(|worst| score > worst.score) {
            heap.pop();
            heap.push(Kept {
                score,
                index: offset + i,
            });
        }
    }
    heap.into_vec()
}

/// Deterministic pseudo-random unit templates for tests and the benchmark (xorshift, so no
/// dependency and the same gallery on every machine).
pub fn synthetic_templates(model: &ModelId, dim: usize, count: usize, seed: u64) -> Vec<Template> {
    let mut state = seed.max(1);
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        // Uniform in [-1, 1): sums of such values are close enough to Gaussian directions
        // for a benchmark.
        ((state >> 40) as f32 / (1u64 << 23) as f32) - 1.0
    };
    (0..count)
        .filter_map(|_| Template::new(model.clone(), (0..dim).map(|_| next()).collect()).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn model() -> ModelId {
        ModelId::new("test", 1)
    }

    #[test]
    fn finds_the_enrolled_template_first() {
        let templates = synthetic_templates(&model(), 16, 10_000, 7);
        let mut g = Gallery::new(model(), 16);
        for (i, t) in templates.iter().enumerate() {
            g.add(format!("user{i}"), t).unwrap();
        }
        let hits = g.top_k(&templates[1234], 5).unwrap();
        assert_eq!(hits.len(), 5);
        assert_eq!(hits[0].id, "user1234");
        assert!((hits[0].score - 1.0).abs() < 1e-5);
        assert!(hits.windows(2).all(|w| w[0].score >= w[1].score));
    }

    #[test]
    fn top_k_equals_a_full_sort() {
        let templates = synthetic_templates(&model(), 8, 20_000, 3);
        let mut g = Gallery::new(model(), 8);
        for (i, t) in templates.iter().enumerate() {
            g.add(i.to_string(), t).unwrap();
        }
        let probe = &synthetic_templates(&model(), 8, 1, 99)[0];
        let mut all: Vec<(usize, f32)> = templates
            .iter()
            .enumerate()
            .map(|(i, t)| (i, t.cosine(probe).unwrap()))
            .collect();
        all.sort_by(|a, b| b.1.total_cmp(&a.1));
        let hits = g.top_k(probe, 10).unwrap();
        let expected: Vec<usize> = all[..10].iter().map(|x| x.0).collect();
        let got: Vec<usize> = hits.iter().map(|h| h.index).collect();
        assert_eq!(got, expected);
    }

    #[test]
    fn small_galleries_and_k_larger_than_gallery() {
        let templates = synthetic_templates(&model(), 4, 3, 5);
        let mut g = Gallery::new(model(), 4);
        assert!(g.top_k(&templates[0], 3).unwrap().is_empty());
        for t in &templates {
            g.add("x", t).unwrap();
        }
        assert_eq!(g.top_k(&templates[0], 10).unwrap().len(), 3);
        assert!(g.top_k(&templates[0], 0).unwrap().is_empty());
    }

    #[test]
    fn rejects_other_models() {
        let mut g = Gallery::new(model(), 4);
        let other = Template::new(ModelId::new("other", 1), vec![1.0; 4]).unwrap();
        assert!(g.add("x", &other).is_err());
        assert!(g.top_k(&other, 1).is_err());
    }
}
