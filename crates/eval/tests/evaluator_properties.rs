//! Invariants of the retrieval, pair classification, triplet and paraphrase mining evaluators.

use eval::{
    paraphrase_mining, BinaryClassificationConfig, BinaryClassificationEvaluator, Embeddings,
    InformationRetrievalConfig, InformationRetrievalEvaluator, MetricValues, MiningConfig,
    NamedMetrics, ParaphraseMiningEvaluator, SimilarityFunction, TripletConfig, TripletEvaluator,
};
use proptest::prelude::*;

const DIM: usize = 4;

fn emb(data: &[f32]) -> Embeddings<'_> {
    Embeddings::new(data, data.len() / DIM, DIM).unwrap()
}

/// `rows` random `DIM`-dimensional rows.
fn rows(rows: std::ops::Range<usize>) -> impl Strategy<Value = Vec<f32>> {
    rows.prop_flat_map(|n| prop::collection::vec(-1.0f32..1.0, n * DIM))
}

/// A permutation of `0..n` from a seed (Fisher–Yates with a small LCG).
fn permutation(n: usize, seed: u64) -> Vec<usize> {
    let mut order: Vec<usize> = (0..n).collect();
    let mut state = seed;
    for i in (1..n).rev() {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        order.swap(i, (state >> 33) as usize % (i + 1));
    }
    order
}

/// Rows of `data` in the order `order` (new row `r` is old row `order[r]`).
fn permute_rows(data: &[f32], order: &[usize]) -> Vec<f32> {
    order
        .iter()
        .flat_map(|&r| data[r * DIM..(r + 1) * DIM].iter().copied())
        .collect()
}

fn all_in_unit_interval(values: &MetricValues) -> Result<(), TestCaseError> {
    for (name, value) in values.iter() {
        prop_assert!((0.0..=1.0).contains(&value), "{} = {}", name, value);
    }
    Ok(())
}

/// Queries, a corpus and relevant corpus rows per query (some queries without any).
fn retrieval_case() -> impl Strategy<Value = (Vec<f32>, Vec<f32>, Vec<Vec<usize>>)> {
    (1usize..8, 1usize..30).prop_flat_map(|(q, c)| {
        (
            prop::collection::vec(-1.0f32..1.0, q * DIM),
            prop::collection::vec(-1.0f32..1.0, c * DIM),
            prop::collection::vec(prop::collection::vec(0..c, 0..5), q),
        )
            .prop_filter("a query needs a relevant doc", |(_, _, rel)| {
                rel.iter().any(|r| !r.is_empty())
            })
    })
}

fn retrieval_config(chunk: usize) -> InformationRetrievalConfig {
    InformationRetrievalConfig {
        corpus_chunk_size: chunk,
        accuracy_at_k: vec![1, 2, 5],
        precision_recall_at_k: vec![1, 3, 40],
        ndcg_at_k: vec![3, 10],
        map_at_k: vec![4, 100],
        score_functions: SimilarityFunction::ALL.to_vec(),
        ..Default::default()
    }
}

fn retrieve(q: &[f32], c: &[f32], rel: &[Vec<usize>], chunk: usize) -> MetricValues {
    InformationRetrievalEvaluator::new(rel, c.len() / DIM, retrieval_config(chunk))
        .unwrap()
        .evaluate(emb(q), emb(c))
        .unwrap()
        .metric_values()
}

