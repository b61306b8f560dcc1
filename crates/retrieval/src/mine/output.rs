//! The mined dataset in sentence-transformers' four output formats, and the negative and
//! difference scores each format reports in its statistics.

use super::params::{OutputFormat, ResolvedParams};
use super::select::Selection;
use super::texts::MiningTexts;
use crate::error::{Error, Result};

/// The values of one column (scores are the float32 similarities): the table column
/// `data::write_table` writes.
pub use data::TableColumn as ColumnValues;

/// A named column.
#[derive(Debug, Clone, PartialEq)]
pub struct Column {
    pub name: String,
    pub values: ColumnValues,
}

/// A mined dataset: named columns of equal length, in sentence-transformers' column order.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct MinedDataset {
    columns: Vec<Column>,
}

impl MinedDataset {
    pub fn columns(&self) -> &[Column] {
        &self.columns
    }

    pub fn column_names(&self) -> Vec<&str> {
        self.columns.iter().map(|c| c.name.as_str()).collect()
    }

    /// The values of the column called `name`.
    pub fn column(&self, name: &str) -> Option<&ColumnValues> {
        self.columns
            .iter()
            .find(|c| c.name == name)
            .map(|c| &c.values)
    }

    pub fn num_rows(&self) -> usize {
        self.columns.first().map_or(0, |c| c.values.len())
    }
}

/// The scores a format's statistics are taken of, as sentence-transformers computes them
/// after building that format.
#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct FormatScores {
    /// The negatives' scores, repeated for each positive of their query.
    pub negative: Vec<f32>,
    /// Positive score minus negative score, per (positive, negative) pair.
    pub difference: Vec<f32>,
    /// The rows the format would have if every query had all its negatives.
    pub maximum_possible_samples: usize,
}

impl FormatScores {
    /// One (positive, negative) pair of the statistics.
    fn record(&mut self, positive: f32, negative: f32) {
        self.negative.push(negative);
        self.difference.push(positive - negative);
    }
}

/// The output's column names, in order.
pub fn output_column_names(
    anchor: &str,
    positive: &str,
    format: OutputFormat,
    output_scores: bool,
    num_negatives: usize,
) -> Vec<String> {
    let mut names = vec![anchor.to_string(), positive.to_string()];
    match format {
        OutputFormat::Triplet => {
            names.push("negative".into());
            if output_scores {
                names.push("scores".into());
            }
        }
        OutputFormat::NTuple => {
            names.extend((1..=num_negatives).map(|i| format!("negative_{i}")));
            if output_scores {
                names.push("scores".into());
            }
        }
        OutputFormat::LabeledPair => {
            names.push(if output_scores { "score" } else { "label" }.into());
        }
        OutputFormat::LabeledList => {
            names.push(if output_scores { "scores" } else { "labels" }.into());
        }
    }
    names
}

/// Errors when the anchor or positive column name is one the format adds (`negative`,
/// `scores`, …): the output would have two columns of that name.
pub(crate) fn check_column_names(
    texts: &MiningTexts,
    resolved: &ResolvedParams,
    output_scores: bool,
) -> Result<()> {
    let names = output_column_names(
        texts.anchor_column(),
        texts.positive_column(),
        resolved.output_format,
        output_scores,
        resolved.num_negatives,
    );
    for (i, name) in names.iter().enumerate() {
        if names[..i].contains(name) {
            return Err(Error::ColumnName {
                name: name.clone(),
                reason: "would name two columns of the output; rename the input column",
            });
        }
    }
    Ok(())
}

/// One (query, positive) row of the deduplicated pairs: the rows triplets, n-tuples and
/// labeled lists are built from.
struct PairRow<'t> {
    query: usize,
    query_text: &'t str,
    positive_text: &'t str,
    positive_score: f32,
}

fn pair_rows<'t>(
    texts: &'t MiningTexts,
    positive_scores: &'t [f32],
) -> impl Iterator<Item = PairRow<'t>> + 't {
    (0..texts.queries().len())
        .flat_map(move |q| texts.positives_of(q).iter().map(move |&c| (q, c)))
        .zip(positive_scores.iter().copied())
        .map(|((query, corpus), positive_score)| PairRow {
            query,
            query_text: &texts.queries()[query],
            positive_text: &texts.corpus()[corpus],
            positive_score,
        })
}

