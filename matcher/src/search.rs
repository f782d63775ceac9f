//! 1:N identification: exhaustive cosine search over an in-memory gallery.
//!
//! Templates are stored contiguously (one row per enrolment) twice: as `f32` for exact
//! scores and as 8-bit codes (one scale per row) that a search scans, a quarter of the
//! memory traffic. The scan keeps a shortlist by approximate score, split over the
//! available cores; the shortlist is then scored exactly. The result is exact: the
//! quantisation error of every row is bounded, and when that bound could let a row
//! outside the shortlist beat the k-th exact score, the search falls back to a full
//! exact pass.

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
    codes: Vec<i8>,
    /// Per row: the scale of its codes, and the L1 norm of its values (for the error bound).
    scales: Vec<f32>,
    l1: Vec<f32>,
    /// The largest `scale` and `l1` of any row.
    max_scale: f32,
    max_l1: f32,
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

/// The best `k` of scored rows, kept in a heap whose top is the worst kept.
struct TopK {
    k: usize,
    heap: BinaryHeap<Kept>,
}

impl TopK {
    fn new(k: usize) -> Self {
        Self {
            k,
            heap: BinaryHeap::with_capacity(k + 1),
        }
    }

    fn offer(&mut self, score: f32, index: usize) {
        if self.heap.len() < self.k {
            self.heap.push(Kept { score, index });
        } else if self.heap.peek().is_some_and(|worst| score > worst.score) {
            self.heap.pop();
            self.heap.push(Kept { score, index });
        }
    }
}

/// 8-bit codes of a row and their scale: `value ≈ code * scale`.
fn quantise(values: &[f32]) -> (Vec<i8>, f32) {
    let max = values.iter().fold(0f32, |m, v| m.max(v.abs()));
    let scale = if max > 0.0 { max / 127.0 } else { 1.0 };
    let codes = values
        .iter()
        .map(|v| (v / scale).round().clamp(-127.0, 127.0) as i8)
        .collect();
    (codes, scale)
}

/// Cannot overflow (127² · 65,535 < 2³¹): wrapping only so that overflow checks of a debug
/// build do not stop the loop from being vectorised.
#[inline(always)]
fn dot_i8(a: &[i8], b: &[i8]) -> i32 {
    a.iter().zip(b).fold(0i32, |acc, (&x, &y)| {
        acc.wrapping_add(i32::from(x) * i32::from(y))
    })
}

/// Calls `each` with every row's index and its dot product with `query`, using AVX2 where
/// the processor has it.
fn scan_codes(rows: &[i8], dim: usize, query: &[i8], each: impl FnMut(usize, i32)) {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the processor has AVX2, checked just above.
        return unsafe { scan_codes_avx2(rows, dim, query, each) };
    }
    scan_codes_portable(rows, dim, query, each)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn scan_codes_avx2(rows: &[i8], dim: usize, query: &[i8], each: impl FnMut(usize, i32)) {
    scan_codes_portable(rows, dim, query, each)
}

#[inline(always)]
fn scan_codes_portable(rows: &[i8], dim: usize, query: &[i8], mut each: impl FnMut(usize, i32)) {
    for (i, row) in rows.chunks_exact(dim).enumerate() {
        each(i, dot_i8(row, query));
    }
}

/// How many rows a search keeps by approximate score before scoring them exactly.
fn shortlist(k: usize) -> usize {
    (k * 16).max(256)
}

impl Gallery {
    pub fn new(model: ModelId, dim: usize) -> Self {
        Self::with_capacity(model, dim, 0)
    }