/// Labels with both classes or one, and pairs of embeddings.
fn pair_case() -> impl Strategy<Value = (Vec<f32>, Vec<f32>, Vec<i64>)> {
    (1usize..40).prop_flat_map(|n| {
        (
            prop::collection::vec(-1.0f32..1.0, n * DIM),
            // a few distinct values, so that scores tie
            prop::collection::vec(prop::sample::select(vec![-0.5f32, 0.0, 0.5, 1.0]), n * DIM),
            prop::collection::vec(0i64..2, n),
        )
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn retrieval_metrics_lie_in_unit_interval((q, c, rel) in retrieval_case()) {
        all_in_unit_interval(&retrieve(&q, &c, &rel, 50_000))?;
    }

    #[test]
    fn retrieval_does_not_depend_on_chunk_size((q, c, rel) in retrieval_case(), chunk in 1usize..8) {
        prop_assert_eq!(retrieve(&q, &c, &rel, 50_000), retrieve(&q, &c, &rel, chunk));
    }

    #[test]
    fn retrieval_is_unchanged_by_permuting_the_corpus(
        (q, c, rel) in retrieval_case(),
        seed in any::<u64>(),
    ) {
        // Ties are broken by corpus row, so this holds when no two documents tie: random
        // continuous rows (distinct with probability 1).
        let n = c.len() / DIM;
        let order = permutation(n, seed);
        let mut new_row = vec![0; n];
        for (new, &old) in order.iter().enumerate() {
            new_row[old] = new;
        }
        let permuted = permute_rows(&c, &order);
        let remapped: Vec<Vec<usize>> = rel
            .iter()
            .map(|docs| docs.iter().map(|&d| new_row[d]).collect())
            .collect();
        let (a, b) = (retrieve(&q, &c, &rel, 7), retrieve(&q, &permuted, &remapped, 7));
        for ((name, x), (_, y)) in a.iter().zip(b.iter()) {
            prop_assert!((x - y).abs() < 1e-12, "{}: {} != {}", name, x, y);
        }
    }

    #[test]
    fn recall_and_accuracy_grow_with_k((q, c, rel) in retrieval_case()) {
        let m = retrieve(&q, &c, &rel, 50_000);
        for f in SimilarityFunction::ALL {
            let at = |metric: &str, k: usize| m.get(&format!("{f}_{metric}@{k}")).unwrap();
            prop_assert!(at("accuracy", 1) <= at("accuracy", 2));
            prop_assert!(at("accuracy", 2) <= at("accuracy", 5));
            prop_assert!(at("recall", 1) <= at("recall", 3));
            prop_assert!(at("recall", 3) <= at("recall", 40));
            // a corpus smaller than 40 documents is fully retrieved
            if c.len() / DIM <= 40 {
                prop_assert_eq!(at("recall", 40), 1.0);
            }
        }
    }

    #[test]
    fn pair_metrics_are_bounded_and_thresholds_reproduce_them((e1, e2, labels) in pair_case()) {
        let config = BinaryClassificationConfig { similarity_fn_names: SimilarityFunction::ALL.to_vec() };
        let m = BinaryClassificationEvaluator::new(&labels, config)
            .unwrap()
            .evaluate(emb(&e1), emb(&e2))
            .unwrap();
        let n = labels.len() as f64;
        let positives = labels.iter().filter(|&&l| l == 1).count();
        for s in &m.scores {
            for v in [s.accuracy, s.f1, s.precision, s.recall, s.ap] {
                prop_assert!((0.0..=1.0).contains(&v), "{:?}", s);
            }
            prop_assert!((-1.0..=1.0).contains(&s.mcc), "{:?}", s);
            // predicting all dissimilar, or all similar, is among the thresholds tried
            prop_assert!(s.accuracy >= (labels.len() - positives) as f64 / n);
            prop_assert!(s.accuracy >= positives as f64 / n);

            let similarities = s.function.paired(emb(&e1), emb(&e2)).unwrap();
            let predict = |threshold: f64| -> Vec<bool> {
                similarities
                    .iter()
                    .map(|&sim| match s.function {
                        SimilarityFunction::Cosine | SimilarityFunction::Dot => sim >= threshold,
                        _ => -sim <= threshold,
                    })
                    .collect()
            };
            let correct = predict(s.accuracy_threshold)
                .iter()
                .zip(&labels)
                .filter(|&(&p, &l)| p == (l == 1))
                .count();
            prop_assert_eq!(correct as f64 / n, s.accuracy, "{:?}", s);
            if positives > 0 {
                let predicted = predict(s.f1_threshold);
                let tp = predicted.iter().zip(&labels).filter(|&(&p, &l)| p && l == 1).count();
                let extracted = predicted.iter().filter(|&&p| p).count();
                prop_assert_eq!(tp as f64 / extracted as f64, s.precision, "{:?}", s);
                prop_assert_eq!(tp as f64 / positives as f64, s.recall, "{:?}", s);
            }
        }
    }

    #[test]
    fn pair_metrics_ignore_the_order_of_pairs((e1, e2, labels) in pair_case(), seed in any::<u64>()) {
        let order = permutation(labels.len(), seed);
        let (p1, p2) = (permute_rows(&e1, &order), permute_rows(&e2, &order));
        let pl: Vec<i64> = order.iter().map(|&i| labels[i]).collect();
        let config = BinaryClassificationConfig { similarity_fn_names: SimilarityFunction::ALL.to_vec() };
        let evaluate = |a: &[f32], b: &[f32], l: &[i64]| {
            BinaryClassificationEvaluator::new(l, config.clone())
                .unwrap()
                .evaluate(emb(a), emb(b))
                .unwrap()
                .metric_values()
        };
        prop_assert_eq!(evaluate(&e1, &e2, &labels), evaluate(&p1, &p2, &pl));
    }

    #[test]
    fn triplet_accuracy_is_bounded_and_swapping_sides_complements(
        (a, p, n) in (1usize..30).prop_flat_map(|n| {
            let side = || prop::collection::vec(-1.0f32..1.0, n * DIM);
            (side(), side(), side())
        }),
    ) {
        let config = TripletConfig { similarity_fn_names: SimilarityFunction::ALL.to_vec(), ..Default::default() };
        let evaluator = TripletEvaluator::new(config).unwrap();
        let forward = evaluator.evaluate(emb(&a), emb(&p), emb(&n)).unwrap();
        let backward = evaluator.evaluate(emb(&a), emb(&n), emb(&p)).unwrap();
        all_in_unit_interval(&forward.metric_values())?;
        for (&(f, x), &(_, y)) in forward.accuracies.iter().zip(&backward.accuracies) {
            prop_assert!(x + y <= 1.0 + 1e-12, "{}: {} + {}", f, x, y);
        }
    }

    #[test]
    fn mining_does_not_depend_on_chunk_sizes(
        data in rows(1..30),
        query_chunk in 1usize..9,
        corpus_chunk in 1usize..9,
        top_k in 1usize..6,
        max_pairs in 1usize..40,
    ) {
        let reference = MiningConfig { top_k, max_pairs, ..Default::default() };
        let chunked = MiningConfig { query_chunk_size: query_chunk, corpus_chunk_size: corpus_chunk, ..reference };
        let pairs = paraphrase_mining(emb(&data), &reference).unwrap();
        prop_assert_eq!(&pairs, &paraphrase_mining(emb(&data), &chunked).unwrap());
        prop_assert!(pairs.len() <= max_pairs);
        prop_assert!(pairs.windows(2).all(|w| w[0].score >= w[1].score));
        prop_assert!(pairs.iter().all(|p| p.first < p.second));
    }

    #[test]
    fn unbounded_mining_finds_every_pair_once(data in rows(1..25)) {
        let n = data.len() / DIM;
        let config = MiningConfig { top_k: n, max_pairs: n * n, ..Default::default() };
        let pairs = paraphrase_mining(emb(&data), &config).unwrap();
        prop_assert_eq!(pairs.len(), n * (n - 1) / 2);
        let mut seen: Vec<(usize, usize)> = pairs.iter().map(|p| (p.first, p.second)).collect();
        seen.sort_unstable();
        seen.dedup();
        prop_assert_eq!(seen.len(), pairs.len());
    }

    #[test]
    fn mining_metrics_lie_in_unit_interval(
        data in rows(2..25),
        duplicates in prop::collection::vec((0usize..25, 0usize..25), 0..10),
        closure in any::<bool>(),
    ) {
        let n = data.len() / DIM;
        let duplicates: Vec<(usize, usize)> = duplicates
            .into_iter()
            .map(|(a, b)| (a % n, b % n))
            .filter(|(a, b)| a != b)
            .collect();
        let config = eval::ParaphraseMiningConfig {
            add_transitive_closure: closure,
            mining: MiningConfig { top_k: 3, max_pairs: 20, ..Default::default() },
        };
        let m = ParaphraseMiningEvaluator::new(n, &duplicates, config)
            .unwrap()
            .evaluate(emb(&data))
            .unwrap();
        for v in [m.average_precision, m.f1, m.precision, m.recall] {
            prop_assert!((0.0..=1.0).contains(&v), "{:?}", m);
        }
        // a cosine similarity (up to rounding)
        prop_assert!(m.threshold.abs() <= 1.0 + 1e-12, "{:?}", m);
    }
}