/// The selection's valid (non-`-inf`) negatives of `query`: corpus index and score.
fn found(selection: &Selection, query: usize) -> impl Iterator<Item = (usize, f32)> + '_ {
    selection
        .row(query)
        .filter(|(_, s)| *s != f32::NEG_INFINITY)
        .filter_map(|(i, s)| Some((usize::try_from(i).ok()?, s)))
}

/// Builds the dataset of `resolved.output_format`.
pub(crate) fn build(
    texts: &MiningTexts,
    selection: &Selection,
    positive_scores: &[f32],
    resolved: &ResolvedParams,
    output_scores: bool,
) -> Result<(MinedDataset, FormatScores)> {
    check_column_names(texts, resolved, output_scores)?;
    let names = output_column_names(
        texts.anchor_column(),
        texts.positive_column(),
        resolved.output_format,
        output_scores,
        resolved.num_negatives,
    );
    let (values, scores) = match resolved.output_format {
        OutputFormat::Triplet => triplet(texts, selection, positive_scores, output_scores),
        OutputFormat::NTuple => n_tuple(texts, selection, positive_scores, output_scores),
        OutputFormat::LabeledPair => labeled_pair(texts, selection, positive_scores, output_scores),
        OutputFormat::LabeledList => labeled_list(texts, selection, positive_scores, output_scores),
    };
    let columns = names
        .into_iter()
        .zip(values)
        .map(|(name, values)| Column { name, values })
        .collect();
    Ok((MinedDataset { columns }, scores))
}

/// (anchor, positive, negative[, scores]): one row per negative found, for each positive.
fn triplet(
    texts: &MiningTexts,
    selection: &Selection,
    positive_scores: &[f32],
    output_scores: bool,
) -> (Vec<ColumnValues>, FormatScores) {
    let (mut anchors, mut positives, mut negatives, mut scores) = (vec![], vec![], vec![], vec![]);
    let mut out = FormatScores::default();
    for row in pair_rows(texts, positive_scores) {
        for (corpus, score) in found(selection, row.query) {
            anchors.push(row.query_text.to_string());
            positives.push(row.positive_text.to_string());
            negatives.push(texts.corpus()[corpus].clone());
            scores.push(vec![row.positive_score, score]);
            out.record(row.positive_score, score);
        }
        out.maximum_possible_samples += selection.width;
    }
    let mut columns = vec![
        ColumnValues::Text(anchors),
        ColumnValues::Text(positives),
        ColumnValues::Text(negatives),
    ];
    if output_scores {
        columns.push(ColumnValues::FloatList(scores));
    }
    (columns, out)
}

/// (anchor, positive, negative_1, …, negative_n[, scores]): only rows with all n negatives.
fn n_tuple(
    texts: &MiningTexts,
    selection: &Selection,
    positive_scores: &[f32],
    output_scores: bool,
) -> (Vec<ColumnValues>, FormatScores) {
    let n = selection.width;
    let (mut anchors, mut positives, mut scores) = (vec![], vec![], vec![]);
    let mut negatives: Vec<Vec<String>> = vec![Vec::new(); n];
    let mut out = FormatScores::default();
    for row in pair_rows(texts, positive_scores) {
        out.maximum_possible_samples += 1;
        let negs: Vec<(usize, f32)> = found(selection, row.query).collect();
        if negs.len() < n {
            continue;
        }
        anchors.push(row.query_text.to_string());
        positives.push(row.positive_text.to_string());
        let mut row_scores = vec![row.positive_score];
        for (column, &(corpus, score)) in negatives.iter_mut().zip(&negs) {
            column.push(texts.corpus()[corpus].clone());
            row_scores.push(score);
            out.record(row.positive_score, score);
        }
        scores.push(row_scores);
    }
    let mut columns = vec![ColumnValues::Text(anchors), ColumnValues::Text(positives)];
    columns.extend(negatives.into_iter().map(ColumnValues::Text));
    if output_scores {
        columns.push(ColumnValues::FloatList(scores));
    }
    (columns, out)
}