    pub fn with_capacity(model: ModelId, dim: usize, capacity: usize) -> Self {
        Self {
            model,
            dim,
            ids: Vec::with_capacity(capacity),
            rows: Vec::with_capacity(capacity * dim),
            codes: Vec::with_capacity(capacity * dim),
            scales: Vec::with_capacity(capacity),
            l1: Vec::with_capacity(capacity),
            max_scale: 0.0,
            max_l1: 0.0,
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
        let values = template.embedding();
        let (codes, scale) = quantise(values);
        let l1: f32 = values.iter().map(|v| v.abs()).sum();
        self.ids.push(id.into());
        self.rows.extend_from_slice(values);
        self.codes.extend_from_slice(&codes);
        self.scales.push(scale);
        self.l1.push(l1);
        self.max_scale = self.max_scale.max(scale);
        self.max_l1 = self.max_l1.max(l1);
        Ok(())
    }

    /// Keeps only the enrolments whose id `keep` accepts, in their order; returns how many
    /// were removed.
    pub fn retain(&mut self, mut keep: impl FnMut(&str) -> bool) -> usize {
        let (dim, before) = (self.dim, self.len());
        let mut kept = 0;
        for i in 0..before {
            if !keep(&self.ids[i]) {
                continue;
            }
            if kept != i {
                self.ids.swap(kept, i);
                self.rows.copy_within(i * dim..(i + 1) * dim, kept * dim);
                self.codes.copy_within(i * dim..(i + 1) * dim, kept * dim);
                self.scales[kept] = self.scales[i];
                self.l1[kept] = self.l1[i];
            }
            kept += 1;
        }
        self.ids.truncate(kept);
        self.rows.truncate(kept * dim);
        self.codes.truncate(kept * dim);
        self.scales.truncate(kept);
        self.l1.truncate(kept);
        before - kept
    }

    /// The `k` most similar enrolments, best first.
    pub fn top_k(&self, probe: &Template, k: usize) -> Result<Vec<Candidate>> {
        self.check(probe)?;
        if k == 0 || self.is_empty() {
            return Ok(Vec::new());
        }
        let query = probe.embedding();
        let (q_codes, q_scale) = quantise(query);
        let q_l1: f32 = query.iter().map(|v| v.abs()).sum();
        let short = shortlist(k);
        let mut approximate = self.scan(&self.codes, |offset, rows| {
            let mut top = TopK::new(short);
            scan_codes(rows, self.dim, &q_codes, |i, dot| {
                let at = offset + i;
                top.offer(dot as f32 * self.scales[at] * q_scale, at);
            });
            top.heap.into_vec()
        });
        // The parts' shortlists merged into one (ascending `Kept` is best first): every row
        // left out scored at most the lowest approximate score kept.
        approximate.sort();
        approximate.truncate(short);
        // The shortlist scored exactly.
        let mut exact: Vec<Kept> = approximate
            .iter()
            .map(|c| Kept {
                score: dot(self.row(c.index), query),
                index: c.index,
            })
            .collect();
        exact.sort();
        exact.truncate(k);
        // A row left out scored at most the lowest approximate score kept, and its exact
        // score differs from its approximate one by at most `bound` (plus rounding). If
        // that could beat the k-th exact score, score every row exactly.
        let bound = 0.5 * self.max_scale * q_l1
            + 0.5 * q_scale * self.max_l1
            + 0.25 * self.max_scale * q_scale * self.dim as f32
            + 1e-4;
        let complete = self.len() <= short
            || approximate.last().is_some_and(|lowest| {
                exact.len() == k && lowest.score + bound < exact[k - 1].score
            });
        if !complete {
            exact = self.exact_top_k(query, k);
        }
        Ok(exact
            .into_iter()
            .map(|c| Candidate {
                index: c.index,
                id: self.ids[c.index].clone(),
                score: c.score,
            })
            .collect())
    }

    fn row(&self, index: usize) -> &[f32] {
        &self.rows[index * self.dim..(index + 1) * self.dim]
    }

    /// The exact top `k` by a full pass over the `f32` rows.
    fn exact_top_k(&self, query: &[f32], k: usize) -> Vec<Kept> {
        let mut all = self.scan(&self.rows, |offset, rows| {
            let mut top = TopK::new(k);
            for (i, row) in rows.chunks_exact(self.dim).enumerate() {
                top.offer(dot(row, query), offset + i);
            }
            top.heap.into_vec()
        });
        all.sort();
        all.truncate(k);
        all
    }

    /// Runs `part` on `data` (rows of `dim` values) split across the cores, each part
    /// given its first row's index; the parts' results together.
    fn scan<T: Sync>(
        &self,
        data: &[T],
        part: impl Fn(usize, &[T]) -> Vec<Kept> + Sync,
    ) -> Vec<Kept> {
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
        let per_part = self.len().div_ceil(threads).max(4096);
        let part = &part;
        std::thread::scope(|s| {
            let handles: Vec<_> = data
                .chunks(per_part * self.dim)
                .enumerate()
                .map(|(i, rows)| s.spawn(move || part(i * per_part, rows)))
                .collect();
            handles
                .into_iter()
                // A panic while scoring is a bug: re-raise it rather than lose candidates.
                .flat_map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
                .collect()
        })
    }
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

    /// The exact top k by sorting every score.
    fn sorted(templates: &[Template], probe: &Template, k: usize) -> Vec<usize> {
        let mut all: Vec<(usize, f32)> = templates
            .iter()
            .enumerate()
            .map(|(i, t)| (i, t.cosine(probe).unwrap()))
            .collect();
        all.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        all[..k].iter().map(|x| x.0).collect()
    }

    #[test]
    fn the_quantised_scan_finds_the_exact_top_k_at_full_dimension() {
        let templates = synthetic_templates(&model(), 128, 30_000, 11);
        let mut g = Gallery::new(model(), 128);
        for (i, t) in templates.iter().enumerate() {
            g.add(i.to_string(), t).unwrap();
        }
        for probe in synthetic_templates(&model(), 128, 5, 42)
            .iter()
            .chain(&templates[..3])
        {
            let hits = g.top_k(probe, 10).unwrap();
            let got: Vec<usize> = hits.iter().map(|h| h.index).collect();
            assert_eq!(got, sorted(&templates, probe, 10));
            for h in &hits {
                assert_eq!(h.score, templates[h.index].cosine(probe).unwrap());
            }
        }
    }

    #[test]
    fn near_duplicates_beyond_the_shortlist_fall_back_to_an_exact_pass() {
        // A thousand templates within quantisation error of each other: the approximate
        // scores cannot order them, the exact pass must.
        let base = &synthetic_templates(&model(), 128, 1, 5)[0];
        let noise = synthetic_templates(&model(), 128, 1000, 6);
        let templates: Vec<Template> = noise
            .iter()
            .map(|n| {
                let v = base
                    .embedding()
                    .iter()
                    .zip(n.embedding())
                    .map(|(b, e)| b + 1e-3 * e)
                    .collect();
                Template::new(model(), v).unwrap()
            })
            .collect();
        let mut g = Gallery::new(model(), 128);
        for (i, t) in templates.iter().enumerate() {
            g.add(i.to_string(), t).unwrap();
        }
        let got: Vec<usize> = g.top_k(base, 5).unwrap().iter().map(|h| h.index).collect();
        assert_eq!(got, sorted(&templates, base, 5));
    }

    #[test]
    fn retained_enrolments_are_still_found_and_removed_ones_are_not() {
        let templates = synthetic_templates(&model(), 16, 5_000, 8);
        let mut g = Gallery::new(model(), 16);
        for (i, t) in templates.iter().enumerate() {
            g.add(format!("user{}", i % 1000), t).unwrap();
        }
        assert_eq!(g.retain(|id| id != "user7"), 5);
        assert_eq!(g.len(), 4_995);
        assert_ne!(g.top_k(&templates[7], 1).unwrap()[0].id, "user7");
        let hit = &g.top_k(&templates[4321], 1).unwrap()[0];
        assert_eq!(hit.id, "user321");
        assert!((hit.score - 1.0).abs() < 1e-5);
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
