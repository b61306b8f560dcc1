//! From candidates to negatives: masking, the score filters with their counters, the rank
//! window and top or random sampling, in sentence-transformers' order.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use super::candidates::Candidates;
use super::params::{MineParams, ResolvedParams, Sampling};
use super::texts::MiningTexts;

/// A filter that skips candidate negatives, in the order they are applied and reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Filter {
    AbsoluteMargin,
    RelativeMargin,
    MaxScore,
    MinScore,
}

impl Filter {
    /// The parameter's name.
    pub fn name(self) -> &'static str {
        match self {
            Filter::AbsoluteMargin => "absolute_margin",
            Filter::RelativeMargin => "relative_margin",
            Filter::MaxScore => "max_score",
            Filter::MinScore => "min_score",
        }
    }
}

/// How many candidates one filter skipped.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SkippedCandidates {
    pub filter: Filter,
    /// The parameter's value.
    pub value: f64,
    pub skipped: usize,
    /// `skipped` over the candidates left when the filter ran. As in sentence-transformers,
    /// the count starts at all `queries × candidate_count` slots (padding and masked ones
    /// included) and only the margins lower it, so `min_score`'s ratio still counts what
    /// `max_score` skipped.
    pub ratio: f64,
}

/// The negatives picked for each unique query.
///
/// # Shapes
/// `scores`, `indices`: `[queries, num_negatives]`, row-major, each row by descending score.
/// Slots without a valid negative hold score `-inf` (their index is meaningless) and are
/// dropped by the output formats.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Selection {
    pub scores: Vec<f32>,
    pub indices: Vec<i64>,
    pub width: usize,
    pub skipped: Vec<SkippedCandidates>,
}

impl Selection {
    pub(crate) fn row(&self, query: usize) -> impl Iterator<Item = (i64, f32)> + '_ {
        let range = query * self.width..(query + 1) * self.width;
        self.indices[range.clone()]
            .iter()
            .copied()
            .zip(self.scores[range].iter().copied())
    }
}

/// Applies everything after the candidate search. `positive_scores` holds each query's
/// positive scores in [`MiningTexts::positives_of`] order, queries in order.
pub(crate) fn select(
    texts: &MiningTexts,
    candidates: Candidates,
    positive_scores: &[f32],
    params: &MineParams,
    resolved: &ResolvedParams,
) -> Selection {
    let Candidates {
        mut scores,
        indices,
        width,
        ..
    } = candidates;
    mask_excluded(
        texts,
        &mut scores,
        &indices,
        width,
        params.include_positives,
    );

    let mut skipped = Vec::new();
    let mut num_candidates = scores.len();
    if params.absolute_margin.is_some() || params.relative_margin.is_some() {
        // With several positives, the margin is taken from the hardest (lowest-scoring) one.
        let min_positive = min_positive_scores(texts, positive_scores);
        if let Some(margin) = params.absolute_margin {
            // float32 arithmetic, as torch adds a Python float to a float32 tensor
            let m = margin as f32;
            let n = remove(&mut scores, width, |row, s| s + m > min_positive[row]);
            if n > 0 {
                skipped.push(counter(Filter::AbsoluteMargin, margin, n, num_candidates));
                num_candidates -= n;
            }
        }
        if let Some(margin) = params.relative_margin {
            // p - |p| * m rather than p * (1 - m): the latter raises the threshold for a
            // negative positive score (sentence-transformers #3819).
            let m = margin as f32;
            let threshold: Vec<f32> = min_positive.iter().map(|p| p - p.abs() * m).collect();
            let n = remove(&mut scores, width, |row, s| s > threshold[row]);
            if n > 0 {
                skipped.push(counter(Filter::RelativeMargin, margin, n, num_candidates));
                num_candidates -= n;
            }
        }
    }
    if let Some(max_score) = params.max_score {
        let max = max_score as f32;
        let n = remove(&mut scores, width, |_, s| s > max);
        if n > 0 {
            // Python does not lower the count after max_score.
            skipped.push(counter(Filter::MaxScore, max_score, n, num_candidates));
        }
    }
    if let Some(min_score) = params.min_score {
        let min = min_score as f32;
        let n = remove(&mut scores, width, |_, s| s < min && s != f32::NEG_INFINITY);
        if n > 0 {
            skipped.push(counter(Filter::MinScore, min_score, n, num_candidates));
        }
    }

    let mut rng = ChaCha8Rng::seed_from_u64(params.seed);
    let n = resolved.num_negatives;
    let mut out_scores = Vec::with_capacity(texts.queries().len() * n);
    let mut out_indices = Vec::with_capacity(texts.queries().len() * n);
    for (row_scores, row_indices) in scores.chunks_exact(width).zip(indices.chunks_exact(width)) {
        let mut order: Vec<usize> = (0..width).collect();
        // stable: equal scores keep the candidate order (torch.topk leaves ties unspecified)
        order.sort_by(|&a, &b| row_scores[b].total_cmp(&row_scores[a]));
        order.truncate(resolved.range_max);
        let window = &order[resolved.range_min..];
        let mut picked: Vec<usize> = match params.sampling {
            Sampling::Top => window[..n].to_vec(),
            Sampling::Random => {
                let valid = window
                    .iter()
                    .filter(|&&c| row_scores[c].is_finite())
                    .count();
                // -inf slots sort last, so positions below `valid` are real candidates; with
                // too few, -inf slots are drawn too and dropped later (as in Python).
                let options = valid.max(n);
                rand::seq::index::sample(&mut rng, options, n)
                    .into_iter()
                    .map(|p| window[p])
                    .collect()
            }
        };
        picked.sort_by(|&a, &b| row_scores[b].total_cmp(&row_scores[a]));
        out_scores.extend(picked.iter().map(|&c| row_scores[c]));
        out_indices.extend(picked.iter().map(|&c| row_indices[c]));
    }
    Selection {
        scores: out_scores,
        indices: out_indices,
        width: n,
        skipped,
    }
}