/// (anchor, text, label | score): per query, its positives (1) then its negatives (0).
fn labeled_pair(
    texts: &MiningTexts,
    selection: &Selection,
    positive_scores: &[f32],
    output_scores: bool,
) -> (Vec<ColumnValues>, FormatScores) {
    let (mut anchors, mut documents, mut labels, mut scores) = (vec![], vec![], vec![], vec![]);
    let mut next_positive = positive_scores.iter().copied();
    for (query, query_text) in texts.queries().iter().enumerate() {
        for &corpus in texts.positives_of(query) {
            anchors.push(query_text.clone());
            documents.push(texts.corpus()[corpus].clone());
            labels.push(1);
            scores.push(next_positive.next().unwrap_or(f32::NAN));
        }
        for (corpus, score) in found(selection, query) {
            anchors.push(query_text.clone());
            documents.push(texts.corpus()[corpus].clone());
            labels.push(0);
            scores.push(score);
        }
    }
    // The statistics still pair every negative with every positive of its query.
    let mut out = FormatScores::default();
    for row in pair_rows(texts, positive_scores) {
        for (_, score) in found(selection, row.query) {
            out.record(row.positive_score, score);
        }
    }
    out.maximum_possible_samples = texts.queries().len() * selection.width + texts.num_rows();
    let last = if output_scores {
        ColumnValues::Float(scores)
    } else {
        ColumnValues::Int(labels)
    };
    (
        vec![
            ColumnValues::Text(anchors),
            ColumnValues::Text(documents),
            last,
        ],
        out,
    )
}

