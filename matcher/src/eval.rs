//! Verification error rates from labelled scores: FMR/FNMR at a threshold, the threshold
//! for a target FMR, the equal error rate, and upper confidence bounds so that small
//! evaluations never claim a rate their pair counts cannot support.

use serde::Serialize;

/// Scores of all genuine (same identity) and impostor (different identity) pairs.
#[derive(Debug, Clone, Default)]
pub struct PairScores {
    pub genuine: Vec<f32>,
    pub impostor: Vec<f32>,
}

/// All unordered pairs of `samples` (identity, score function input) scored by `score`.
pub fn score_pairs<T>(samples: &[(String, T)], score: impl FnMut(&T, &T) -> f32) -> PairScores {
    let mut out = PairScores::default();
    each_pair(samples, score, |_, _, same, s| out.push(same, s));
    out
}

/// Calls `visit(i, j, same identity, score)` for every unordered pair of `samples`.
fn each_pair<T>(
    samples: &[(String, T)],
    mut score: impl FnMut(&T, &T) -> f32,
    mut visit: impl FnMut(usize, usize, bool, f32),
) {
    for i in 0..samples.len() {
        for j in i + 1..samples.len() {
            let s = score(&samples[i].1, &samples[j].1);
            visit(i, j, samples[i].0 == samples[j].0, s);
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct OperatingPoint {
    pub threshold: f32,
    /// Impostor pairs accepted (score >= threshold) / impostor pairs.
    pub fmr: f64,
    /// Genuine pairs rejected (score < threshold) / genuine pairs.
    pub fnmr: f64,
    pub false_matches: usize,
    pub false_non_matches: usize,
    /// One-sided 95% upper bounds (Clopper-Pearson) of the two rates.
    pub fmr_upper_95: f64,
    pub fnmr_upper_95: f64,
}

impl PairScores {
    /// Adds one pair's score; a NaN score means "not a pair" and is left out (a
    /// cross-capture evaluation scores only document-to-live pairs this way).
    fn push(&mut self, same_identity: bool, score: f32) {
        if score.is_nan() {
            return;
        }
        if same_identity {
            self.genuine.push(score);
        } else {
            self.impostor.push(score);
        }
    }

    pub fn at(&self, threshold: f32) -> OperatingPoint {
        let fm = self.impostor.iter().filter(|&&s| s >= threshold).count();
        let fnm = self.genuine.iter().filter(|&&s| s < threshold).count();
        OperatingPoint {
            threshold,
            fmr: rate(fm, self.impostor.len()),
            fnmr: rate(fnm, self.genuine.len()),
            false_matches: fm,
            false_non_matches: fnm,
            fmr_upper_95: upper_bound_95(fm, self.impostor.len()),
            fnmr_upper_95: upper_bound_95(fnm, self.genuine.len()),
        }
    }

    /// The lowest threshold whose observed FMR is at most `target`. When the data has too
    /// few impostor pairs to observe `target` (fewer than 1/target), this is the lowest
    /// threshold with no false match at all, and the bound tells what is really supported.
    pub fn threshold_for_fmr(&self, target: f64) -> OperatingPoint {
        let mut imp = self.impostor.clone();
        imp.sort_by(|a, b| b.total_cmp(a));
        let allowed = (target * imp.len() as f64).floor() as usize;
        // Accepting the `allowed` highest impostor scores at most: the threshold sits just
        // above the next one.
        let threshold = match imp.get(allowed) {
            Some(&s) => next_up(s),
            None => f32::NEG_INFINITY,
        };
        self.at(threshold)
    }

    /// Equal error rate: the mean of FMR and FNMR where they are closest.
    pub fn eer(&self) -> (f64, f32) {
        let sweep = Sweep::new(self);
        let mut best = (f64::INFINITY, 0.0, f32::NAN);
        for &t in &sweep.thresholds {
            let (fmr, fnmr) = sweep.rates_at(t);
            let gap = (fmr - fnmr).abs();
            if gap < best.0 {
                best = (gap, (fmr + fnmr) / 2.0, t);
            }
        }
        (best.1, best.2)
    }

    /// (FMR, FNMR) at every distinct score, for a DET curve.
    pub fn det_curve(&self) -> Vec<(f64, f64)> {
        let sweep = Sweep::new(self);
        sweep
            .thresholds
            .iter()
            .map(|&t| sweep.rates_at(t))
            .collect()
    }
}

/// Sorted scores, so that the error rates at every candidate threshold cost a binary
/// search each: a sweep over a few hundred thousand pairs stays fast.
struct Sweep {
    genuine: Vec<f32>,
    impostor: Vec<f32>,
    /// Every distinct score, ascending.
    thresholds: Vec<f32>,
}

impl Sweep {
    fn new(scores: &PairScores) -> Sweep {
        let sorted = |v: &[f32]| {
            let mut v = v.to_vec();
            v.sort_by(f32::total_cmp);
            v
        };
        let (genuine, impostor) = (sorted(&scores.genuine), sorted(&scores.impostor));
        let mut thresholds = sorted(&[genuine.as_slice(), impostor.as_slice()].concat());
        thresholds.dedup();
        Sweep {
            genuine,
            impostor,
            thresholds,
        }
    }

    fn rates_at(&self, t: f32) -> (f64, f64) {
        let below = |v: &[f32]| v.partition_point(|&s| s < t);
        let fm = self.impostor.len() - below(&self.impostor);
        let fnm = below(&self.genuine);
        (rate(fm, self.impostor.len()), rate(fnm, self.genuine.len()))
    }
}

/// Out-of-sample error rates: identities are dealt into `folds` groups; for each group the
/// threshold is chosen for `target_fmr` on the pairs of the other groups' people only and
/// applied to the pairs within the group. Rates pool the held-out errors of all groups.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CrossValidation {
    pub folds: usize,
    pub target_fmr: f64,
    /// Threshold chosen in each fold.
    pub thresholds: Vec<f32>,
    pub genuine_pairs: usize,
    pub impostor_pairs: usize,
    pub false_matches: usize,
    pub false_non_matches: usize,
    pub fmr: f64,
    pub fnmr: f64,
    pub fmr_upper_95: f64,
    pub fnmr_upper_95: f64,
    /// Each group's own figures: how far the pooled rates hide a group that fares badly.
    pub per_fold: Vec<FoldResult>,
}

/// One group of a cross-validation: the threshold learnt without its people, and the
/// error rates of its people's pairs at that threshold.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FoldResult {
    pub identities: usize,
    pub genuine_pairs: usize,
    pub impostor_pairs: usize,
    pub held_out: OperatingPoint,
}

/// Identity-disjoint `folds`-fold cross-validation of the threshold for `target_fmr`
/// (identities are dealt round-robin in name order, so the split is reproducible).
pub fn cross_validate<T>(
    samples: &[(String, T)],
    folds: usize,
    target_fmr: f64,
    score: impl FnMut(&T, &T) -> f32,
) -> CrossValidation {
    let folds = folds.max(2);
    let mut ids: Vec<&str> = samples.iter().map(|s| s.0.as_str()).collect();
    ids.sort_unstable();
    ids.dedup();
    let fold_of: Vec<usize> = samples
        .iter()
        .map(|s| ids.binary_search(&s.0.as_str()).unwrap_or(0) % folds)
        .collect();
    // train[f]: pairs with neither sample in fold f; test[f]: pairs with both in fold f.
    let mut train = vec![PairScores::default(); folds];
    let mut test = vec![PairScores::default(); folds];
    each_pair(samples, score, |i, j, same, s| {
        for (f, t) in train.iter_mut().enumerate() {
            if fold_of[i] != f && fold_of[j] != f {
                t.push(same, s);
            }
        }
        if fold_of[i] == fold_of[j] {
            test[fold_of[i]].push(same, s);
        }
    });
    let (mut thresholds, mut g, mut im, mut fm, mut fnm) = (Vec::new(), 0, 0, 0, 0);
    let mut per_fold = Vec::with_capacity(folds);
    for (f, (tr, te)) in train.iter().zip(&test).enumerate() {
        let t = tr.threshold_for_fmr(target_fmr).threshold;
        let p = te.at(t);
        thresholds.push(t);
        g += te.genuine.len();
        im += te.impostor.len();
        fm += p.false_matches;
        fnm += p.false_non_matches;
        per_fold.push(FoldResult {
            identities: (0..ids.len()).filter(|i| i % folds == f).count(),
            genuine_pairs: te.genuine.len(),
            impostor_pairs: te.impostor.len(),
            held_out: p,
        });
    }
    CrossValidation {
        folds,
        target_fmr,
        thresholds,
        genuine_pairs: g,
        impostor_pairs: im,
        false_matches: fm,
        false_non_matches: fnm,
        fmr: rate(fm, im),
        fnmr: rate(fnm, g),
        fmr_upper_95: upper_bound_95(fm, im),
        fnmr_upper_95: upper_bound_95(fnm, g),
        per_fold,
    }
}

/// How often synthetic speech tuned toward a person is accepted as that person.
///
/// The attacker holds one recording of each target (the target's first real sample) and a
/// set of synthetic voices (`synthetic`: voice id, utterance). For each target with at least
/// two real samples the attacker picks the voice whose utterances score highest, on
/// average, against that recording, then presents every utterance of that voice; each is
/// compared with each of the target's *other* real samples, so the recording used for
/// tuning is never scored. The rate counts accepted (utterance, sample) comparisons; trials
/// of one target are not independent, so `targets_fooled` is the figure to read beside it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SpoofAcceptance {
    pub threshold: f32,
    pub targets: usize,
    /// Targets for which at least one comparison was accepted.
    pub targets_fooled: usize,
    pub attempts: usize,
    pub accepted: usize,
    pub rate: f64,
    pub rate_upper_95: f64,
    /// Every synthetic utterance against every real sample, without tuning.
    pub untuned_attempts: usize,
    pub untuned_accepted: usize,
    pub untuned_rate: f64,
    pub per_target: Vec<SpoofTarget>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SpoofTarget {
    pub id: String,
    /// The synthetic voice the attacker chose, and its mean score against the recording.
    pub voice: String,
    pub tuning_score: f32,
    pub attempts: usize,
    pub accepted: usize,
    pub best_score: f32,
}

/// See [`SpoofAcceptance`]. Samples of one id are taken in the order given.
pub fn spoof_acceptance<T>(
    real: &[(String, T)],
    synthetic: &[(String, T)],
    threshold: f32,
    mut score: impl FnMut(&T, &T) -> f32,
) -> SpoofAcceptance {
    let (people, voices) = (by_identity(real), by_identity(synthetic));
    let (mut untuned_attempts, mut untuned_accepted) = (0, 0);
    for (_, utterances) in &voices {
        for u in utterances {
            for (_, samples) in &people {
                for s in samples {
                    untuned_attempts += 1;
                    untuned_accepted += usize::from(score(u, s) >= threshold);
                }
            }
        }
    }
    let mut per_target = Vec::new();
    for (id, samples) in people.iter().filter(|p| p.1.len() >= 2) {
        let recording = samples[0];
        let mut best: Option<(&str, &[&T], f32)> = None;
        for (voice, utterances) in &voices {
            let mean = utterances.iter().map(|u| score(u, recording)).sum::<f32>()
                / utterances.len().max(1) as f32;
            if best.is_none_or(|b| mean > b.2) {
                best = Some((voice, utterances, mean));
            }
        }
        let Some((voice, utterances, tuning_score)) = best else {
            continue;
        };
        let (mut attempts, mut accepted, mut best_score) = (0, 0, f32::NEG_INFINITY);
        for u in utterances {
            for s in &samples[1..] {
                let sc = score(u, s);
                attempts += 1;
                accepted += usize::from(sc >= threshold);
                best_score = best_score.max(sc);
            }
        }
        per_target.push(SpoofTarget {
            id: id.clone(),
            voice: voice.to_string(),
            tuning_score,
            attempts,
            accepted,
            best_score,
        });
    }
    let attempts = per_target.iter().map(|t| t.attempts).sum();
    let accepted = per_target.iter().map(|t| t.accepted).sum();
    SpoofAcceptance {
        threshold,
        targets: per_target.len(),
        targets_fooled: per_target.iter().filter(|t| t.accepted > 0).count(),
        attempts,
        accepted,
        rate: rate(accepted, attempts),
        rate_upper_95: upper_bound_95(accepted, attempts),
        untuned_attempts,
        untuned_accepted,
        untuned_rate: rate(untuned_accepted, untuned_attempts),
        per_target,
    }
}

/// Samples grouped by identity, identities and samples in the order first seen.
fn by_identity<T>(samples: &[(String, T)]) -> Vec<(String, Vec<&T>)> {
    let mut groups: Vec<(String, Vec<&T>)> = Vec::new();
    for (id, sample) in samples {
        match groups.iter_mut().find(|g| g.0 == *id) {
            Some(g) => g.1.push(sample),
            None => groups.push((id.clone(), vec![sample])),
        }
    }
    groups
}

fn next_up(x: f32) -> f32 {
    if x.is_nan() || x == f32::INFINITY {
        x
    } else if x == 0.0 {
        f32::from_bits(1)
    } else if x > 0.0 {
        f32::from_bits(x.to_bits() + 1)
    } else {
        f32::from_bits(x.to_bits() - 1)
    }
}

fn rate(k: usize, n: usize) -> f64 {
    if n == 0 {
        f64::NAN
    } else {
        k as f64 / n as f64
    }
}

/// One-sided 95% Clopper-Pearson upper bound of a rate with `k` errors in `n` trials
/// (for k = 0 it is 1 - 0.05^(1/n), about 3/n: the "rule of three").
pub fn upper_bound_95(k: usize, n: usize) -> f64 {
    if n == 0 {
        return 1.0;
    }
    if k >= n {
        return 1.0;
    }
    // Solve P(X <= k | n, p) = 0.05 for p by bisection.
    let (mut lo, mut hi) = (k as f64 / n as f64, 1.0f64);
    for _ in 0..100 {
        let mid = (lo + hi) / 2.0;
        if binomial_cdf(k, n, mid) > 0.05 {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    hi
}

fn binomial_cdf(k: usize, n: usize, p: f64) -> f64 {
    if p <= 0.0 {
        return 1.0;
    }
    if p >= 1.0 {
        return if k >= n { 1.0 } else { 0.0 };
    }
    // log of C(n, i) p^i (1-p)^(n-i), accumulated term by term.
    let (lp, lq) = (p.ln(), (1.0 - p).ln());
    let mut log_term = n as f64 * lq;
    let mut sum = log_term.exp();
    for i in 1..=k {
        log_term += ((n - i + 1) as f64 / i as f64).ln() + lp - lq;
        sum += log_term.exp();
    }
    sum.min(1.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rule_of_three_for_zero_errors() {
        let b = upper_bound_95(0, 700);
        assert!((b - (1.0 - 0.05f64.powf(1.0 / 700.0))).abs() < 1e-9);
        assert!((b - 3.0 / 700.0).abs() < 2e-4);
    }

    #[test]
    fn clopper_pearson_with_errors() {
        // Known value: 2 errors in 100 -> 0.0615 (one-sided 95%).
        assert!((upper_bound_95(2, 100) - 0.0615).abs() < 5e-4);
        assert_eq!(upper_bound_95(5, 5), 1.0);
    }

    #[test]
    fn rates_and_thresholds() {
        let s = PairScores {
            genuine: vec![0.9, 0.8, 0.7, 0.4],
            impostor: vec![0.1, 0.2, 0.3, 0.5, 0.6],
        };
        let p = s.at(0.5);
        assert_eq!((p.false_matches, p.false_non_matches), (2, 1));
        assert!((p.fmr - 0.4).abs() < 1e-12 && (p.fnmr - 0.25).abs() < 1e-12);
        // Target below 1/5: no impostor may pass; threshold just above 0.6.
        let q = s.threshold_for_fmr(1e-4);
        assert_eq!(q.false_matches, 0);
        assert!(q.threshold > 0.6 && q.threshold < 0.6001);
        assert_eq!(q.false_non_matches, 1);
        // Target 0.2 allows one impostor: threshold just above 0.5.
        let r = s.threshold_for_fmr(0.2);
        assert_eq!(r.false_matches, 1);
        let (eer, _) = s.eer();
        assert!(eer > 0.0 && eer < 0.5);
        // The sorted sweep agrees with counting at every threshold.
        let curve = s.det_curve();
        assert_eq!(curve.len(), 9);
        let mut ts: Vec<f32> = s.genuine.iter().chain(&s.impostor).copied().collect();
        ts.sort_by(f32::total_cmp);
        for (t, (fmr, fnmr)) in ts.into_iter().zip(curve) {
            let p = s.at(t);
            assert_eq!((p.fmr, p.fnmr), (fmr, fnmr));
        }
    }

    #[test]
    fn cross_validation_holds_identities_out() {
        // Four people; a and c score high with each other (a look-alike pair), so a
        // threshold learnt without them lets their impostor pair through on test.
        let samples: Vec<(String, (char, u8))> = ["a", "a", "b", "b", "c", "c", "d", "d"]
            .iter()
            .enumerate()
            .map(|(i, id)| (id.to_string(), (id.chars().next().unwrap_or('?'), i as u8)))
            .collect();
        let score = |x: &(char, u8), y: &(char, u8)| match (x.0, y.0) {
            (p, q) if p == q => 0.9,
            ('a', 'c') | ('c', 'a') => 0.95,
            _ => 0.1,
        };
        let cv = cross_validate(&samples, 2, 1e-4, score);
        // Folds: {a, c} and {b, d}. Fold 0 learns from b, d only (impostor max 0.1).
        assert_eq!(cv.thresholds.len(), 2);
        assert!(cv.thresholds[0] > 0.1 && cv.thresholds[0] < 0.11);
        assert_eq!(cv.genuine_pairs, 4);
        // a-c impostors (4 pairs) are tested in fold 0, b-d (4 pairs) in fold 1.
        assert_eq!(cv.impostor_pairs, 8);
        assert_eq!(cv.false_matches, 4);
        // Fold 1 learns from a, c, whose look-alike impostors push its threshold above
        // 0.95: b's and d's genuine pairs (0.9) are rejected.
        assert!(cv.thresholds[1] > 0.95);
        assert_eq!(cv.false_non_matches, 2);
        assert!((cv.fmr - 0.5).abs() < 1e-12);
    }

    #[test]
    fn folds_report_their_own_rates() {
        let samples: Vec<(String, f32)> = ["a", "a", "b", "b", "c", "c"]
            .iter()
            .enumerate()
            .map(|(i, id)| (id.to_string(), i as f32))
            .collect();
        // Same person 0.9, different people 0.2: no fold makes an error.
        let score = |x: &f32, y: &f32| {
            if (*x as usize) / 2 == (*y as usize) / 2 {
                0.9
            } else {
                0.2
            }
        };
        let cv = cross_validate(&samples, 3, 1e-4, score);
        assert_eq!(cv.per_fold.len(), 3);
        for f in &cv.per_fold {
            assert_eq!((f.identities, f.genuine_pairs, f.impostor_pairs), (1, 1, 0));
            assert_eq!(f.held_out.false_non_matches, 0);
        }
    }

    #[test]
    fn spoofing_picks_the_closest_voice_and_never_scores_the_tuning_recording() {
        // Real: a0 (the attacker's recording), a1, a2; b0, b1. Synthetic voices x and y.
        let real: Vec<(String, &str)> = [("a", "a0"), ("a", "a1"), ("a", "a2"), ("b", "b0")]
            .iter()
            .chain(&[("b", "b1")])
            .map(|(i, s)| (i.to_string(), *s))
            .collect();
        let synthetic: Vec<(String, &str)> = [("x", "x1"), ("x", "x2"), ("y", "y1")]
            .iter()
            .map(|(i, s)| (i.to_string(), *s))
            .collect();
        let score = |u: &&str, s: &&str| match (*u, *s) {
            // y sounds like a's recording a0 (and would pass on it), but not like a1/a2.
            ("y1", "a0") => 0.99,
            ("y1", _) => 0.5,
            ("x1" | "x2", "a0") => 0.7,
            ("x1", "a1") => 0.95,
            ("x1" | "x2", "b0") => 0.8,
            ("x2", "b1") => 0.85,
            _ => 0.1,
        };
        let r = spoof_acceptance(&real, &synthetic, 0.9, score);
        assert_eq!(r.targets, 2);
        let a = &r.per_target[0];
        assert_eq!((a.voice.as_str(), a.attempts, a.accepted), ("y", 2, 0));
        let b = &r.per_target[1];
        assert_eq!((b.voice.as_str(), b.attempts, b.accepted), ("x", 2, 0));
        assert_eq!((r.accepted, r.targets_fooled), (0, 0));
        // Untuned, x1 against a1 (0.95) and y1 against a0 (0.99) pass.
        assert_eq!((r.untuned_attempts, r.untuned_accepted), (15, 2));
        let lower = spoof_acceptance(&real, &synthetic, 0.8, score);
        assert_eq!((lower.accepted, lower.targets_fooled), (1, 1));
    }

    #[test]
    fn pairs_scored_nan_are_not_pairs() {
        // Samples of two kinds; only pairs of different kinds are scored.
        let samples: Vec<(String, (bool, f32))> = [("a", true), ("a", false), ("b", false)]
            .iter()
            .enumerate()
            .map(|(i, (id, doc))| (id.to_string(), (*doc, i as f32)))
            .collect();
        let score = |x: &(bool, f32), y: &(bool, f32)| {
            if x.0 == y.0 {
                f32::NAN
            } else {
                0.5 + x.1 + y.1
            }
        };
        let s = score_pairs(&samples, score);
        assert_eq!(s.genuine, vec![1.5]);
        assert_eq!(s.impostor, vec![2.5]);
        let cv = cross_validate(&samples, 2, 1e-4, score);
        assert_eq!(cv.genuine_pairs + cv.impostor_pairs, 1);
        assert!(cv.thresholds.iter().all(|t| !t.is_nan()));
    }

    #[test]
    fn pairs_are_split_by_identity() {
        let samples = vec![
            ("a".to_string(), 1.0f32),
            ("a".to_string(), 2.0),
            ("b".to_string(), 3.0),
        ];
        let s = score_pairs(&samples, |x, y| x * y);
        assert_eq!(s.genuine, vec![2.0]);
        assert_eq!(s.impostor, vec![3.0, 6.0]);
    }
}