/// Sets padding slots, the query's own corpus entry and (unless positives are included) the
/// query's positives to `-inf`.
fn mask_excluded(
    texts: &MiningTexts,
    scores: &mut [f32],
    indices: &[i64],
    width: usize,
    include_positives: bool,
) {
    let rows = scores
        .chunks_exact_mut(width)
        .zip(indices.chunks_exact(width));
    for (query, (row_scores, row_indices)) in rows.enumerate() {
        // A query that is its own positive keeps its corpus entry when positives are kept.
        let own = texts
            .query_in_corpus(query)
            .filter(|_| !(include_positives && texts.query_is_own_positive(query)));
        let positives = texts.positives_of(query);
        for (score, &index) in row_scores.iter_mut().zip(row_indices) {
            let Ok(corpus_index) = usize::try_from(index) else {
                *score = f32::NEG_INFINITY;
                continue;
            };
            if own == Some(corpus_index)
                || (!include_positives && positives.contains(&corpus_index))
            {
                *score = f32::NEG_INFINITY;
            }
        }
    }
}

/// Each query's lowest positive score.
fn min_positive_scores(texts: &MiningTexts, positive_scores: &[f32]) -> Vec<f32> {
    let mut start = 0;
    (0..texts.queries().len())
        .map(|query| {
            let end = start + texts.positives_of(query).len();
            let min = positive_scores[start..end]
                .iter()
                .copied()
                .fold(f32::INFINITY, f32::min);
            start = end;
            min
        })
        .collect()
}

/// Sets the scores where `skip(row, score)` holds to `-inf`; returns how many.
fn remove(scores: &mut [f32], width: usize, skip: impl Fn(usize, f32) -> bool) -> usize {
    let mut n = 0;
    for (row, row_scores) in scores.chunks_exact_mut(width).enumerate() {
        for score in row_scores {
            if skip(row, *score) {
                *score = f32::NEG_INFINITY;
                n += 1;
            }
        }
    }
    n
}