/// (anchor, [positive, negatives…], [1, 0, …] | [scores…]): rows with at least one negative.
fn labeled_list(
    texts: &MiningTexts,
    selection: &Selection,
    positive_scores: &[f32],
    output_scores: bool,
) -> (Vec<ColumnValues>, FormatScores) {
    let (mut anchors, mut documents, mut labels, mut scores) = (vec![], vec![], vec![], vec![]);
    let mut out = FormatScores::default();
    for row in pair_rows(texts, positive_scores) {
        out.maximum_possible_samples += 1;
        let negs: Vec<(usize, f32)> = found(selection, row.query).collect();
        for &(_, score) in &negs {
            out.record(row.positive_score, score);
        }
        if negs.is_empty() {
            continue;
        }
        anchors.push(row.query_text.to_string());
        let mut docs = vec![row.positive_text.to_string()];
        docs.extend(negs.iter().map(|&(c, _)| texts.corpus()[c].clone()));
        documents.push(docs);
        let mut row_labels = vec![1];
        row_labels.extend(std::iter::repeat_n(0, negs.len()));
        labels.push(row_labels);
        let mut row_scores = vec![row.positive_score];
        row_scores.extend(negs.iter().map(|&(_, s)| s));
        scores.push(row_scores);
    }
    let last = if output_scores {
        ColumnValues::FloatList(scores)
    } else {
        ColumnValues::IntList(labels)
    };
    (
        vec![
            ColumnValues::Text(anchors),
            ColumnValues::TextList(documents),
            last,
        ],
        out,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mine::params::MineParams;
    use crate::mine::texts::TextColumn;

    /// Queries a (positives p1, p2) and b (positive p3); corpus d0, d1, p1, p2, p3.
    /// a found d0 (0.5) and d1 (0.25); b found only d1 (0.4).
    fn case() -> (MiningTexts, Selection, Vec<f32>) {
        let texts = MiningTexts::new(
            TextColumn::new("q", &["a", "a", "b"]),
            TextColumn::new("pos", &["p1", "p2", "p3"]),
            Some(&["d0", "d1"]),
        )
        .unwrap();
        let selection = Selection {
            scores: vec![0.5, 0.25, 0.4, f32::NEG_INFINITY],
            indices: vec![0, 1, 1, 4],
            width: 2,
            skipped: vec![],
        };
        (texts, selection, vec![0.9, 0.8, 0.7])
    }

    fn run(format: OutputFormat, output_scores: bool) -> (MinedDataset, FormatScores) {
        let (texts, selection, pos) = case();
        let resolved = MineParams {
            num_negatives: 2,
            output_format: format,
            ..MineParams::default()
        }
        .validate(texts.max_positives())
        .unwrap();
        build(&texts, &selection, &pos, &resolved, output_scores).unwrap()
    }

    fn text(d: &MinedDataset, name: &str) -> Vec<String> {
        match d.column(name) {
            Some(ColumnValues::Text(v)) => v.clone(),
            other => panic!("{name}: {other:?}"),
        }
    }

    #[test]
    fn triplet_explodes_positives_and_negatives() {
        let (d, s) = run(OutputFormat::Triplet, true);
        assert_eq!(d.column_names(), ["q", "pos", "negative", "scores"]);
        assert_eq!(text(&d, "q"), ["a", "a", "a", "a", "b"]);
        assert_eq!(text(&d, "pos"), ["p1", "p1", "p2", "p2", "p3"]);
        assert_eq!(text(&d, "negative"), ["d0", "d1", "d0", "d1", "d1"]);
        assert_eq!(
            d.column("scores"),
            Some(&ColumnValues::FloatList(vec![
                vec![0.9, 0.5],
                vec![0.9, 0.25],
                vec![0.8, 0.5],
                vec![0.8, 0.25],
                vec![0.7, 0.4]
            ]))
        );
        assert_eq!(s.negative, [0.5, 0.25, 0.5, 0.25, 0.4]);
        assert_eq!(s.difference[0], 0.9f32 - 0.5);
        assert_eq!(s.maximum_possible_samples, 6);
        let (d, _) = run(OutputFormat::Triplet, false);
        assert_eq!(d.column_names(), ["q", "pos", "negative"]);
    }

    #[test]
    fn n_tuple_keeps_only_complete_rows() {
        let (d, s) = run(OutputFormat::NTuple, true);
        assert_eq!(
            d.column_names(),
            ["q", "pos", "negative_1", "negative_2", "scores"]
        );
        assert_eq!(text(&d, "q"), ["a", "a"]);
        assert_eq!(text(&d, "negative_1"), ["d0", "d0"]);
        assert_eq!(text(&d, "negative_2"), ["d1", "d1"]);
        assert_eq!(
            d.column("scores"),
            Some(&ColumnValues::FloatList(vec![
                vec![0.9, 0.5, 0.25],
                vec![0.8, 0.5, 0.25]
            ]))
        );
        assert_eq!(s.negative, [0.5, 0.25, 0.5, 0.25]);
        assert_eq!(s.maximum_possible_samples, 3);
    }

    #[test]
    fn labeled_pair_lists_positives_then_negatives_per_query() {
        let (d, s) = run(OutputFormat::LabeledPair, false);
        assert_eq!(d.column_names(), ["q", "pos", "label"]);
        assert_eq!(text(&d, "q"), ["a", "a", "a", "a", "b", "b"]);
        assert_eq!(text(&d, "pos"), ["p1", "p2", "d0", "d1", "p3", "d1"]);
        assert_eq!(
            d.column("label"),
            Some(&ColumnValues::Int(vec![1, 1, 0, 0, 1, 0]))
        );
        // negatives repeated per positive for the statistics
        assert_eq!(s.negative, [0.5, 0.25, 0.5, 0.25, 0.4]);
        // 2 queries x 2 negatives + 3 input rows
        assert_eq!(s.maximum_possible_samples, 7);
        let (d, _) = run(OutputFormat::LabeledPair, true);
        assert_eq!(
            d.column("score"),
            Some(&ColumnValues::Float(vec![0.9, 0.8, 0.5, 0.25, 0.7, 0.4]))
        );
    }

    #[test]
    fn labeled_list_puts_the_positive_first() {
        let (d, s) = run(OutputFormat::LabeledList, false);
        assert_eq!(d.column_names(), ["q", "pos", "labels"]);
        assert_eq!(
            d.column("pos"),
            Some(&ColumnValues::TextList(vec![
                vec!["p1".into(), "d0".into(), "d1".into()],
                vec!["p2".into(), "d0".into(), "d1".into()],
                vec!["p3".into(), "d1".into()],
            ]))
        );
        assert_eq!(
            d.column("labels"),
            Some(&ColumnValues::IntList(vec![
                vec![1, 0, 0],
                vec![1, 0, 0],
                vec![1, 0]
            ]))
        );
        assert_eq!(s.maximum_possible_samples, 3);
        let (d, _) = run(OutputFormat::LabeledList, true);
        assert_eq!(
            d.column("scores"),
            Some(&ColumnValues::FloatList(vec![
                vec![0.9, 0.5, 0.25],
                vec![0.8, 0.5, 0.25],
                vec![0.7, 0.4]
            ]))
        );
    }

    #[test]
    fn a_colliding_column_name_is_named() {
        let texts = MiningTexts::new(
            TextColumn::new("q", &["a"]),
            TextColumn::new("negative", &["p"]),
            None,
        )
        .unwrap();
        let resolved = MineParams::default().validate(1).unwrap();
        let e = check_column_names(&texts, &resolved, false)
            .unwrap_err()
            .to_string();
        assert!(e.contains("\"negative\""), "{e}");
    }
}