fn counter(filter: Filter, value: f64, skipped: usize, of: usize) -> SkippedCandidates {
    SkippedCandidates {
        filter,
        value,
        skipped,
        ratio: skipped as f64 / of as f64,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mine::candidates::top_candidates;
    use crate::mine::texts::TextColumn;
    use tch::Tensor;

    /// A unit vector at `degrees` in the plane: the dot product of two is the cosine of the
    /// angle between them, so the ranking is visible in the angles.
    fn at(degrees: f64) -> [f32; 2] {
        let r = degrees.to_radians();
        [r.cos() as f32, r.sin() as f32]
    }

    fn matrix(rows: &[[f32; 2]]) -> Tensor {
        let flat: Vec<f32> = rows.iter().flatten().copied().collect();
        Tensor::from_slice(&flat).view([rows.len() as i64, 2])
    }

    /// One query "q" at 0°, its positive "p" at `positive_deg`, and documents d<k> at the
    /// given angles; returns the negatives (texts) picked for the query.
    fn mine_one(positive_deg: f64, docs: &[f64], params: &MineParams) -> (Vec<String>, Selection) {
        let names: Vec<String> = (0..docs.len()).map(|i| format!("d{i}")).collect();
        let texts = MiningTexts::new(
            TextColumn::new("q", &["q".to_string()]),
            TextColumn::new("p", &["p".to_string()]),
            Some(&names),
        )
        .unwrap();
        let mut corpus: Vec<[f32; 2]> = docs.iter().map(|&d| at(d)).collect();
        corpus.push(at(positive_deg));
        let q = matrix(&[at(0.0)]);
        let c = matrix(&corpus);
        let resolved = params.validate(texts.max_positives()).unwrap();
        let cands = top_candidates(&q, &c, resolved.candidate_count, 1 << 20, false).unwrap();
        let pos = [at(0.0)[0] * at(positive_deg)[0] + at(0.0)[1] * at(positive_deg)[1]];
        let sel = select(&texts, cands, &pos, params, &resolved);
        let picked = sel
            .row(0)
            .filter(|(_, s)| s.is_finite())
            .map(|(i, _)| texts.corpus()[i as usize].clone())
            .collect();
        (picked, sel)
    }

    fn params(f: impl FnOnce(&mut MineParams)) -> MineParams {
        let mut p = MineParams {
            range_max: Some(6),
            num_negatives: 3,
            ..MineParams::default()
        };
        f(&mut p);
        p
    }

    // documents at 5°, 10°, 20°, 40°, 60°, 80° from the query; the positive at 30°
    const DOCS: [f64; 6] = [5.0, 10.0, 20.0, 40.0, 60.0, 80.0];

    #[test]
    fn top_takes_the_closest_and_skips_the_positive() {
        let (got, sel) = mine_one(30.0, &DOCS, &params(|_| {}));
        assert_eq!(got, ["d0", "d1", "d2"]);
        assert!(sel.skipped.is_empty());
        // the positive (30°) would rank 4th: it is masked, d3 comes next
        let (got, _) = mine_one(30.0, &DOCS, &params(|p| p.range_min = 2));
        assert_eq!(got, ["d2", "d3", "d4"]);
    }

    #[test]
    fn absolute_margin_skips_near_the_positive() {
        // cos 30° = 0.866; margin 0.05 skips scores above 0.816: 5°, 10°, 20° (cos 20° = 0.940)
        let (got, sel) = mine_one(30.0, &DOCS, &params(|p| p.absolute_margin = Some(0.05)));
        assert_eq!(got, ["d3", "d4", "d5"]);
        assert_eq!(sel.skipped.len(), 1);
        assert_eq!(sel.skipped[0].filter, Filter::AbsoluteMargin);
        assert_eq!(sel.skipped[0].skipped, 3);
        // 1 query x (6 + 1 + 1) candidate slots
        assert!((sel.skipped[0].ratio - 3.0 / 8.0).abs() < 1e-12);
    }

    #[test]
    fn relative_margin_skips_near_the_positive() {
        // threshold 0.866 - 0.866 * 0.1 = 0.779 (~38.8°): skips 5°, 10°, 20°, keeps 40°
        let (got, _) = mine_one(30.0, &DOCS, &params(|p| p.relative_margin = Some(0.1)));
        assert_eq!(got, ["d3", "d4", "d5"]);
    }

    #[test]
    fn relative_margin_is_sign_safe() {
        // positive at 120°: score -0.5; threshold -0.5 - 0.5 * 0.2 = -0.6 (lower than the
        // positive). p * (1 - m) would give -0.4 and keep the 115° document (score -0.42).
        let docs = [115.0, 125.0, 130.0, 140.0, 150.0];
        let (got, sel) = mine_one(
            120.0,
            &docs,
            &params(|p| {
                p.relative_margin = Some(0.2);
                p.range_max = Some(5);
            }),
        );
        // cos 125° = -0.574 and cos 130° = -0.643: only 130° and beyond stay
        assert_eq!(got, ["d2", "d3", "d4"]);
        assert_eq!(sel.skipped[0].skipped, 2);
    }

    #[test]
    fn max_and_min_score_bound_the_scores() {
        // max 0.95 skips 5° (0.996) and 10° (0.985); min 0.4 skips 80° (0.17) but counts no
        // -inf slot
        let (got, sel) = mine_one(
            30.0,
            &DOCS,
            &params(|p| {
                p.max_score = Some(0.95);
                p.min_score = Some(0.4);
                p.num_negatives = 4;
            }),
        );
        assert_eq!(got, ["d2", "d3", "d4"]);
        let counts: Vec<(Filter, usize)> =
            sel.skipped.iter().map(|s| (s.filter, s.skipped)).collect();
        assert_eq!(counts, [(Filter::MaxScore, 2), (Filter::MinScore, 1)]);
        // max_score does not lower the count min_score's ratio is taken of
        assert!((sel.skipped[1].ratio - 1.0 / 8.0).abs() < 1e-12);
    }

    #[test]
    fn margins_lower_the_count_of_later_filters() {
        let (_, sel) = mine_one(
            30.0,
            &DOCS,
            &params(|p| {
                p.absolute_margin = Some(0.05);
                p.min_score = Some(0.4);
            }),
        );
        assert_eq!(sel.skipped[0].skipped, 3);
        assert!((sel.skipped[1].ratio - 1.0 / 5.0).abs() < 1e-12);
    }

    #[test]
    fn the_query_s_own_entry_is_masked() {
        let texts = MiningTexts::new(
            TextColumn::new("a", &["q", "x"]),
            TextColumn::new("b", &["p", "y"]),
            Some(&["q", "d"]),
        )
        .unwrap();
        // corpus: q, d, p, y; the query "q" finds itself first
        let q = matrix(&[at(0.0), at(90.0)]);
        let c = matrix(&[at(0.0), at(10.0), at(50.0), at(90.0)]);
        let p = MineParams {
            num_negatives: 1,
            range_max: Some(2),
            ..MineParams::default()
        };
        let resolved = p.validate(texts.max_positives()).unwrap();
        let cands = top_candidates(&q, &c, resolved.candidate_count, 100, false).unwrap();
        let sel = select(&texts, cands, &[0.64, 1.0], &p, &resolved);
        let first: Vec<i64> = sel.row(0).map(|(i, _)| i).collect();
        assert_eq!(first, [1]);
    }

    #[test]
    fn random_never_picks_minus_inf_with_enough_options_and_is_seeded() {
        let docs: Vec<f64> = (1..=20).map(|d| d as f64 * 4.0).collect();
        let draw = |seed| {
            mine_one(
                45.0,
                &docs,
                &params(|p| {
                    p.sampling = Sampling::Random;
                    p.range_max = Some(12);
                    p.num_negatives = 4;
                    p.max_score = Some(0.9);
                    p.seed = seed;
                }),
            )
        };
        let mut distinct = std::collections::HashSet::new();
        for seed in 0..40 {
            let (got, sel) = draw(seed);
            assert_eq!(got.len(), 4, "seed {seed}");
            let scores: Vec<f32> = sel.row(0).map(|(_, s)| s).collect();
            assert!(scores.windows(2).all(|w| w[0] >= w[1]), "{scores:?}");
            assert!(scores.iter().all(|s| *s <= 0.9));
            assert_eq!(draw(seed).0, got, "seed {seed} is not reproducible");
            distinct.insert(got);
        }
        assert!(
            distinct.len() > 10,
            "random sampling barely varies: {distinct:?}"
        );
    }

    #[test]
    fn random_with_too_few_options_keeps_only_valid_ones() {
        // max_score 0.55 leaves 60° and 80° only: three draws from three slots, one -inf
        let (got, _) = mine_one(
            30.0,
            &DOCS,
            &params(|p| {
                p.sampling = Sampling::Random;
                p.max_score = Some(0.55);
            }),
        );
        assert_eq!(got, ["d4", "d5"]);
    }
}
